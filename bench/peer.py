"""The peer baseline of the append benches: ``eventsourcing``'s own batched save, measured in the same run.

The ledger is built on ``eventsourcing``; its append path adds validation, dedup, encryption, the chain,
the Merkle tree and the side indexes. The peer is the library alone doing what an application on it
does at its fastest: new aggregates, one event each, ``100`` aggregates per ``Application.save`` (one
transaction each), with each stored event's ``state`` as large as the ledger's average stored event,
on the same database (a fresh PostgreSQL schema, or a fresh SQLite file). No validation, encryption,
chain or index beyond the library's own. Creating the aggregates (the library's event objects) is
timed with the saves, as the ledger's time includes building its events.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

__all__ = ["PEER_BATCH", "peer_env_pg", "peer_env_sqlite", "peer_save"]

PEER_BATCH = 100  # aggregates per save (one transaction each)


class PeerRecord(Aggregate):
    """One aggregate with one event holding an opaque string of the wanted size."""

    @event("Created")
    def __init__(self, data: str) -> None:
        self.data = data


class PeerApplication(Application[Any]):
    """The peer's application (its own tables: ``peer_events`` on PostgreSQL)."""

    name = "Peer"


def peer_env_pg(base: str, schema: str) -> dict[str, str]:
    """eventsourcing's PostgreSQL environment for ``base`` (a postgresql:// URL) in ``schema``."""
    url = urlparse(base)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": (url.path or "/").lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or ""),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": parse_qs(url.query).get("schema", [schema])[0],
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "1",
    }


def peer_env_sqlite(path: Path) -> dict[str, str]:
    """eventsourcing's SQLite environment for a new database file at ``path``."""
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


def _payloads(app: PeerApplication, n: int, state_bytes: int) -> list[str]:
    """``n`` random strings sized so that each stored event's ``state`` is about ``state_bytes``."""
    probe = "x" * 100
    overhead = len(app.mapper.to_stored_event(PeerRecord(probe).collect_events()[0]).state) - len(probe)
    size = max(state_bytes - overhead, 1)
    return [secrets.token_urlsafe(size)[:size] for _ in range(n)]


def peer_save(env: dict[str, str], n: int, state_bytes: int) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) to create and save ``n`` aggregates, ``PEER_BATCH`` per
    ``save``; checks all were stored."""
    app = PeerApplication(env=env)
    try:
        payloads = _payloads(app, n, state_bytes)
        cpu = time.process_time()
        started = time.perf_counter()
        for i in range(0, n, PEER_BATCH):
            app.save(*[PeerRecord(p) for p in payloads[i : i + PEER_BATCH]])
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        stored = app.recorder.max_notification_id()
        if stored is None or stored < n:
            raise SystemExit(f"the peer stored {stored} of {n}: not a fair run")
        return elapsed, cpu
    finally:
        app.close()
