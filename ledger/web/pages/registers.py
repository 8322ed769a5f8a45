"""The registers: alerts (and one alert, to acknowledge or resolve), complaints, disclosures and transfers,
the Article 30 record, retention, Art 13/14 notices and dead letters. Each is a view of spec 6 as
``privacy-ledger query`` answers it, a page at a time, with the view's own filters."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Query, Request
from fastapi.responses import Response

from ledger.web.pages.common import (
    AsOfParam,
    DoneParam,
    PageParam,
    chrome,
    context,
    list_page,
    may_open,
    paginate,
    principal,
    query_view,
)
from ledger.web.pages.render import new_form_key, render
from ledger.web.paging import Cursor, filters_digest
from ledger.web.params import check_code, check_uuid, invalid
from ledger.web.problems import Problem
from projections.query_options import (
    ALERT_CODES,
    ALERT_STATUSES,
    NOTICE_STATUSES,
    RETENTION_STATUSES,
    SEVERITIES,
)

__all__ = [
    "alert_detail",
    "alerts",
    "complaints",
    "dead_letters",
    "disclosures",
    "notices",
    "reads",
    "retention",
    "ropa",
]

Filter = Annotated[str | None, Query(max_length=64, description="a code of the view's closed list")]
AlertId = Annotated[str, Path(description="the alert's id (a UUID)")]
_SEVERITY_ORDER: Final = {s: i for i, s in enumerate(SEVERITIES)}
# Retention rows needing action first: due, then deferred and held, then kept, then erased.
_RETENTION_ORDER: Final = {"DUE": 0, "DEFERRED": 1, "HELD": 2, "RETAIN": 3, "ERASED": 4}
# Disclosures: all, or only those leaving the UK, or only those with no transfer safeguard (A11).
DISCLOSURE_KINDS: Final = {
    "all": "All disclosures and transfers",
    "international": "Outside the UK only",
    "no_safeguard": "Restricted transfers without a safeguard",
}


def _given(value: str | None) -> str | None:
    return value if value else None  # an empty select ("any") is no filter


def alerts(
    request: Request,
    status: Filter = "OPEN",
    severity: Filter = None,
    code: Filter = None,
    page: PageParam = 1,
    as_of: AsOfParam = None,
    done: DoneParam = None,
) -> Response:
    """Spec 6.5: alerts by status, severity and code, most severe first."""
    chosen = {
        "status": check_code("alerts", "status", _given(status)),
        "severity": check_code("alerts", "severity", _given(severity)),
        "code": check_code("alerts", "code", _given(code)),
    }
    web, at = context(request, as_of)
    rows = sorted(
        query_view(web, "alerts", at, **chosen),
        key=lambda a: (_SEVERITY_ORDER.get(a["severity"], 99), a["event_occurred_at"] or "", a["alert_id"]),
    )
    return list_page(
        request,
        "alerts.html",
        "ui_alerts",
        rows,
        page,
        at,
        done=done,
        title="Alerts",
        chosen=chosen,
        statuses=ALERT_STATUSES,
        severities=SEVERITIES,
        codes=ALERT_CODES,
    )


def alert_detail(
    request: Request, alert_id: AlertId, as_of: AsOfParam = None, done: DoneParam = None
) -> Response:
    """One alert: what it found, on which event, its status; and the forms to acknowledge or resolve it."""
    aid = check_uuid("alert_id", alert_id)
    web, at = context(request, as_of)
    row = next((a for a in query_view(web, "alerts", at) if a["alert_id"] == aid), None)
    if row is None:
        raise Problem(404, "NOT_FOUND", "there is no alert with this id (at this instant)")
    who = principal(request)
    return render(
        "alert.html",
        chrome=chrome(request, "ui_alerts", done=done, as_of=at),
        title=f"Alert {aid.split('-')[0]}",
        row=row,
        may_acknowledge=may_open(who, "ui_alert_acknowledge") and row["status"] == "OPEN",
        may_resolve=may_open(who, "ui_alert_resolve") and row["status"] in ("OPEN", "ACKNOWLEDGED"),
        form_key=new_form_key(),
    )


def complaints(
    request: Request, page: PageParam = 1, as_of: AsOfParam = None, done: DoneParam = None
) -> Response:
    """Spec 6.10: complaints and their acknowledgement deadline (DPA s.164A)."""
    web, at = context(request, as_of)
    rows = query_view(web, "complaints", at)
    shown, pager = paginate(request, rows, page, web.settings.web_page_size, at)
    who = principal(request)
    return render(
        "complaints.html",
        chrome=chrome(request, "ui_complaints", done=done, as_of=at),
        title="Complaints",
        rows=shown,
        pager=pager,
        may_acknowledge=may_open(who, "ui_complaint_acknowledge"),
        form_keys={r["complaint_id"]: new_form_key() for r in shown},
    )


def _disclosure_kind(row: dict[str, Any], kind: str) -> bool:
    if kind == "international":
        return bool(row["recipient_country"] != "GB")
    if kind == "no_safeguard":
        return bool(row["transfer_classification"] == "no_safeguard")
    return True


def disclosures(
    request: Request,
    kind: Annotated[str, Query(max_length=32, description="all, international or no_safeguard")] = "all",
    page: PageParam = 1,
    as_of: AsOfParam = None,
) -> Response:
    """Spec 6.2: who received what, the transfer classification and safeguard, and Art 19 duties."""
    if kind not in DISCLOSURE_KINDS:
        raise invalid(422, "UNKNOWN_CODE", "query", "kind", f"must be one of: {', '.join(DISCLOSURE_KINDS)}")
    web, at = context(request, as_of)
    rows = [r for r in query_view(web, "disclosures", at) if _disclosure_kind(r, kind)]
    rows.sort(key=lambda r: (r["shared_at"], r["disclosure_event_id"]), reverse=True)
    return list_page(
        request,
        "disclosures.html",
        "ui_disclosures",
        rows,
        page,
        at,
        title="Disclosures and transfers",
        kind=kind,
        kinds=DISCLOSURE_KINDS,
    )


def ropa(request: Request, as_of: AsOfParam = None) -> Response:
    """Spec 6.6: the Article 30 record, one row per purpose, under the controller's details."""
    web, at = context(request, as_of)
    answer = query_view(web, "ropa", at)
    return render(
        "ropa.html",
        chrome=chrome(request, "ui_ropa", as_of=at),
        title="Record of processing (Article 30)",
        controller=answer["controller"],
        purposes=answer["purposes"],
    )


def retention(
    request: Request, status: Filter = None, page: PageParam = 1, as_of: AsOfParam = None
) -> Response:
    """Spec 6.7: retention dates per subject and category, what is due, held or erased."""
    chosen = check_code("retention", "status", _given(status))
    web, at = context(request, as_of)
    rows = query_view(web, "retention", at, status=chosen)
    rows.sort(
        key=lambda r: (
            _RETENTION_ORDER.get(r["status"], 9),
            -r["days_past_retention"],
            r["retain_until"],
            r["subject_id"],
            r["category"],
        )
    )
    return list_page(
        request,
        "retention.html",
        "ui_retention",
        rows,
        page,
        at,
        title="Retention and erasure",
        chosen=chosen,
        statuses=RETENTION_STATUSES,
    )


def notices(
    request: Request, status: Filter = None, page: PageParam = 1, as_of: AsOfParam = None
) -> Response:
    """Spec 6.9: Art 14 notices owed for data not collected from the subject, and when they were due."""
    chosen = check_code("notices", "status", _given(status))
    web, at = context(request, as_of)
    rows = query_view(web, "notices", at, status=chosen)
    rows.sort(key=lambda r: (r["notice_due_date"], r["collection_event_id"]), reverse=True)
    return list_page(
        request,
        "notices.html",
        "ui_notices",
        rows,
        page,
        at,
        title="Privacy notices (Art 13/14)",
        chosen=chosen,
        statuses=NOTICE_STATUSES,
    )


def dead_letters(
    request: Request,
    cursor: Annotated[str | None, Query(max_length=512, description="where the page starts")] = None,
) -> Response:
    """Spec 3.6: rejected messages, newest first: code, JSON path and ids, never a value."""
    from ledger.web.pages.common import web_of

    web = web_of(request)
    size = web.settings.web_page_size
    digest = filters_digest("dead_letters", {})
    after = None if cursor is None else Cursor.decode(cursor, "dead_letters", digest).after
    rows = web.ledger.dead_letters(size + 1, after=after)
    following = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        position = (str(last["consumed_at"]), str(last["dlq_id"]))
        following = Cursor("dead_letters", digest, web.now(), 0, position).encode()
    health = web.ledger.health()
    return render(
        "dead_letters.html",
        chrome=chrome(request, "ui_dead_letters"),
        title="Dead letters",
        rows=rows,
        next_cursor=following,
        first_page=cursor is None,
        open_count=health["dead_letters_open"]["count"],
        by_code=health["dead_letters_open"]["by_code"],
    )


def reads(
    request: Request,
    subject: Annotated[str | None, Query(max_length=64, description="a subject id (UUID)")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="a staff user's id")] = None,
    page: PageParam = 1,
    as_of: AsOfParam = None,
) -> Response:
    """Spec 8: the read trail, newest first: who saw whose personal values, when, why, through which door."""
    from ledger.web.pages.common import web_of

    chosen_subject = check_uuid("subject", subject, "query") if subject else None
    web, at = context(request, as_of)
    users = web_of(request).directory.list_users()
    if actor and actor not in {u.user_id for u in users}:
        raise invalid(422, "UNKNOWN_CODE", "query", "actor", "choose one of the listed users")
    rows = query_view(web, "reads", at, subject=chosen_subject, actor=actor or None)
    return list_page(
        request,
        "reads.html",
        "ui_reads",
        rows,
        page,
        at,
        title="Read audit",
        subject=chosen_subject,
        actor=actor,
        users=[(u.user_id, u.username) for u in users],
    )
