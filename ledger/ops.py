"""Operations endpoints of the long-running processes: ``/healthz``, ``/readyz`` and ``/metrics``.

``consume``, ``project`` and ``serve`` each run an :class:`OpsServer` on ``LEDGER_METRICS_HOST``:
``LEDGER_METRICS_PORT`` (loopback by default; off unless a port is given). ``/healthz`` says the process
is alive, ``/readyz`` runs the process's checks when asked (each with a short timeout; 503 and a
value-free reason when one fails) and ``/metrics`` is the Prometheus exposition of the process's own
metrics, :data:`~ledger.observability.PROCESS_REGISTRY` and the ledger-wide figures the
:class:`~ledger.collector.LedgerCollector` reads from the database at scrape time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.core import Metric

from ledger.collector import LedgerCollector, view_lags
from ledger.errors import LedgerError
from ledger.observability import PROCESS_REGISTRY

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger
    from ledger.store.database import LedgerStore

__all__ = [
    "Check",
    "OpsServer",
    "caught_up_check",
    "database_check",
    "exposition_registry",
    "readiness",
    "run_checks",
    "start_ops_server",
]

log = logging.getLogger(__name__)

# A readiness check: None when ready, else a short reason (codes and type names only, never a value).
Check = Callable[[], "str | None"]
CHECK_TIMEOUT_SECONDS = 3.0


def caught_up_check(ledger: Ledger, bound_seconds: float) -> Check:
    """A readiness check (``project``): no view has left an event unapplied longer than the bound."""

    def check() -> str | None:
        with ledger.store.read() as cur:
            lags = view_lags(cur, ledger.clock())
        behind = sorted(name for name, (_, age) in lags.items() if age > bound_seconds)
        if behind:
            return f"views behind by more than {bound_seconds:g} s: {', '.join(behind)}"
        return None

    return check


def database_check(store: LedgerStore) -> Check:
    """A readiness check: the database answers a read."""

    def check() -> str | None:
        try:
            with store.read() as cur:
                cur.execute("SELECT 1 AS one").scalar()
        except Exception as exc:
            return f"the database does not answer ({type(exc).__name__})"
        return None

    return check


class _Registries:
    """Several registries (and collectors) exposed as one, without checking names twice."""

    def __init__(self, parts: Iterable[Any]) -> None:
        self.parts = list(parts)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def exposition_registry(ledger: Ledger | None, *registries: CollectorRegistry) -> CollectorRegistry:
    """One registry for ``/metrics``: the process's own registries, the process-wide metrics
    (key store, erasures, API) and, with a ledger, its database-derived metrics."""
    # No ``*_created`` series beside every counter and histogram: nothing here reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    parts: list[Any] = [*registries, PROCESS_REGISTRY]
    if ledger is not None:
        parts.append(LedgerCollector(ledger))
    out = CollectorRegistry(auto_describe=False)
    out.register(_Registries(parts))
    return out


def run_checks(checks: Mapping[str, Check], timeout: float) -> dict[str, str]:
    """Each check's outcome (``ok`` or its reason), run at once, each bounded by ``timeout``."""
    if not checks:
        return {}
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        out: dict[str, str] = {}
        for name, future in futures.items():
            try:
                reason = future.result(timeout=timeout)
            except FutureTimeout:
                reason = f"no answer within {timeout:g} s"
            except Exception as exc:
                reason = f"check failed ({type(exc).__name__})"
            out[name] = reason or "ok"
        return out
    finally:
        pool.shutdown(wait=False)  # a check stuck past its timeout finishes (or not) on its own


def readiness(
    checks: Mapping[str, Check], timeout: float = CHECK_TIMEOUT_SECONDS
) -> tuple[int, dict[str, Any]]:
    """The ``/readyz`` answer: 200 when every check passes, else 503; the body names each outcome."""
    results = run_checks(checks, timeout)
    ready = all(r == "ok" for r in results.values())
    return (200 if ready else 503), {"status": "ready" if ready else "not ready", "checks": results}


class OpsServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` over HTTP, in a daemon thread of the process."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        checks: Mapping[str, Check],
        *,
        timeout: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.registry = registry
        self.checks = dict(checks)
        self.timeout = timeout
        try:
            self._server = ThreadingHTTPServer((host, port), self._handler())
        except OSError as exc:
            raise LedgerError(
                f"cannot serve /healthz, /readyz and /metrics on {host}:{port} "
                f"({exc.strerror or type(exc).__name__}); set LEDGER_METRICS_PORT to a free port"
            ) from None
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)

    def start(self) -> OpsServer:
        """Start answering; returns itself."""
        self._thread.start()
        log.info("ops endpoints on http://%s:%d (/healthz, /readyz, /metrics)", self.host, self.port)
        return self

    def close(self) -> None:
        """Stop answering and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of ``path``."""
        if path == "/healthz":
            return 200, "application/json", b'{"status": "alive"}\n'
        if path == "/readyz":
            status, body = readiness(self.checks, self.timeout)
            return status, "application/json", (json.dumps(body) + "\n").encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        return (
            404,
            "application/json",
            b'{"status": "not found", "paths": ["/healthz", "/readyz", "/metrics"]}\n',
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "privacy-ledger"
            sys_version = ""

            def do_GET(self) -> None:  # the name http.server calls
                status, kind, body = owner.answer(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log: the path is not worth a line per scrape

        return Handler


def start_ops_server(
    host: str, port: int, registry: CollectorRegistry, checks: Mapping[str, Check]
) -> OpsServer | None:
    """An :class:`OpsServer` answering on ``host:port``, or None when ``port`` is 0 (off)."""
    if not port:
        return None
    return OpsServer(host, port, registry, checks).start()
