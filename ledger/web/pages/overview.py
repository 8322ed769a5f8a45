"""The dashboard (what needs attention today) and the administrator's page (users and tokens)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ledger.web.pages.common import AsOfParam, DoneParam, chrome, context, query_view, web_of
from ledger.web.pages.history import last_checkpoint
from ledger.web.pages.render import render
from projections.query_options import SEVERITIES

__all__ = ["admin", "dashboard"]

_DUE_SOON_DAYS = 7


def dashboard(request: Request, as_of: AsOfParam = None, done: DoneParam = None) -> Response:
    """Open alerts by severity, requests overdue and due within a week, complaints to acknowledge,
    ingestion health, projection lag and the last signed checkpoint."""
    from projections.runner import read_lag
    from projections.service import VIEW_NAMES

    web, at = context(request, as_of)
    alerts = query_view(web, "alerts", at, status="OPEN")
    by_severity = {s: 0 for s in SEVERITIES}
    for alert in alerts:
        by_severity[alert["severity"]] = by_severity.get(alert["severity"], 0) + 1
    requests: list[dict[str, Any]] = query_view(web, "requests", at)
    overdue = [r for r in requests if r["overdue"]]
    due_soon = [
        r
        for r in requests
        if not r["overdue"] and r["days_remaining"] is not None and r["days_remaining"] <= _DUE_SOON_DAYS
    ]
    waiting = [r for r in requests if r["due_date"] is None]
    complaints = query_view(web, "complaints", at)
    ledger = web.ledger
    health = ledger.health()
    lag = read_lag(ledger.store, VIEW_NAMES)
    return render(
        "dashboard.html",
        chrome=chrome(request, "ui_dashboard", done=done, as_of=at),
        title="Dashboard",
        by_severity=by_severity,
        open_alerts=len(alerts),
        overdue=overdue,
        due_soon=due_soon,
        waiting=waiting,
        open_requests=len(requests),
        due_soon_days=_DUE_SOON_DAYS,
        complaints_overdue=[c for c in complaints if c["ack_overdue"]],
        open_complaints=[c for c in complaints if c["status"] != "CLOSED"],
        health=health,
        lag=lag,
        lag_total=sum(lag.values()),
        checkpoint=last_checkpoint(ledger.store),
    )


def admin(request: Request) -> Response:
    """Staff users and API tokens (no secret): who may sign in, with which role, until when."""
    directory = web_of(request).directory
    return render(
        "admin.html",
        chrome=chrome(request, "ui_admin"),
        title="Users and tokens",
        users=[u.as_dict() for u in directory.list_users()],
        tokens=[t.as_dict() for t in directory.list_tokens()],
    )
