"""The alerts query (spec 6.5): stored event alerts plus as-of alerts computed at the asked instant."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from ledger.domain.alert_model import SEVERITY, Alert
from ledger.domain.timing_alerts import complaint_alerts, notice_alerts, request_alerts, retention_alerts
from ledger.store.dialect import InList, SqlCursor
from projections.alerts import alert_row
from projections.base import utc
from projections.complaints import list_complaints
from projections.reading import ReadContext
from projections.requests import list_requests

__all__ = ["AS_OF_CODES", "alerts_page", "as_of_alerts", "list_alerts"]

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


# The as-of rules (computed at query time, never stored) and the view each is computed from.
AS_OF_CODES: Final = (
    "REQUEST_OVERDUE",
    "COMPLAINT_ACK_OVERDUE",
    "ART14_NOTICE_OVERDUE",
    "RETENTION_PERIOD_EXCEEDED",
)


def as_of_alerts(
    cur: SqlCursor, rctx: ReadContext, codes: Collection[str] = AS_OF_CODES, *, subject: str | None = None
) -> list[Alert]:
    """A16, A17, A25 and A26 as they hold at ``rctx.as_of`` (from the fleet views, no replay); with
    ``codes``, only the rules of those codes are computed; with ``subject`` (any id of a merge family),
    only those of that family's requests, complaints, notices and retention rows: the same alerts as
    the fleet's whose subject resolves to its survivor, read and computed for the family alone."""
    from projections.notices import list_notices
    from projections.retention import list_retention

    survivor = rctx.resolve(subject) if subject is not None else None
    family = rctx.members(survivor) if survivor is not None else None
    out: list[Alert] = []
    if "REQUEST_OVERDUE" in codes:
        requests = list_requests(
            cur, rctx.ctx, rctx.as_of, subject=survivor, resolve=rctx.resolve, family=family
        )
        for row in requests:
            out.extend(a for a in request_alerts(row) if a.as_of_rule)
    if "COMPLAINT_ACK_OVERDUE" in codes:
        complaints = list_complaints(
            cur, rctx.ctx, rctx.as_of, subject=survivor, resolve=rctx.resolve, family=family
        )
        for complaint in complaints:
            out.extend(complaint_alerts(complaint))
    if "ART14_NOTICE_OVERDUE" in codes:
        for notice in list_notices(cur, rctx, subject=survivor):
            out.extend(notice_alerts(notice))
    if "RETENTION_PERIOD_EXCEEDED" in codes:
        for retention in list_retention(cur, rctx, subject=survivor):
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
    sql = "SELECT * FROM {t:view_alerts} WHERE (event_occurred_at IS NULL OR event_occurred_at <= ?)"
    params: list[Any] = [as_of_text]
    if subject is not None:
        # Only the family's rows are read and only its as-of rules computed: a subject's alerts cost
        # what the subject holds, not what the ledger holds (the filter below still applies).
        sql += " AND subject_id {in}"
        params.append(InList(rctx.members(rctx.resolve(subject))))
    rows = cur.execute(sql, params).all()
    found = as_of_alerts(cur, rctx, subject=subject)
    if subject is None:
        handled = cur.execute("SELECT * FROM {t:view_alert_handling}").all()
        handling = {str(r["alert_id"]): r for r in handled}
    else:
        handling = _handling(cur, [str(r["alert_id"]) for r in rows] + [a.alert_id for a in found])
    out = [alert_row(r, handling.get(str(r["alert_id"])), rctx.as_of) for r in rows]
    for alert in found:
        out.append(alert_row(_as_of_row(alert), handling.get(alert.alert_id), rctx.as_of))
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


def _as_of_row(alert: Alert) -> dict[str, Any]:
    """The stored-row form of an as-of alert (open unless handled; no trigger instant)."""
    return {
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
    }


# -- page by page ------------------------------------------------------------------------------------
#
# The order is (severity, trigger instant or "" for none, code, alert id). Stored alerts with a trigger
# instant are read from the table severity by severity, in index order (severity, event_occurred_at,
# code, alert_id), in chunks, their status at ``as_of`` computed from their handling row (joined) and the
# filters applied, until the page is full. The rows without an instant (the as-of rules, and stored rows
# without one) come first in their severity; the as-of rules of a severity are computed (in full, from
# their fleet view) only when a page reaches that severity: A17 (high) from the request queue, A16, A25,
# A26 (medium) from the complaints, notices and retention views. So a first page filled by the critical
# alerts reads a page of rows, whatever the size of the ledger; one that reaches high or medium pays for
# the as-of rules of that severity.

_CHUNK = 256
_COLUMNS = (
    "a.alert_id, a.code, a.severity, a.subject_id, a.triggering_event_id, a.related_event_ids, "
    "a.event_occurred_at, a.detected_at, a.status, a.message, h.alert_id AS handled_id, "
    "h.acknowledged_at, h.resolved_at"
)


def alerts_page(
    cur: SqlCursor,
    rctx: ReadContext,
    *,
    code: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    status: str | None = None,
    after: list[Any] | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """Rows of :func:`list_alerts` (same filters, order and values) after the sort key ``after``, at
    most ``limit``, and the key of the last one if more follow."""
    as_of_text = utc(rctx.as_of)
    members = rctx.members(rctx.resolve(subject)) if subject is not None else None
    survivor = rctx.resolve(subject) if subject is not None else None
    out: list[tuple[list[Any], dict[str, Any]]] = []

    def wanted(a: dict[str, Any]) -> bool:
        return status is None or a["status"] == status

    for rank, level in enumerate(_SEVERITY_ORDER):
        if (severity is not None and level != severity) or (after is not None and rank < int(after[0])):
            continue
        resume = after if after is not None and int(after[0]) == rank else None
        # The rows without a trigger instant: stored ones and the as-of rules of this severity.
        if resume is None or resume[1] == "":
            blank: list[tuple[list[Any], dict[str, Any]]] = []
            for r in _stored(cur, level, code, members, None, as_of_text, None, None):
                blank.append(_keyed(rank, r, rctx))
            codes = [c for c in AS_OF_CODES if SEVERITY[c] == level and code in (None, c)]
            if codes:
                found = [a for a in as_of_alerts(cur, rctx, codes, subject=subject) if a.code in codes]
                handled = _handling(cur, [a.alert_id for a in found])
                for alert in found:
                    if survivor is not None and (
                        alert.subject_id is None or rctx.resolve(alert.subject_id) != survivor
                    ):
                        continue
                    row = alert_row(_as_of_row(alert), handled.get(alert.alert_id), rctx.as_of)
                    blank.append(([rank, "", row["code"], row["alert_id"]], row))
            blank.sort(key=lambda item: (item[0][2], item[0][3]))
            out.extend(i for i in blank if wanted(i[1]) and (resume is None or i[0] > resume))
            if len(out) > limit:
                break
            resume = None
        # The stored rows with a trigger instant, in index order.
        position = None if resume is None else resume[1:]
        while len(out) <= limit:
            rows = _stored(cur, level, code, members, position, as_of_text, True, _CHUNK)
            out.extend(i for i in (_keyed(rank, r, rctx) for r in rows) if wanted(i[1]))
            if len(rows) < _CHUNK:
                break
            position = [rows[-1]["event_occurred_at"], rows[-1]["code"], rows[-1]["alert_id"]]
        if len(out) > limit:
            break
    page = out[:limit]
    return [row for _, row in page], (page[-1][0] if len(out) > limit else None)


def _keyed(rank: int, r: dict[str, Any], rctx: ReadContext) -> tuple[list[Any], dict[str, Any]]:
    handling = None
    if r["handled_id"] is not None:
        handling = {"acknowledged_at": r["acknowledged_at"], "resolved_at": r["resolved_at"]}
    row = alert_row(r, handling, rctx.as_of)
    return [rank, row["event_occurred_at"] or "", row["code"], row["alert_id"]], row


def _stored(
    cur: SqlCursor,
    severity: str,
    code: str | None,
    members: list[str] | None,
    after: list[Any] | None,
    as_of_text: str,
    timed: bool | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """Stored alerts of one severity: with a trigger instant by ``as_of`` (``timed``) in index order from
    ``after``, or those without one."""
    sql = (
        f"SELECT {_COLUMNS} FROM {{t:view_alerts}} a "
        "LEFT JOIN {t:view_alert_handling} h ON h.alert_id = a.alert_id WHERE a.severity = ?"
    )
    params: list[Any] = [severity]
    if timed:
        sql += " AND a.event_occurred_at IS NOT NULL AND a.event_occurred_at <= ?"
        params.append(as_of_text)
    else:
        sql += " AND a.event_occurred_at IS NULL"
    if code is not None:
        sql += " AND a.code = ?"
        params.append(code)
    if members is not None:
        sql += " AND a.subject_id {in}"
        params.append(InList(members))
    if after is not None:
        sql += " AND (a.event_occurred_at, a.code, a.alert_id) > (?, ?, ?)"
        params.extend(after)
    if timed:
        sql += " ORDER BY a.event_occurred_at, a.code, a.alert_id LIMIT ?"
        params.append(limit)
    return cur.execute(sql, params).all()


def _handling(cur: SqlCursor, alert_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The handling rows of ``alert_ids``."""
    wanted = sorted(set(alert_ids))
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = cur.execute(
            "SELECT * FROM {t:view_alert_handling} WHERE alert_id {in}",
            (InList(wanted[start : start + _CHUNK]),),
        ).all()
        out.update((str(r["alert_id"]), r) for r in rows)
    return out


def _json_list(values: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(values))
