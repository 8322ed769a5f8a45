"""Staff actions as catalogue events: alert handling (spec 4.7), rights-request steps (4.4), complaint
acknowledgement (4.6), legal holds and erasure (4.2, 5.1).

Each action builds one producer event (``producer.system`` ``ledger.web``, ``actor_ref`` the user's
opaque id) and appends it through the ingestor, the path ``ingest`` takes: validation, dedup, the chain,
the Merkle tree, encryption of personal fields, erasure and hold side effects. Nothing here writes a
ledger table. The API routes (``routes_actions``) and the HTML pages call these functions.

Idempotency: with an ``Idempotency-Key`` the event id is a UUIDv5 of (user, key), so a retried request
finds the event its first attempt stored. The same request again (same event type, subject, actor and
payload; ``occurred_at`` differs between attempts) answers the stored event with ``replayed`` and stores
nothing; another request under the same key is refused (409 ``IDEMPOTENCY_KEY_REUSED``). Attempts of one
key in this process take turns (a lock); attempts from another process that race past the look-up are
caught inside the append transaction, which is rolled back unless it stored this very event, so a
conflict never leaves a second event or a dead letter. Likewise a rejected action leaves nothing: no
event, no dead letter; the rejection's code and path come back as a 422.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ledger.domain.timeutil import format_instant
from ledger.domain.validation import validate_event
from ledger.errors import ErrorCode, EventRejected
from ledger.reader import decrypt_record
from ledger.store.dialect import SqlCursor
from ledger.store.messages import BatchResult, ErasureOutcome, Message
from ledger.web.context import WebContext
from ledger.web.identity import Principal
from ledger.web.problems import Problem

__all__ = [
    "ACTION_STEPS",
    "IDEMPOTENCY_KEY_PATTERN",
    "PRODUCER_SYSTEM",
    "STEP_FIELDS",
    "ActionOutcome",
    "acknowledge_alert",
    "acknowledge_complaint",
    "erase_subject",
    "place_hold",
    "record_request_step",
    "release_hold",
    "resolve_alert",
]

# The staff service as a producer (spec 3.1 producer.system); the CLI's own erasure says "ledger.cli".
PRODUCER_SYSTEM: Final = "ledger.web"
# 1 to 128 printable ASCII characters, no space at either end (RFC 9110 trims them off a header).
IDEMPOTENCY_KEY_PATTERN: Final = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?", re.ASCII)
_ACTION_NAMESPACE: Final = uuid.UUID("6c0b1f5e-2d4a-4c39-9b7e-5a0f3e8d2c71")
_HOLD_NAMESPACE: Final = uuid.UUID("b3f4e2a1-7c5d-4e8f-9a6b-1d2c3e4f5a6b")
_TOPIC: Final = "web:actions"

# Spec 4.4: the request lifecycle events staff record (every one but the receipt), with the payload
# fields each takes beside ``request_id`` (the catalogue's, in spec order).
STEP_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "IdentityVerificationRequested": ("kind",),
    "IdentityEvidenceReceived": ("kind",),
    "IdentityVerified": ("method",),
    "IdentityVerificationFailed": ("reason",),
    "FeeRequested": ("amount_pence", "reason"),
    "FeePaid": ("amount_pence",),
    "ClarificationRequested": ("question",),
    "ClarificationReceived": ("answer",),
    "RequestExtended": ("reason", "notice_sent_at", "reasons_stated"),
    "RequestFulfilled": ("outcome", "retained_categories", "retention_reason", "notes"),
    "RequestRefused": ("reason", "exemption_ref", "complaint_rights_notified", "details"),
    "RequestWithdrawn": (),
    "RequestClosed": ("reason",),
}
ACTION_STEPS: Final[tuple[str, ...]] = tuple(STEP_FIELDS)

# Attempts of one idempotency key in this process take turns (striped: a bounded set of locks).
_STRIPES: Final = tuple(threading.Lock() for _ in range(64))


@dataclass(frozen=True)
class ActionOutcome:
    """What an action stored (or, ``replayed``, had stored under the same Idempotency-Key)."""

    event_id: str
    event_type: str
    replayed: bool  # True: the Idempotency-Key was seen before; nothing new stored
    detail: dict[str, Any]  # e.g. the erasure outcome per category; {} if nothing to add


# -- the actions -----------------------------------------------------------------------------------


def acknowledge_alert(
    web: WebContext, principal: Principal, alert_id: str, note: str, idempotency_key: str | None
) -> ActionOutcome:
    """Record an ``AlertAcknowledged`` (spec 4.7): the alert reads ACKNOWLEDGED from then on."""
    return _alert_action(web, principal, "AlertAcknowledged", alert_id, note, idempotency_key)


def resolve_alert(
    web: WebContext, principal: Principal, alert_id: str, note: str, idempotency_key: str | None
) -> ActionOutcome:
    """Record an ``AlertResolved`` (spec 4.7): the alert reads RESOLVED from then on."""
    return _alert_action(web, principal, "AlertResolved", alert_id, note, idempotency_key)


def record_request_step(
    web: WebContext,
    principal: Principal,
    request_id: str,
    step: str,
    fields: dict[str, Any],
    idempotency_key: str | None,
) -> ActionOutcome:
    """Record one lifecycle step of a rights request (spec 4.4; ``step`` one of :data:`ACTION_STEPS`,
    ``fields`` the step's own payload fields of :data:`STEP_FIELDS`), on the request's subject."""
    request = _uuid("request_id", request_id)
    if step not in STEP_FIELDS:
        raise Problem(
            422,
            "UNKNOWN_CODE",
            f"step: must be one of: {', '.join(ACTION_STEPS)}",
            errors=[_error("step", "UNKNOWN_CODE", "is not a request step staff record", list(ACTION_STEPS))],
        )
    allowed = STEP_FIELDS[step]
    if any(name not in allowed for name in fields):
        # The name is not repeated: a key typed in the wrong place may itself be a value.
        takes = ", ".join(allowed) or "no field"
        raise Problem(
            422,
            "INVALID_VALUE",
            f"fields: holds a field {step} does not take (it takes: {takes})",
            errors=[_error("fields", "INVALID_VALUE", f"{step} takes: {takes}", list(allowed))],
        )
    subject = _entity_subject(web, "request", request)
    if subject is None:
        raise Problem(404, "UNKNOWN_REQUEST", "the ledger holds no rights request with this id")
    payload = {"request_id": request, **{k: v for k, v in fields.items() if v is not None}}
    return _act(web, principal, step, subject, payload, idempotency_key, unknown="UNKNOWN_REQUEST")


def acknowledge_complaint(
    web: WebContext, principal: Principal, complaint_id: str, idempotency_key: str | None
) -> ActionOutcome:
    """Record a ``ComplaintAcknowledged`` (spec 4.6, DPA s.164A) on the complaint's subject."""
    complaint = _uuid("complaint_id", complaint_id)
    subject = _entity_subject(web, "complaint", complaint)
    if subject is None:
        raise Problem(404, "UNKNOWN_COMPLAINT", "the ledger holds no complaint with this id")
    payload = {"complaint_id": complaint}
    return _act(
        web,
        principal,
        "ComplaintAcknowledged",
        subject,
        payload,
        idempotency_key,
        unknown="UNKNOWN_COMPLAINT",
    )


def place_hold(
    web: WebContext,
    principal: Principal,
    subject_id: str,
    categories: list[str],
    reason: str,
    matter_ref: str,
    idempotency_key: str | None,
) -> ActionOutcome:
    """Record a ``LegalHoldPlaced`` (spec 4.2): erasure of the categories (``["*"]``: all) is deferred
    until the hold is released. ``detail`` holds the new ``hold_id``."""
    subject = _known_subject(web, subject_id)
    event_id = _event_id(principal, idempotency_key)
    # Derived from the event id, so a retry of the same placement names the same hold.
    hold_id = str(uuid.uuid5(_HOLD_NAMESPACE, event_id))
    payload = {"hold_id": hold_id, "categories": categories, "reason": reason, "matter_ref": matter_ref}
    return _act(web, principal, "LegalHoldPlaced", subject, payload, idempotency_key, event_id=event_id)


def release_hold(
    web: WebContext, principal: Principal, subject_id: str, hold_id: str, idempotency_key: str | None
) -> ActionOutcome:
    """Record a ``LegalHoldReleased`` (spec 4.2): the erasures the hold deferred run now (spec 5.1)."""
    subject = _uuid("subject_id", subject_id)
    hold = _uuid("hold_id", hold_id)
    with web.ledger.store.read() as cur:
        found = cur.execute("SELECT subject_id FROM {t:ledger_holds} WHERE hold_id = ?", (hold,)).scalar()
        # A hold of the subject's merge family is the subject's: erasure looks at the family's holds.
        same_family = found is not None and _survivor(cur, str(found)) == _survivor(cur, subject)
    if found is None or not same_family:
        raise Problem(404, "UNKNOWN_HOLD", "the subject has no legal hold with this id")
    holder = str(found)

    def still_active() -> None:
        with web.ledger.store.read() as cur:
            active = cur.execute("SELECT active FROM {t:ledger_holds} WHERE hold_id = ?", (hold,)).scalar()
        if not active:
            raise Problem(409, "HOLD_NOT_ACTIVE", "this legal hold is released already")

    return _act(
        web,
        principal,
        "LegalHoldReleased",
        holder,
        {"hold_id": hold},
        idempotency_key,
        unknown="UNKNOWN_HOLD",
        before_append=still_active,
    )


def erase_subject(
    web: WebContext,
    principal: Principal,
    subject_id: str,
    categories: list[str],
    reason: str,
    idempotency_key: str | None,
) -> ActionOutcome:
    """Record a ``DataErased`` (spec 4.2); the append path shreds the keys or defers them under a legal
    hold (spec 5.1). ``detail`` is the outcome per category, as ``privacy-ledger erase`` reports it."""
    subject = _known_subject(web, subject_id)
    payload = {"categories": categories, "reason": reason}
    return _act(web, principal, "DataErased", subject, payload, idempotency_key)


# -- the shared path -------------------------------------------------------------------------------


class _NotStored(Exception):
    """Raised inside the append transaction to roll it back: it did not store this very event."""

    def __init__(self, rejected: EventRejected | None = None, *, parked: bool = False) -> None:
        super().__init__("not stored")
        self.rejected = rejected
        self.parked = parked


def _alert_action(
    web: WebContext,
    principal: Principal,
    event_type: str,
    alert_id: str,
    note: str,
    idempotency_key: str | None,
) -> ActionOutcome:
    alert = _uuid("alert_id", alert_id)
    # The alerts staff see: event alerts and the as-of ones (A16, A17, A25, A26), at the ledger clock.
    alerts = web.query("alerts", as_of=web.now(), subject=None, filters={})
    if not any(a["alert_id"] == alert for a in alerts):
        raise Problem(404, "UNKNOWN_ALERT", "the ledger holds no alert with this id")
    # No subject: spec 3.1 makes it optional for alert handling, as producers send it.
    payload = {"alert_id": alert, "note": note}
    return _act(web, principal, event_type, None, payload, idempotency_key, unknown="UNKNOWN_ALERT")


def _act(
    web: WebContext,
    principal: Principal,
    event_type: str,
    subject_id: str | None,
    payload: dict[str, Any],
    idempotency_key: str | None,
    *,
    event_id: str | None = None,
    unknown: str = "UNKNOWN_SUBJECT",
    before_append: Callable[[], None] | None = None,
) -> ActionOutcome:
    """Build, check and append one event; or answer the one stored under the same Idempotency-Key."""
    event_id = event_id or _event_id(principal, idempotency_key)
    now = web.now()
    event: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": format_instant(now),
        "producer": {"system": PRODUCER_SYSTEM},
        "actor_ref": principal.actor_ref,
        "payload": payload,
    }
    if subject_id is not None:
        event["subject_id"] = subject_id
    try:
        normalised = validate_event(event, web.ledger.codes, now)
    except EventRejected as exc:
        raise _rejection(exc) from None
    with _turn(event_id if idempotency_key is not None else None):
        for _ in range(2):  # a second look only after another writer stored this event meanwhile
            stored = _stored_event(web, event_id)
            if stored is not None:
                return _replay(web, stored, normalised)
            if before_append is not None:
                before_append()
            try:
                result = _append(web, event, now)
            except _NotStored as refused:
                if refused.parked:
                    raise Problem(
                        404, unknown, "the action names something the ledger does not hold"
                    ) from None
                if refused.rejected is not None:
                    raise _rejection(refused.rejected) from None
                continue  # stored meanwhile by another writer: answer as a retry
            return ActionOutcome(event_id, event_type, False, _detail(normalised, result))
    raise Problem(500, "INTERNAL_ERROR")  # pragma: no cover - the second look always finds it


def _append(web: WebContext, event: dict[str, Any], now: datetime) -> BatchResult:
    """One batch of one message through the ingestor, kept only if it stored this very event."""
    event_id = str(event["event_id"])
    at = format_instant(now)

    def stored_this(cur: SqlCursor) -> None:
        letter = cur.execute(
            "SELECT error_code, error_path, error_message FROM {t:ledger_dead_letters} "
            "WHERE event_id = ? AND consumed_at = ? AND status = 'OPEN'",
            (event_id, at),
        ).one()
        if letter is not None:
            code = str(letter["error_code"])
            if code == ErrorCode.DUPLICATE_EVENT_ID_CONFLICT:
                raise _NotStored()  # another writer stored this id since the look-up
            raise _NotStored(EventRejected(code, str(letter["error_path"]), str(letter["error_message"])))
        row = cur.execute(
            "SELECT c.recorded_at FROM {t:ledger_dedup} d JOIN {t:ledger_chain} c ON c.seq = d.seq "
            "WHERE d.event_id = ?",
            (event_id,),
        ).one()
        if row is None:
            raise _NotStored(parked=True)
        if str(row["recorded_at"]) != at:
            raise _NotStored()  # a duplicate of an event stored before: nothing of this batch is kept

    message = Message(_TOPIC, None, None, event=event)
    return web.ledger.ingestor.ingest_batch([message], recorded_at=now, in_transaction=stored_this)


def _stored_event(web: WebContext, event_id: str) -> dict[str, Any] | None:
    """The stored producer event of this id, personal fields decrypted (or redacted once erased)."""
    store = web.ledger.store
    with store.read() as cur:
        row = cur.execute(
            "SELECT c.seq, e.state FROM {t:ledger_dedup} d JOIN {t:ledger_chain} c ON c.seq = d.seq "
            f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
            "WHERE d.event_id = ?",
            (event_id,),
        ).one()
        if row is None:
            return None
        record = json.loads(bytes(row["state"]))["record"]
        out = decrypt_record(cur, web.ledger.keys, record)
    out["seq"] = int(row["seq"])
    return out


def _replay(web: WebContext, stored: dict[str, Any], event: dict[str, Any]) -> ActionOutcome:
    """The stored event's outcome if it answers the same request; else the key was reused: 409."""
    if not all(
        _same(stored.get(k), event.get(k)) for k in ("event_type", "subject_id", "actor_ref", "payload")
    ):
        raise Problem(
            409,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for another request; nothing was stored",
        )
    detail: dict[str, Any] = {}
    if stored["event_type"] == "DataErased":
        detail = _erasure_report(web, stored)
    elif stored["event_type"] == "LegalHoldPlaced":
        detail = {"hold_id": stored["payload"]["hold_id"]}
    return ActionOutcome(str(stored["event_id"]), str(stored["event_type"]), True, detail)


def _same(stored: Any, sent: Any) -> bool:
    """Equal, a value erased since counting as equal (spec 3.5 point 3: no comparison after erasure)."""
    if isinstance(stored, dict) and set(stored) == {"redacted", "category"}:
        return True
    if isinstance(stored, dict) and isinstance(sent, dict):
        return stored.keys() == sent.keys() and all(_same(stored[k], sent[k]) for k in stored)
    if isinstance(stored, list) and isinstance(sent, list):
        return len(stored) == len(sent) and all(_same(a, b) for a, b in zip(stored, sent, strict=True))
    return bool(stored == sent and type(stored) is type(sent))


def _detail(event: dict[str, Any], result: BatchResult) -> dict[str, Any]:
    if event["event_type"] == "DataErased":
        outcome = next((e for e in result.erasures if e.event_id == event["event_id"]), None)
        return {} if outcome is None else outcome.report()
    if event["event_type"] == "LegalHoldPlaced":
        return {"hold_id": event["payload"]["hold_id"]}
    return {}


def _erasure_report(web: WebContext, erased: dict[str, Any]) -> dict[str, Any]:
    """The outcome an erasure had when it ran, from the system events appended right after it (in its
    batch, spec 5.1): ``KeyShredded`` and ``ErasureDeferred`` naming it as their correlation."""
    store = web.ledger.store
    event_id, subject = str(erased["event_id"]), str(erased["subject_id"])
    seq = int(erased["seq"])
    with store.read() as cur:
        outcome = ErasureOutcome(
            event_id, subject, _family(cur, subject), list(erased["payload"]["categories"])
        )
        while True:
            rows = cur.execute(
                "SELECT c.seq, e.state FROM {t:ledger_chain} c "
                f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
                "WHERE c.seq > ? ORDER BY c.seq LIMIT 100",
                (seq,),
            ).all()
            for row in rows:
                record = json.loads(bytes(row["state"]))["record"]
                if record.get("correlation_id") != event_id or record.get("event_type") not in (
                    "KeyShredded",
                    "ErasureDeferred",
                ):
                    return outcome.report()
                seq = int(row["seq"])
                owner, p = str(record["subject_id"]), record["payload"]
                if owner not in outcome.subjects:
                    outcome.subjects.append(owner)
                if record["event_type"] == "KeyShredded":
                    outcome.erased.setdefault(str(p["category"]), {})[owner] = list(p["key_versions"])
                else:
                    for category in p["categories"]:
                        outcome.deferred[str(category)] = list(p["hold_ids"])
            if len(rows) < 100:
                return outcome.report()


# -- small parts -----------------------------------------------------------------------------------


@contextmanager
def _turn(event_id: str | None) -> Iterator[None]:
    """Hold the lock of one idempotency key's event id (nothing without a key)."""
    if event_id is None:
        yield
        return
    with _STRIPES[uuid.UUID(event_id).int % len(_STRIPES)]:
        yield


def _event_id(principal: Principal, idempotency_key: str | None) -> str:
    """A fresh id; with an Idempotency-Key, the same id for every attempt of the user with that key."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        raise Problem(
            422,
            "INVALID_VALUE",
            "Idempotency-Key: must be 1 to 128 printable ASCII characters",
            errors=[
                {
                    "in": "header",
                    "name": "Idempotency-Key",
                    "code": "INVALID_VALUE",
                    "detail": "must be 1 to 128 printable ASCII characters",
                }
            ],
        )
    return str(uuid.uuid5(_ACTION_NAMESPACE, f"{principal.user.user_id}\n{idempotency_key}"))


_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)


def _uuid(name: str, value: str) -> str:
    folded = value.strip().lower() if isinstance(value, str) else ""
    if not _UUID.fullmatch(folded):
        raise Problem(
            422,
            "INVALID_UUID",
            f"{name}: must be a UUID",
            errors=[{"in": "path", "name": name, "code": "INVALID_UUID", "detail": "must be a UUID"}],
        )
    return folded


def _known_subject(web: WebContext, subject_id: str) -> str:
    subject = _uuid("subject_id", subject_id)
    if not web.ledger.has_seen(subject):
        raise Problem(404, "UNKNOWN_SUBJECT", "the ledger holds no event for this subject")
    return subject


def _entity_subject(web: WebContext, kind: str, entity_id: str) -> str | None:
    """The subject a stored request or complaint was received for (None: the ledger holds none)."""
    with web.ledger.store.read() as cur:
        subject = cur.execute(
            "SELECT subject_id FROM {t:ledger_entities} WHERE kind = ? AND entity_id = ?", (kind, entity_id)
        ).scalar()
    return None if subject is None else str(subject)


def _survivor(cur: SqlCursor, subject: str) -> str:
    """The subject ``subject`` was merged into, transitively (itself if never merged)."""
    seen = {subject}
    while True:
        nxt = cur.execute(
            "SELECT surviving_subject_id FROM {t:ledger_merges} WHERE merged_subject_id = ?", (subject,)
        ).scalar()
        if nxt is None or str(nxt) in seen:
            return subject
        subject = str(nxt)
        seen.add(subject)


def _family(cur: SqlCursor, subject: str) -> list[str]:
    """The subject and every subject merged into it, transitively (erasure covers them all)."""
    found, todo = [subject], [subject]
    while todo:
        for row in cur.execute(
            "SELECT merged_subject_id FROM {t:ledger_merges} WHERE surviving_subject_id = ? "
            "ORDER BY merged_subject_id",
            (todo.pop(),),
        ).all():
            merged = str(row["merged_subject_id"])
            if merged not in found:
                found.append(merged)
                todo.append(merged)
    return found


def _error(name: str, code: str, detail: str, allowed: Sequence[str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"in": "body", "name": name, "code": code, "detail": detail}
    if allowed is not None:
        error["allowed"] = list(allowed)
    return error


def _rejection(exc: EventRejected) -> Problem:
    """A validation failure as a 422 with its spec 3.6 code and the body field at fault (never a value)."""
    pointer = exc.path.removeprefix("/payload")
    name = pointer.removeprefix("/").split("/")[0] or "body"
    code = exc.code if exc.code in ErrorCode.__members__ else "INVALID_VALUE"
    error = {**_error(name, code, exc.message), "pointer": pointer}
    return Problem(422, code, f"{name}: {exc.message}", errors=[error])
