"""Values in words: payload facts of an entry, personal values shown or marked erased, generic JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.export.report_model import Kind, Line, Span, badge, line, muted, text
from ledger.export.wording import TRANSFER_WORDS, code_words, label_words

__all__ = [
    "ERASED_BADGE",
    "NO_VALUE",
    "alert_badge",
    "is_redacted",
    "payload_lines",
    "plain",
    "seq_ref",
    "severity_kind",
    "transfer_words",
    "value_spans",
    "words",
]

ERASED_BADGE: Final = "ERASED"
NO_VALUE: Final = "\u2013"  # an en dash: nothing to show in a table cell
NOT_BOUND_BADGE: Final = "not bound"

# Payload keys shown first, in this order; the rest follow alphabetically.
_FIRST: Final = (
    "request_type",
    "data_items",
    "items",
    "recipient",
    "purpose",
    "purposes",
    "lawful_basis",
    "categories",
    "category",
    "key_versions",
    "hold_ids",
    "reason",
    "outcome",
)
# Keys holding an event id of the ledger: shown with the seq of the entry they name, when exported.
_EVENT_REFS: Final = frozenset({"ref_event_id", "triggering_event_id"})


def is_redacted(value: Any) -> bool:
    """Whether ``value`` is the export's stand-in for a personal value (``{"redacted": ...}``)."""
    return isinstance(value, Mapping) and "redacted" in value


def plain(value: Any) -> str:
    """Any JSON value as one line of text (objects as ``key: value; ...``, lists comma-separated)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{code_words(k)}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) if value else "none"
    return str(value)


def words(value: Any) -> str:
    """A non-personal JSON value as one line of text, code list values in words."""
    if isinstance(value, str):
        return code_words(value) if _is_code(value) else value
    if isinstance(value, list | tuple):
        return ", ".join(words(v) for v in value) if value else "none"
    if isinstance(value, Mapping) and not is_redacted(value):
        return "; ".join(f"{code_words(k)}: {words(v)}" for k, v in value.items())
    return plain(value)


def value_spans(
    value: Any, *, personal: bool = False, binding: Any = None, show_category: bool = True
) -> list[Span]:
    """A value: a personal one as plaintext (marked "not bound" when unbound) or an "ERASED" badge."""
    if is_redacted(value):
        state = str(value.get("redacted"))
        out = [badge(ERASED_BADGE if state == "erased" else state.upper(), Kind.ERASED)]
        if value.get("category") and show_category:
            out.append(muted(f" {code_words(value['category'])}"))
        return out
    if not personal:
        return [text(plain(value))]
    out = [Span(plain(value), Kind.PERSONAL)]
    if isinstance(binding, Mapping) and binding.get("state") == "not_bound":
        out += [text(" "), badge(NOT_BOUND_BADGE, Kind.INFO)]
    return out


class _Walker:
    """Formats one payload, knowing which JSON pointers hold personal values (the entry's ``binding``)."""

    def __init__(self, bindings: Mapping[str, Any], seq_of: Mapping[str, int]) -> None:
        self.bindings = bindings
        self.seq_of = seq_of

    def value(self, pointer: str, value: Any, *, show_category: bool = True) -> list[Span]:
        personal = pointer in self.bindings
        nested = any(p.startswith(pointer + "/") for p in self.bindings)
        if not personal and nested and isinstance(value, Mapping) and not is_redacted(value):
            # A personal field can sit inside an object: show the object field by field.
            parts: list[Span] = []
            for i, (k, v) in enumerate(value.items()):
                parts += [text("; " if i else ""), muted(f"{code_words(k)}: ")]
                parts += self.value(f"{pointer}/{_escape(str(k))}", v)
            return parts
        if not personal and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [text(", ".join(code_words(v) if _is_code(v) else v for v in value) or "none")]
        return value_spans(
            value, personal=personal, binding=self.bindings.get(pointer), show_category=show_category
        )

    def items(self, key: str, items: list[Any]) -> list[Line]:
        out: list[Line] = []
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                out.append((muted(f"{label_words(key)}: "), *self.value(f"/payload/{key}/{i}", item)))
                continue
            name = f"{code_words(item.get('category', '?'))} · {item.get('field', '?')}: "
            value_key = "new_value" if "new_value" in item else "value"
            pointer = f"/payload/{key}/{i}/{value_key}"
            spans = [muted(name), *self.value(pointer, item.get(value_key), show_category=False)]
            if item.get("special_category") is True:
                spans += [text(" "), badge("special category", Kind.WARN)]
            out.append(tuple(spans))
        return out

    def fact(self, key: str, value: Any) -> list[Line]:
        label = muted(f"{label_words(key)}: ")
        pointer = f"/payload/{_escape(key)}"
        if key in ("data_items", "items") and isinstance(value, list):
            return self.items(key, value)
        if key == "recipient" and isinstance(value, Mapping):
            return [(label, *_recipient(value))]
        if key == "purposes" and isinstance(value, list):
            return [(label, text("; ".join(_purpose(p) for p in value) or "all"))]
        if key == "source" and isinstance(value, Mapping):
            return [(label, text(", ".join(code_words(v) for v in value.values() if v is not None)))]
        if key in _EVENT_REFS and isinstance(value, str) and value in self.seq_of:
            return [(label, text(value), muted(f" (seq {self.seq_of[value]})"))]
        if key.endswith("categories") and isinstance(value, list):
            return [(label, text(", ".join("all" if v == "*" else code_words(v) for v in value)))]
        if isinstance(value, str) and pointer not in self.bindings and _is_code(value):
            return [(label, text(code_words(value)))]
        return [(label, *self.value(pointer, value))]


def payload_lines(
    payload: Any, bindings: Mapping[str, Any] | None = None, seq_of: Mapping[str, int] | None = None
) -> list[Line]:
    """The facts of an entry's payload, one line per field, personal values shown or marked erased.

    ``bindings`` is the entry's ``binding`` map (JSON pointer -> state): its keys say which fields are
    personal. ``seq_of`` maps exported event ids to their seq, to point at the entry a field names.
    """
    if not isinstance(payload, Mapping):
        return [(text(plain(payload)),)] if payload is not None else []
    walker = _Walker(bindings or {}, seq_of or {})
    keys = [k for k in _FIRST if k in payload]
    keys += sorted(k for k in payload if k not in _FIRST)
    out: list[Line] = []
    for key in keys:
        out += walker.fact(str(key), payload[key])
    return out


def _recipient(r: Mapping[str, Any]) -> list[Span]:
    spans: list[Span] = [text(str(r.get("name", "unnamed")))]
    if r.get("recipient_id"):
        spans.append(muted(f" ({r['recipient_id']})"))
    facts = [code_words(r[k]) for k in ("category", "role") if r.get(k)]
    if r.get("country"):
        facts.append(f"country {r['country']}")
    if r.get("same_legal_entity") is True:
        facts.append("same legal entity")
    if r.get("dpf_certified") is True:
        facts.append("DPF certified")
    if r.get("adequacy_scope_confirmed") is True:
        facts.append("adequacy scope confirmed")
    if facts:
        spans.append(text(", " + ", ".join(facts)))
    return spans


def _purpose(p: Any) -> str:
    if not isinstance(p, Mapping):
        return code_words(p)
    extras = [code_words(p["lawful_basis"])] if p.get("lawful_basis") else []
    extras += [str(p[k]) for k in sorted(p) if k not in ("purpose", "lawful_basis") and p[k] is not None]
    return (
        f"{code_words(p.get('purpose', '?'))} ({', '.join(extras)})"
        if extras
        else code_words(p.get("purpose"))
    )


def transfer_words(classification: Any, mechanism: Any) -> str:
    """A disclosure's transfer classification (spec 6.2) and mechanism in words."""
    words = TRANSFER_WORDS.get(str(classification), code_words(classification))
    return f"{words} ({code_words(mechanism)})" if mechanism else words


def _is_code(value: str) -> bool:
    """A code list value (``client_contact``): lower-case ASCII words joined by underscores."""
    return value.isascii() and value.replace("_", "").isalnum() and value == value.lower() and "_" in value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def severity_kind(severity: Any) -> Kind:
    """The badge tone of an alert severity."""
    return {"critical": Kind.BAD, "high": Kind.BAD, "medium": Kind.WARN}.get(str(severity), Kind.INFO)


def alert_badge(alert: Mapping[str, Any]) -> Span:
    """An alert as a badge: its code, toned by severity; retracted and resolved alerts are quiet."""
    code = str(alert.get("code", "?"))
    status = str(alert.get("status", "")).upper()
    if status == "RETRACTED":
        return badge(f"{code} (retracted)", Kind.QUIET)
    if status == "RESOLVED":
        return badge(f"{code} (resolved)", Kind.QUIET)
    return badge(code, severity_kind(alert.get("severity")))


def seq_ref(seq_of: Mapping[str, int], event_id: Any) -> Line:
    """An event id as the seq of its exported entry, or the id itself when it is not exported."""
    if isinstance(event_id, str) and event_id in seq_of:
        return line(text(f"seq {seq_of[event_id]}"))
    return line(muted(str(event_id))) if event_id else line(muted("none"))
