"""The report's event sections: rights requests, alerts, erasures and the timeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.export.report_doc import ExportDoc, as_list, as_map
from ledger.export.report_model import (
    Cell,
    Kind,
    Line,
    Para,
    Section,
    Span,
    Table,
    badge,
    cell,
    line,
    muted,
    strong,
    text,
)
from ledger.export.report_values import (
    ERASED_BADGE,
    NO_VALUE,
    alert_badge,
    payload_lines,
    seq_ref,
    severity_kind,
)
from ledger.export.wording import (
    ALERT_WORDS,
    code_words,
    day_text,
    event_words,
    instant_lines,
    instant_texts,
)

__all__ = [
    "alerts_section",
    "erasures_section",
    "request_outcome",
    "requests_section",
    "timeline_section",
]

ERASURE_EVENTS: Final = (
    "DataErased",
    "KeyShredded",
    "ErasureDeferred",
    "LegalHoldPlaced",
    "LegalHoldReleased",
)


def _when(value: Any) -> Cell:
    parts = instant_lines(value)
    if len(parts) < 3:
        return cell(*parts)
    return cell(parts[0], parts[1], muted(parts[2]))


# -- rights requests (6.4) -------------------------------------------------------------------------


def request_outcome(r: Mapping[str, Any]) -> tuple[str, Line]:
    """(``met`` | ``missed`` | ``open``, the badge line) of a request row (spec 6.4)."""
    if r.get("closed_on_time") is True:
        return "met", line(badge("met", Kind.GOOD))
    if r.get("closed_on_time") is False:
        return "missed", line(badge("missed", Kind.BAD))
    if r.get("overdue") is True:
        return "missed", line(badge("overdue", Kind.BAD))
    if r.get("closed_at"):
        return "open", line(badge("closed", Kind.QUIET))
    return "open", line(badge("open", Kind.INFO))


def requests_section(doc: ExportDoc) -> Section:
    """Rights requests with their statutory deadlines met or missed (spec 6.4, section 7)."""
    rows = []
    for r in doc.requests:
        _, outcome = request_outcome(r)
        due: list[Line] = [line(day_text(r.get("due_date")) or "not running")]
        extension = as_map(r.get("extension"))
        if extension:
            valid = extension.get("valid") is True
            due.append(line(muted("extended" if valid else "extension not valid")))
        if isinstance(r.get("paused_days_total"), int) and r["paused_days_total"] > 0:
            due.append(line(muted(f"paused {r['paused_days_total']} days")))
        late: Cell
        if isinstance(r.get("late_by_days"), int) and r.get("closed_on_time") is False:
            late = cell(strong(_days(r["late_by_days"])))
        elif r.get("overdue") is True and isinstance(r.get("overdue_by_days"), int):
            late = cell(strong(_days(r["overdue_by_days"])), muted("so far"))
        else:
            late = cell(muted(NO_VALUE))
        closed = cell(
            day_text(r.get("closed_date")) or "open", muted(code_words(str(r.get("status", "")).lower()))
        )
        rows.append(
            (
                cell(
                    strong(code_words(r.get("request_type", "?"))),
                    muted(str(r.get("request_id", ""))),
                    muted(f"by {code_words(r.get('channel', '?'))}"),
                ),
                cell(day_text(r.get("received_date") or r.get("received_at")) or "?"),
                tuple(due),
                closed,
                cell(outcome),
                late,
            )
        )
    table = Table(
        "Rights requests and their deadlines",
        ("Request", "Received", "Due", "Closed", "Deadline", "Late by"),
        tuple(rows),
        (0.27, 0.14, 0.16, 0.16, 0.14, 0.13),
        empty="No rights requests are part of this export.",
    )
    return Section("requests", "Rights requests", (table,))


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


# -- alerts (section 5, 6.5) ---------------------------------------------------------------------


def alerts_section(doc: ExportDoc) -> Section:
    """The compliance alerts concerning the export, retracted ones included."""
    rows = []
    for a in doc.alerts:
        code = str(a.get("code", "?"))
        status = str(a.get("status", "?")).upper()
        status_kind = {"OPEN": Kind.BAD, "ACKNOWLEDGED": Kind.WARN, "RESOLVED": Kind.GOOD}.get(
            status, Kind.QUIET
        )
        status_cell: list[Line] = [line(badge(status.lower(), status_kind))]
        if status == "RETRACTED":
            status_cell.append(line(muted("a later event showed it was not justified")))
        raised = _when(a.get("event_occurred_at")) if a.get("event_occurred_at") else cell("as at export")
        if a.get("detected_at"):
            raised += (line(muted("detected "), muted(instant_texts(a["detected_at"])[1])),)
        rows.append(
            (
                cell(strong(code), muted(ALERT_WORDS.get(code, ""))),
                cell(line(badge(str(a.get("severity", "?")), severity_kind(a.get("severity"))))),
                tuple(status_cell),
                raised,
                cell(_trigger(doc, a.get("triggering_event_id"))),
                cell(str(a.get("message") or "")),
            )
        )
    table = Table(
        "Compliance alerts",
        ("Alert", "Severity", "Status", "Raised", "Event", "Message"),
        tuple(rows),
        (0.23, 0.11, 0.15, 0.17, 0.11, 0.23),
        empty="No alerts concern this export.",
    )
    return Section("alerts", "Alerts", (table,))


def _trigger(doc: ExportDoc, trigger: Any) -> Line:
    """What raised an alert: an exported entry's seq, or the request an as-of alert is about."""
    for r in doc.requests:
        if r.get("request_id") == trigger:
            return line(text(f"{code_words(r.get('request_type', ''))} request"))
    return seq_ref(doc.seq_of, trigger)


# -- erasures (5.1) --------------------------------------------------------------------------------


def erasures_section(doc: ExportDoc) -> Section:
    """Erasure instructions, destroyed keys and deferrals by legal hold, with the holds themselves."""
    rows = [
        (
            cell(strong(str(e.get("seq", "?")))),
            _when(e.get("occurred_at")),
            _erasure_what(doc, e),
            tuple(payload_lines(e.get("payload"), as_map(e.get("binding")), doc.seq_of)) or cell(""),
        )
        for e in doc.entries
        if e.get("event_type") in ERASURE_EVENTS
    ]
    intro = Para(
        line(
            "Erasure destroys the encryption keys of the erased categories (crypto-shredding). The records "
            "stay, so the history remains complete and verifiable, but their values can no longer be read. "
            "An active legal hold defers erasure of the categories it covers until it is released."
        )
    )
    table = Table(
        "Erasures and legal holds",
        ("Seq", "When", "What", "Details"),
        tuple(rows),
        (0.07, 0.2, 0.2, 0.53),
        empty="No erasure is recorded in this export.",
    )
    return Section("erasures", "Erasures", (intro, table))


def _erasure_what(doc: ExportDoc, e: Mapping[str, Any]) -> Cell:
    what = [line(strong(event_words(e.get("event_type"))))]
    if str(e.get("subject_id")) != doc.scope_id:  # a merged record's own keys
        what.append(line(muted("subject "), text(str(e.get("subject_id", "?")))))
    return tuple(what)


# -- timeline (6.8) ----------------------------------------------------------------------------------


def timeline_section(doc: ExportDoc) -> Section:
    """One row per exported entry, in the export's order (occurred_at, then seq)."""
    rows = [_timeline_row(doc, e) for e in doc.entries]
    intro = Para(
        line(
            "Every event in this export, in the order it happened (the time it occurred, then its position "
            "in the ledger). Times are shown in UK time (GMT or BST) with UTC below. ",
            Span("Personal values", Kind.PERSONAL),
            " are shown as held; ",
            badge(ERASED_BADGE, Kind.ERASED),
            " marks a value whose key was destroyed.",
        )
    )
    table = Table(
        "Timeline of events",
        ("Seq", "When", "Event", "Details"),
        tuple(rows),
        (0.07, 0.18, 0.23, 0.52),
        row_headers=True,
        empty="This export holds no events.",
    )
    return Section("timeline", "Timeline", (intro, table), new_page=True)


def _timeline_row(doc: ExportDoc, e: Mapping[str, Any]) -> tuple[Cell, ...]:
    producer = as_map(e.get("producer"))
    event: list[Line] = [
        line(strong(event_words(e.get("event_type")))),
        line(muted("by "), text(str(producer.get("system", "?")))),
        line(muted("subject "), text(str(e.get("subject_id", "?")))),
    ]
    details = payload_lines(e.get("payload"), as_map(e.get("binding")), doc.seq_of)
    anomalies = [str(a) for a in as_list(e.get("anomalies"))]
    if anomalies:
        details.append(line(muted("Anomalies: "), *_spaced([badge(a, Kind.WARN) for a in anomalies])))
    badges = _alert_badges(doc, e)
    if badges:
        details.append(line(muted("Alerts: "), *_spaced(badges)))
    details.append(line(muted(f"event\u00a0{e.get('event_id', '?')}")))
    details.append(line(muted(f"hash\u00a0{e.get('hash', '?')}")))
    return (cell(strong(str(e.get("seq", "?")))), _when(e.get("occurred_at")), tuple(event), tuple(details))


def _alert_badges(doc: ExportDoc, e: Mapping[str, Any]) -> list[Span]:
    """The entry's alert codes, and the doc's alerts it triggered (retracted ones too, marked)."""
    known = doc.alerts_of.get(str(e.get("event_id")), [])
    out = [alert_badge(a) for a in known]
    shown = {str(a.get("code")) for a in known}
    out += [badge(str(c), Kind.BAD) for c in as_list(e.get("alert_codes")) if str(c) not in shown]
    return out


def _spaced(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for i, span in enumerate(spans):
        if i:
            out.append(text(" "))
        out.append(span)
    return out
