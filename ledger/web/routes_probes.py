"""The orchestrator's probes of the staff service: ``/healthz`` (alive) and ``/readyz`` (the database
answers). Public, as ``/livez``; they show no data. Prometheus scrapes ``/metrics`` on the separate
operations port (``LEDGER_METRICS_PORT``, ``ledger.ops``), never on the API's port."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ledger.ops import database_check, readiness
from ledger.web.context import WebContext

__all__ = ["add_probe_routes"]


def healthz() -> dict[str, str]:
    """The process answers (no database, no data)."""
    return {"status": "alive"}


def readyz(request: Request) -> JSONResponse:
    """200 when the database answers a read within a few seconds, else 503 with the reason (no value)."""
    web: WebContext = request.app.state.web
    status, body = readiness({"database": database_check(web.ledger.store)})
    return JSONResponse(body, status_code=status)


_READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "not ready: `checks` names what failed (the database does not answer)"}
}


def add_probe_routes(router: APIRouter) -> None:
    """Add ``/healthz`` and ``/readyz``."""
    router.add_api_route(
        "/healthz", healthz, methods=["GET"], name="healthz", summary="Alive", tags=["service"]
    )
    router.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        name="readyz",
        summary="Ready: the database answers",
        description=readyz.__doc__,
        tags=["service"],
        responses=_READY_RESPONSES,
    )
