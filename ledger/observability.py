"""The process's own Prometheus metrics: key-store operations, erasures and API requests.

One module-level registry (:data:`PROCESS_REGISTRY`) that every long-running process (``consume``,
``project``, ``serve``) exposes beside its own metrics and the database-derived ones
(``ledger.collector.LedgerCollector``). It imports only ``prometheus_client``, so the store side can count
what it does without depending on the HTTP side. Labels are operation names, outcomes, route names and
status codes: never an id, a path or a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram

if TYPE_CHECKING:
    from ledger.store.messages import ErasureOutcome

__all__ = [
    "API_REQUESTS",
    "API_REQUEST_DURATION",
    "ERASURES",
    "KEYSTORE_OPERATIONS",
    "PROCESS_REGISTRY",
    "count_committed_keys",
    "count_erasures",
    "count_unwrapped_key",
    "observe_api_request",
]

PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)

KEYSTORE_OPERATIONS = Counter(
    "ledger_keystore_operations",
    "Data-key operations of this process: created and destroyed (counted when their transaction "
    "commits) and unwrapped (opened with the master key)",
    ["operation"],
    registry=PROCESS_REGISTRY,
)
ERASURES = Counter(
    "ledger_erasures",
    "Erasures (DataErased) this process executed: executed (every category's keys destroyed at once) "
    "or deferred (a legal hold blocks at least one category; the rest runs when the hold is released)",
    ["outcome"],
    registry=PROCESS_REGISTRY,
)
API_REQUESTS = Counter(
    "ledger_api_requests",
    "Requests the staff service answered, by route name (never the path) and HTTP status",
    ["route", "status"],
    registry=PROCESS_REGISTRY,
)
API_REQUEST_DURATION = Histogram(
    "ledger_api_request_duration_seconds",
    "Time to answer one staff-service request (its query included), by route name",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=PROCESS_REGISTRY,
)

for _operation in ("created", "unwrapped", "destroyed"):
    KEYSTORE_OPERATIONS.labels(operation=_operation)  # present at 0, so rates start from the first scrape
for _outcome in ("executed", "deferred"):
    ERASURES.labels(outcome=_outcome)


def count_unwrapped_key() -> None:
    """One data key opened with the master key (a cache miss of the key store)."""
    KEYSTORE_OPERATIONS.labels(operation="unwrapped").inc()


def count_committed_keys(created: int, destroyed: int) -> None:
    """Keys a committed transaction created and destroyed."""
    if created:
        KEYSTORE_OPERATIONS.labels(operation="created").inc(created)
    if destroyed:
        KEYSTORE_OPERATIONS.labels(operation="destroyed").inc(destroyed)


def count_erasures(outcomes: Iterable[ErasureOutcome]) -> None:
    """The erasures of a committed transaction, by outcome."""
    for outcome in outcomes:
        ERASURES.labels(outcome="deferred" if outcome.deferred else "executed").inc()


def observe_api_request(route: str, status: int, seconds: float) -> None:
    """One answered staff-service request (``route``: the route's name, ``-`` when none matched)."""
    API_REQUESTS.labels(route=route, status=str(status)).inc()
    API_REQUEST_DURATION.labels(route=route).observe(seconds)
