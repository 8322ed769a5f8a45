"""Validation of one event in its JSON form (spec 3.1 envelope, section 4 payloads, 3.6 codes).

Pure: no I/O, no clock, no environment; the ingestion time is an argument. ``validate_event`` checks
one message on its own and returns its normalised form; ``check_against_ledger`` adds the checks
that need facts from the store (merges, the subject and receipt instant of a request).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from ledger.domain.catalogue import EVENT_TYPES, LEDGER_SUBJECT_ID, SYSTEM_EVENT_TYPES
from ledger.domain.codes import CodeLists
from ledger.domain.fieldcheck import Node
from ledger.domain.payloads import PAYLOAD_RULES
from ledger.domain.timeutil import canonical_timestamp
from ledger.errors import ErrorCode, EventRejected

__all__ = [
    "FUTURE_SKEW",
    "LEDGER_ENVELOPE_FIELDS",
    "MAX_MESSAGE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "SUPPORTED_SCHEMA_VERSION",
    "LedgerFacts",
    "canonical_timestamp",
    "check_against_ledger",
    "parse_json_message",
    "validate_event",
]

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 256 * 1024
FUTURE_SKEW = timedelta(minutes=5)
SUPPORTED_SCHEMA_VERSION = 1
# Set by the ledger on append; whatever a producer sends for them is ignored (and not kept).
LEDGER_ENVELOPE_FIELDS: frozenset[str] = frozenset({"recorded_at", "seq", "prev_hash", "hash"})

_SKEW_SECONDS = int(FUTURE_SKEW.total_seconds())
_PRODUCER_SYSTEM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_E = ErrorCode


# -- parsing ---------------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError("non-finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate object key")
    return obj


def parse_json_message(data: bytes) -> dict[str, Any]:
    """Decode one JSON message: at most 1 MiB, strict UTF-8, one JSON object.

    Rejects with ``PAYLOAD_TOO_LARGE`` (over 1 MiB) or ``MALFORMED_JSON`` (not UTF-8, not JSON, not
    an object, NaN/Infinity, a duplicate key, or text that cannot be stored as UTF-8), always at
    path ``""``.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise EventRejected(_E.PAYLOAD_TOO_LARGE, "", f"message is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
        # Lone surrogates ("\ud800") parse, but could never be stored as UTF-8.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise EventRejected(_E.MALFORMED_JSON, "", "message is not valid UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise EventRejected(_E.MALFORMED_JSON, "", "message is not a JSON object")
    return value


# -- one message -----------------------------------------------------------------------------------
def validate_event(
    raw: Mapping[str, Any],
    codes: CodeLists,
    recorded_at: datetime,
    *,
    allow_system: bool = False,
) -> dict[str, Any]:
    """Check one event (envelope, then payload) and return its normalised form.

    Raises ``EventRejected`` with the first error in a fixed order: envelope fields in spec 3.1
    table order, then the payload fields of the event type in spec order. The result holds only
    known fields at every level, omits absent or null optional fields, and keeps every value
    (timestamp text included) exactly as given. System event types are unknown unless
    ``allow_system`` (only the ledger emits them); so is the ledger's own ``subject_id`` (the nil
    UUID, ``INVALID_VALUE``).
    """
    if recorded_at.utcoffset() is None:
        raise ValueError("recorded_at must be timezone-aware")
    if not isinstance(raw, Mapping):
        raise EventRejected(_E.MALFORMED_JSON, "", "message is not a JSON object")
    env = Node(raw, "", codes)
    env.uuid("event_id")
    event_type = _event_type(env, allow_system)
    version = env.raw.get("schema_version")
    if version is None:
        env.fail(_E.MISSING_FIELD, "schema_version", "required field 'schema_version' is missing")
    if type(version) is not int or version != SUPPORTED_SCHEMA_VERSION:
        env.fail(
            _E.UNSUPPORTED_SCHEMA_VERSION,
            "schema_version",
            f"only schema_version {SUPPORTED_SCHEMA_VERSION} is supported",
        )
    env.out["schema_version"] = version
    occurred = env.timestamp("occurred_at")
    assert occurred is not None
    if occurred > recorded_at + FUTURE_SKEW:
        env.fail(
            _E.FUTURE_TIMESTAMP,
            "occurred_at",
            f"'occurred_at' is more than {_SKEW_SECONDS} seconds after recorded_at",
        )
    producer = env.child("producer")
    assert producer is not None
    producer.string("system", max_chars=None, pattern=_PRODUCER_SYSTEM)
    producer.string("instance", required=False, max_chars=64)
    subject_id = env.uuid("subject_id", required=not EVENT_TYPES[event_type].subject_optional)
    if subject_id == LEDGER_SUBJECT_ID and not allow_system:
        # The ledger's own subject (its keys hold subject-less events and unreadable dead letters).
        env.fail(_E.INVALID_VALUE, "subject_id", "'subject_id' is reserved for the ledger's own events")
    env.string("correlation_id", required=False, max_chars=128)
    env.string("actor_ref", required=False, max_chars=64, forbid_at_sign=True)
    payload = env.child("payload")
    assert payload is not None
    if _serialised_size(payload.raw) > MAX_PAYLOAD_BYTES:
        raise EventRejected(
            _E.PAYLOAD_TOO_LARGE, "/payload", f"payload is larger than {MAX_PAYLOAD_BYTES} bytes"
        )
    PAYLOAD_RULES[event_type](payload, env.out)
    return env.out


# Built once (json.dumps builds an encoder per call). No circular-reference check: a payload decoded
# from JSON or Avro is a tree, and a cycle would still end in RecursionError, rejected the same way.
_SIZE_JSON = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=repr, check_circular=False
).encode


def _serialised_size(payload: Mapping[str, Any]) -> int:
    # Measured as sent (unknown fields included). Lenient on purpose: a NaN, a lone surrogate or a
    # non-JSON object is reported by the check of its own field, with that field's path.
    try:
        text = _SIZE_JSON(payload)
    except (TypeError, ValueError, RecursionError):
        raise EventRejected(_E.INVALID_VALUE, "/payload", "'payload' is not serialisable JSON") from None
    return len(text.encode("utf-8", "surrogatepass"))


def _event_type(env: Node, allow_system: bool) -> str:
    value = env.raw.get("event_type")
    if value is None:
        env.fail(_E.MISSING_FIELD, "event_type", "required field 'event_type' is missing")
    known = isinstance(value, str) and value in EVENT_TYPES
    if not known or (value in SYSTEM_EVENT_TYPES and not allow_system):
        env.fail(_E.UNKNOWN_EVENT_TYPE, "event_type", "'event_type' is not a producer event type")
    env.out["event_type"] = value
    return str(value)


# -- against the store -----------------------------------------------------------------------------
class LedgerFacts(Protocol):
    """What ``check_against_ledger`` needs to know from the store."""

    def resolve_subject(self, subject_id: str) -> str:
        """The final survivor ``subject_id`` was merged into (itself if it was never merged)."""
        ...

    def merged_into(self, subject_id: str) -> str | None:
        """The subject ``subject_id`` was directly merged into, or None."""
        ...

    def request_subject(self, request_id: str) -> str | None:
        """The subject the request was received for, or None if the request is unknown."""
        ...

    def request_received_at(self, request_id: str) -> str | None:
        """The ``occurred_at`` text of the request's RightsRequestReceived, or None if unknown."""
        ...


def check_against_ledger(event: Mapping[str, Any], facts: LedgerFacts) -> None:
    """Checks of a validated (normalised) event that need the store; raises ``EventRejected``.

    - ``INCONSISTENT_SUBJECT``: a request lifecycle event (spec 4.4, after RightsRequestReceived)
      whose
      subject does not resolve to the same survivor as the request's subject.
    - ``INCONSISTENT_FIELDS``: a RequestExtended whose ``notice_sent_at`` (default ``occurred_at``)
      is before
      the request's receipt.
    - ``INVALID_MERGE``: merging an already merged subject, a merge cycle, or a survivor already
      merged.

    An unknown request is no error here: forward references are parked by the caller.
    """
    event_type = event.get("event_type")
    payload: Mapping[str, Any] = event.get("payload") or {}
    if event_type == "SubjectsMerged":
        _check_merge(payload, facts)
        return
    spec = EVENT_TYPES.get(str(event_type))
    if spec is None or spec.section != "4.4" or spec.creates == "request":
        return
    request_id = payload.get("request_id")
    if not isinstance(request_id, str):
        return
    request_subject = facts.request_subject(request_id)
    if request_subject is None:
        return
    subject_id = event.get("subject_id")
    if not isinstance(subject_id, str) or (
        facts.resolve_subject(subject_id) != facts.resolve_subject(request_subject)
    ):
        raise EventRejected(
            _E.INCONSISTENT_SUBJECT,
            "/subject_id",
            f"'subject_id' does not resolve to the subject of request {request_id}",
        )
    if event_type == "RequestExtended":
        _check_extension_notice(event, payload, request_id, facts)


def _check_extension_notice(
    event: Mapping[str, Any], payload: Mapping[str, Any], request_id: str, facts: LedgerFacts
) -> None:
    received = facts.request_received_at(request_id)
    if received is None:
        return
    if payload.get("notice_sent_at") is not None:
        notice, path = payload["notice_sent_at"], "/payload/notice_sent_at"
    else:
        notice, path = event["occurred_at"], "/occurred_at"
    if canonical_timestamp(notice) < canonical_timestamp(received):
        raise EventRejected(
            _E.INCONSISTENT_FIELDS,
            path,
            f"extension notice is earlier than the receipt of request {request_id}",
        )


def _check_merge(payload: Mapping[str, Any], facts: LedgerFacts) -> None:
    survivor = str(payload["surviving_subject_id"])
    merged = str(payload["merged_subject_id"])
    if facts.merged_into(merged) is not None:
        raise EventRejected(
            _E.INVALID_MERGE,
            "/payload/merged_subject_id",
            f"subject {merged} is already merged into another subject",
        )
    if facts.resolve_subject(survivor) == merged:
        raise EventRejected(
            _E.INVALID_MERGE,
            "/payload/surviving_subject_id",
            f"merging {merged} into {survivor} would create a cycle",
        )
    if facts.merged_into(survivor) is not None:
        raise EventRejected(
            _E.INVALID_MERGE,
            "/payload/surviving_subject_id",
            f"survivor {survivor} is itself already merged into another subject",
        )
