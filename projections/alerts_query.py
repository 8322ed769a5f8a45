"""The alerts query (spec 6.5): stored event alerts plus as-of alerts computed at the asked instant."""

from __future__ import annotations

from typing import Any

from ledger.domain.alert_model import Alert
from ledger.domain.timing_alerts import complaint_alerts, notice_alerts, request_alerts, retention_alerts
from ledger.store.dialect import SqlCursor
from projections.alerts import alert_row
from projections.base import utc
from projections.complaints import list_complaints
from projections.reading import ReadContext
from projections.requests import list_requests

__all__ = ["as_of_alerts", "list_alerts"]

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def as_of_alerts(cur: SqlCursor, rctx: ReadContext) -> list[Alert]:
    """A16, A17, A25 and A26 as they hold at ``rctx.as_of`` (from the fleet views, no replay)."""
    from projections.notices import list_notices
    from projections.retention import list_retention

    out: list[Alert] = []
    for row in list_requests(cur, rctx.ctx, rctx.as_of, resolve=rctx.resolve):
        out.extend(a for a in request_alerts(row) if a.as_of_rule)
    for complaint in list_complaints(cur, rctx.ctx, rctx.as_of, resolve=rctx.resolve):
        out.extend(complaint_alerts(complaint))
    for notice in list_notices(cur, rctx):
        out.extend(notice_alerts(notice))
    for retention in list_retention(cur, rctx):
        out.extend(retention_alerts(retention))
    return out


def list_alerts(
    cur: SqlCursor,
    rctx: ReadContext,
    *,
    code: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Every alert known at ``as_of``: event alerts whose trigger occurred by then, and as-of alerts.

    Ordered by severity, then the trigger instant, then id. ``status`` filters on OPEN, ACKNOWLEDGED,
    RESOLVED or RETRACTED (default: all).
    """
    as_of_text = utc(rctx.as_of)
    handling = {str(r["alert_id"]): r for r in cur.execute("SELECT * FROM {t:view_alert_handling}").all()}
    rows = cur.execute(
        "SELECT * FROM {t:view_alerts} WHERE event_occurred_at IS NULL OR event_occurred_at <= ?",
        (as_of_text,),
    ).all()
    out = [alert_row(r, handling.get(str(r["alert_id"])), rctx.as_of) for r in rows]
    for alert in as_of_alerts(cur, rctx):
        out.append(
            alert_row(
                {
                    "alert_id": alert.alert_id,
                    "code": alert.code,
                    "severity": alert.severity,
                    "subject_id": alert.subject_id,
                    "triggering_event_id": alert.trigger_id,
                    "related_event_ids": _json_list(alert.related_event_ids),
                    "event_occurred_at": None,
                    "detected_at": None,
                    "status": "OPEN",
                    "message": alert.message,
                },
                handling.get(alert.alert_id),
                rctx.as_of,
            )
        )
    if subject is not None:
        survivor = rctx.resolve(subject)
        out = [a for a in out if a["subject_id"] is not None and rctx.resolve(a["subject_id"]) == survivor]
    out = [
        a
        for a in out
        if (code is None or a["code"] == code)
        and (severity is None or a["severity"] == severity)
        and (status is None or a["status"] == status)
    ]
    out.sort(
        key=lambda a: (
            _SEVERITY_ORDER.get(a["severity"], 9),
            a["event_occurred_at"] or "",
            a["code"],
            a["alert_id"],
        )
    )
    return out


def _json_list(values: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(values))
