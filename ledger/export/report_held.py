"""The report's holdings sections: what is held (spec 6.1) and who received it (spec 6.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.export.report_doc import ExportDoc, as_list, as_map
from ledger.export.report_model import (
    Block,
    Cell,
    Facts,
    Kind,
    Line,
    Para,
    Section,
    Span,
    Subheading,
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
    is_redacted,
    seq_ref,
    transfer_words,
    value_spans,
    words,
)
from ledger.export.wording import code_words, day_text, instant_texts, label_words

__all__ = ["generic_blocks", "held_section", "recipients_section"]

_MAX_GENERIC_COLUMNS: Final = 5


# -- what is held (6.1) ------------------------------------------------------------------------


def held_section(doc: ExportDoc) -> Section:
    """What is held: the inventory (spec 6.1) per subject, values shown or ERASED, and consents."""
    raw = doc.raw.get("holdings")
    inventories: list[Mapping[str, Any]]
    if isinstance(raw, Mapping) and "items" in raw:
        inventories = [raw]
    elif isinstance(raw, Mapping):
        inventories = [v for v in raw.values() if isinstance(v, Mapping)]
    else:
        inventories = [v for v in as_list(raw) if isinstance(v, Mapping)]
    blocks: list[Block] = [
        Para(
            line(
                "Each item is the latest value of a field, shown as held now. ",
                badge(ERASED_BADGE, Kind.ERASED),
                " means its encryption key was destroyed: the value can no longer be read by anyone.",
            )
        )
    ]
    if not inventories:
        blocks.append(Para(line(muted("No inventory is part of this export."))))
    for inv in inventories:
        blocks += _inventory(inv)
    return Section("held", "What is held", tuple(blocks))


def _inventory(inv: Mapping[str, Any]) -> list[Block]:
    subject = str(inv.get("subject_id", "?"))
    facts: list[tuple[str, Cell]] = [("Subject", cell(subject))]
    if inv.get("resolved_subject_id") and inv.get("resolved_subject_id") != subject:
        facts.append(("Resolved to", cell(str(inv["resolved_subject_id"]))))
    merged = [str(m) for m in as_list(inv.get("merged_subject_ids"))]
    if merged:
        facts.append(("Merged records", cell(*merged)))
    facts.append(("Roles", cell(", ".join(code_words(r) for r in as_list(inv.get("roles"))) or "none")))
    state = str(inv.get("erasure_state", "none"))
    facts.append(("Erasure", cell(line(badge(state, Kind.ERASED)) if state != "none" else line("none"))))
    if "dm_suppressed" in inv:
        facts.append(("Direct marketing", cell("suppressed" if inv["dm_suppressed"] else "not suppressed")))
    rows: list[tuple[Cell, ...]] = []
    for item in as_list(inv.get("items")):
        if isinstance(item, Mapping):
            rows.append(_held_item(item))
    blocks: list[Block] = [
        Subheading(f"Subject {subject}"),
        Facts(tuple(facts)),
        Table(
            f"Data items held on subject {subject}",
            ("Data", "Value", "Collected", "Sources and purposes", "Status"),
            tuple(rows),
            (0.17, 0.24, 0.16, 0.25, 0.18),
            empty="No data items.",
        ),
    ]
    consents = [c for c in as_list(inv.get("consents")) if isinstance(c, Mapping)]
    if consents:
        blocks.append(
            Table(
                f"Consent state of subject {subject}",
                ("Purpose", "Status", "Given", "Withdrawn", "How"),
                tuple(
                    (
                        cell(code_words(c.get("purpose", "?"))),
                        cell(_consent_status(c.get("status"))),
                        cell(day_text(c.get("given_at")) or NO_VALUE),
                        cell(day_text(c.get("withdrawn_at")) or NO_VALUE),
                        cell(code_words(c.get("method") or NO_VALUE)),
                    )
                    for c in consents
                ),
                (0.3, 0.16, 0.18, 0.18, 0.18),
            )
        )
    return blocks


def _consent_status(status: Any) -> Line:
    kind = {"GIVEN": Kind.GOOD, "WITHDRAWN": Kind.WARN, "EXPIRED": Kind.WARN}.get(str(status), Kind.QUIET)
    return line(badge(str(status or "NONE").lower(), kind))


def _held_item(item: Mapping[str, Any]) -> tuple[Cell, ...]:
    state = str(item.get("value_state", "available"))
    value: list[Span]
    if state == "erased":
        value = [badge(ERASED_BADGE, Kind.ERASED)]
    else:
        value = value_spans(item.get("value"), personal=True)
        if state == "erasure_deferred":
            value += [text(" "), badge("erasure deferred", Kind.WARN)]
    sources = [_source(s) for s in as_list(item.get("sources"))]
    purposes = [
        f"{code_words(p.get('purpose', '?'))} ({code_words(p.get('lawful_basis', '?'))})"
        for p in as_list(item.get("purposes"))
        if isinstance(p, Mapping)
    ]
    status: list[Line] = []
    if item.get("special_category") is True:
        status.append(line(badge("special category", Kind.WARN)))
    if item.get("restricted") is True:
        status.append(line(badge("restricted", Kind.WARN)))
    if item.get("on_legal_hold") is True:
        status.append(line(badge("legal hold", Kind.WARN)))
    if item.get("retain_until"):
        status.append(line(muted("keep until "), text(day_text(item["retain_until"]))))
    if item.get("portability_eligible") is True:
        status.append(line(muted("portable (Art 20)")))
    collected = [line(day_text(item.get("first_collected_at")) or NO_VALUE)]
    if item.get("last_changed_at") and item.get("last_changed_at") != item.get("first_collected_at"):
        collected.append(line(muted("changed "), text(day_text(item["last_changed_at"]))))
    return (
        cell(strong(code_words(item.get("category", "?"))), muted(str(item.get("field", "?")))),
        cell(tuple(value)),
        tuple(collected),
        cell(*[line(muted("from "), text(s)) for s in sources], *[line(text(p)) for p in purposes]),
        tuple(status) or cell(muted(NO_VALUE)),
    )


def _source(source: Any) -> str:
    if isinstance(source, Mapping):
        return ", ".join(code_words(v) for v in source.values() if v is not None)
    return code_words(source)


# -- who received it (6.2) -----------------------------------------------------------------------


def recipients_section(doc: ExportDoc) -> Section:
    """Who received it: every disclosure and transfer (spec 6.2) with its safeguard."""
    rows = []
    for r in doc.recipients:
        classification = r.get("transfer_classification")
        safeguard: list[Span] = [text(str(r.get("recipient_country", "?"))), text(" · ")]
        if classification == "no_safeguard":
            safeguard.append(badge("no safeguard", Kind.BAD))
        else:
            safeguard.append(text(transfer_words(classification, r.get("transfer_mechanism"))))
        checks: list[Line] = []
        codes = [str(c) for c in as_list(r.get("alert_codes"))]
        if codes:
            checks.append(tuple(badge(c, Kind.BAD) for c in codes))
        for pending in as_list(r.get("art19_pending")):
            p = as_map(pending)
            checks.append(
                line(
                    badge("Art 19 notice pending", Kind.WARN),
                    muted(f" {code_words(p.get('notification_type'))}"),
                )
            )
        rows.append(
            (
                cell(day_text(r.get("shared_at")) or "?", seq_ref(doc.seq_of, r.get("disclosure_event_id"))),
                cell(
                    strong(str(r.get("recipient_name", "?"))),
                    muted(str(r.get("recipient_id", ""))),
                    ", ".join(code_words(r[k]) for k in ("recipient_category", "recipient_role") if r.get(k)),
                ),
                cell(tuple(safeguard)),
                cell(
                    ", ".join(code_words(c) for c in as_list(r.get("categories"))) or NO_VALUE,
                    muted(f"{code_words(r.get('purpose', '?'))} ({code_words(r.get('lawful_basis', '?'))})"),
                ),
                tuple(checks) or cell(muted("none")),
            )
        )
    table = Table(
        "Disclosures and transfers",
        ("Shared", "Recipient", "Country and safeguard", "Data and purpose", "Alerts and duties"),
        tuple(rows),
        (0.12, 0.23, 0.2, 0.2, 0.25),
        empty="No disclosures or transfers are recorded in this export.",
    )
    return Section("recipients", "Who received it", (table,))


def generic_blocks(value: Any, caption: str, seq_of: Mapping[str, int]) -> list[Block]:
    """Any JSON value as report blocks: arrays of objects as a table, objects as facts, else a paragraph.

    ``seq_of`` turns exported event ids into "seq N" (the timeline's row).
    """
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        keys: list[str] = []
        for v in value:
            keys += [str(k) for k in v if str(k) not in keys]
        if len(keys) > _MAX_GENERIC_COLUMNS:  # too wide for a page: one list of facts per item
            return [_facts(v, seq_of) for v in value]
        widths = tuple(1.0 / len(keys) for _ in keys)
        rows = tuple(tuple(cell(tuple(_generic(k, v.get(k), seq_of))) for k in keys) for v in value)
        return [Table(caption, tuple(label_words(k) for k in keys), rows, widths)]
    if isinstance(value, Mapping) and value:
        return [_facts(value, seq_of)]
    if isinstance(value, list):
        return [Para(line(words(value) if value else muted("None recorded.")))]
    return [Para(line(muted("None recorded.") if value is None else words(value)))]


def _facts(value: Mapping[str, Any], seq_of: Mapping[str, int]) -> Facts:
    return Facts(tuple((label_words(k), cell(tuple(_generic(str(k), v, seq_of)))) for k, v in value.items()))


def _generic(key: str, value: Any, seq_of: Mapping[str, int]) -> list[Span]:
    """A value of the Art 15 pack: codes in words, instants in UK time, event ids as their seq."""
    if is_redacted(value):
        return value_spans(value)
    if key.endswith("_at") and isinstance(value, str):
        return [text(instant_texts(value)[0])]
    if key.endswith("event_id") and isinstance(value, str) and value in seq_of:
        return [text(f"seq {seq_of[value]}")]
    if key == "transfer_classification":
        return (
            [badge("no safeguard", Kind.BAD)]
            if value == "no_safeguard"
            else [text(transfer_words(value, None))]
        )
    return [text(words(value))]
