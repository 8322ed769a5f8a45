"""Parked forward references (spec 3.5 point 4): wait for the referenced entity, or expire.

An event that refers to a request, objection, restriction, hold, complaint or event the ledger has not
stored yet waits here, sealed (personal fields already encrypted under its subject's keys). It is
appended right after the event that creates what it refers to, in arrival order, and dead-lettered
``UNKNOWN_REFERENCE`` once it has waited longer than the park grace (ledger clock).

A parked event dead-lettered later keeps its sealed form as its raw bytes (spec 3.6 ``raw_ref``),
under its subject's dead-letter key, unless its subject was erased meanwhile (one of its keys is
destroyed): then no raw bytes are kept, so nothing of it is encrypted again under a live key.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from ledger.domain.catalogue import EVENT_TYPES, Reference, iter_personal_fields
from ledger.domain.timeutil import format_instant
from ledger.domain.validation import check_against_ledger
from ledger.errors import ErrorCode, EventRejected
from ledger.store.context import WriteContext
from ledger.store.dialect import InList
from ledger.store.messages import Message

__all__ = ["expire", "load", "park", "release_waiting", "unknown_reference"]

log = logging.getLogger(__name__)


def load(w: WriteContext, event_ids: list[str]) -> None:
    """Load what the batch needs to know about parked events: their references and fingerprints."""
    for row in w.cur.execute("SELECT DISTINCT ref_kind, ref_id FROM {t:ledger_parked}").all():
        w.parked_refs.add((str(row["ref_kind"]), str(row["ref_id"])))
    if not w.parked_refs:
        return
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for row in w.cur.execute(
            "SELECT event_id, fp_kid, fingerprint FROM {t:ledger_parked} WHERE event_id {in}",
            (InList(chunk),),
        ).all():
            w.parked[str(row["event_id"])] = (str(row["fp_kid"]), str(row["fingerprint"]))


def _exists(w: WriteContext, kind: str, ref_id: str) -> bool:
    if kind == "event":
        if w.known_event(ref_id) is not None:
            return True
        return (
            w.cur.execute("SELECT 1 AS x FROM {t:ledger_dedup} WHERE event_id = ?", (ref_id,)).one()
            is not None
        )
    return w.entity(kind, ref_id) is not None


def unknown_reference(w: WriteContext, event: dict[str, Any]) -> Reference | None:
    """The first reference of ``event`` that points to nothing stored yet, if any."""
    payload = event["payload"]
    for ref in EVENT_TYPES[event["event_type"]].references:
        value = payload.get(ref.field)
        if isinstance(value, str) and not _exists(w, ref.kind, value):
            return ref
    return None


def park(
    w: WriteContext,
    msg: Message,
    sealed: dict[str, Any],
    fp_kid: str,
    fingerprint: str,
    ref: Reference,
    *,
    arrived_at: str | None = None,
) -> None:
    """Keep a sealed event until its reference exists."""
    next_no = w.cur.execute("SELECT COALESCE(MAX(park_no), 0) + 1 AS n FROM {t:ledger_parked}").scalar()
    ref_id = str(sealed["payload"][ref.field])
    w.cur.execute(
        "INSERT INTO {t:ledger_parked} (park_no, event_id, event_type, ref_kind, ref_id, ref_path, "
        "arrived_at, topic, partition, offset_, sealed, fp_kid, fingerprint) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            int(next_no),
            sealed["event_id"],
            sealed["event_type"],
            ref.kind,
            ref_id,
            f"/payload/{ref.field}",
            arrived_at or w.recorded_at_text,
            msg.topic,
            msg.partition,
            msg.offset,
            json.dumps(sealed),
            fp_kid,
            fingerprint,
        ),
    )
    w.parked[sealed["event_id"]] = (fp_kid, fingerprint)
    w.parked_refs.add((ref.kind, ref_id))
    w.result.parked += 1
    log.debug("event %s parked: waits for %s %s", sealed["event_id"], ref.kind, ref_id)


def _created(event: dict[str, Any]) -> list[tuple[str, str]]:
    spec = EVENT_TYPES[event["event_type"]]
    out = [("event", str(event["event_id"]))]
    if spec.creates and spec.creates_field and event["payload"].get(spec.creates_field):
        out.append((spec.creates, str(event["payload"][spec.creates_field])))
    return out


def release_waiting(w: WriteContext, appended: dict[str, Any]) -> None:
    """Append, in arrival order, every parked event that waited for what ``appended`` creates."""
    for key in _created(appended):
        if key not in w.parked_refs:
            continue
        w.parked_refs.discard(key)
        rows = w.cur.execute(
            "SELECT * FROM {t:ledger_parked} WHERE ref_kind = ? AND ref_id = ? ORDER BY park_no",
            key,
        ).all()
        if rows:
            log.debug("%s %s stored: releasing %d parked event(s)", key[0], key[1], len(rows))
        for row in rows:
            w.cur.execute("DELETE FROM {t:ledger_parked} WHERE park_no = ?", (row["park_no"],))
            w.parked.pop(str(row["event_id"]), None)
            w.result.parked -= 1
            _reprocess(w, row)


def _message_of(w: WriteContext, row: dict[str, Any]) -> Message:
    """The parked row as a message to dead-letter: its sealed form as raw bytes while all its keys live."""
    sealed: dict[str, Any] = json.loads(row["sealed"])
    kids = [str(row["fp_kid"])]
    for path, _ in iter_personal_fields(sealed["event_type"], sealed["payload"]):
        node: Any = sealed["payload"]
        for step in path:
            node = node[step]
        kids.append(str(node["kid"]))
    erased = not all(w.ring.is_live(kid) for kid in kids)
    return Message(
        str(row["topic"]),
        None if row["partition"] is None else int(row["partition"]),
        None if row["offset_"] is None else int(row["offset_"]),
        raw=None if erased else str(row["sealed"]).encode(),
    )


def _reprocess(w: WriteContext, row: dict[str, Any]) -> None:
    sealed: dict[str, Any] = json.loads(row["sealed"])
    known = w.known_event(sealed["event_id"])
    if known is not None:
        # Stored meanwhile under the same id (a redelivery that was not parked): compare as usual.
        if known[1] == row["fingerprint"]:
            w.result.duplicates += 1
        else:
            w.dead_letter(
                _message_of(w, row),
                EventRejected(
                    ErrorCode.DUPLICATE_EVENT_ID_CONFLICT,
                    "/event_id",
                    "an event with this event_id and different content is already stored",
                ),
                sealed,
            )
        return
    try:
        check_against_ledger(sealed, w)
    except EventRejected as exc:
        w.dead_letter(_message_of(w, row), exc, sealed)
        return
    missing = unknown_reference(w, sealed)
    if missing is not None:
        park(
            w,
            _message_of(w, row),
            sealed,
            str(row["fp_kid"]),
            str(row["fingerprint"]),
            missing,
            arrived_at=row["arrived_at"],
        )
        return
    w.append_sealed(sealed, str(row["fp_kid"]), str(row["fingerprint"]), producer=True)


def expire(w: WriteContext) -> None:
    """Dead-letter ``UNKNOWN_REFERENCE`` every parked event older than the park grace."""
    if not w.parked_refs:
        return
    cutoff = w.recorded_at - timedelta(seconds=w.park_grace_seconds)

    rows = w.cur.execute(
        "SELECT * FROM {t:ledger_parked} WHERE arrived_at < ? ORDER BY park_no",
        (format_instant(cutoff),),
    ).all()
    for row in rows:
        log.debug("parked event %s expired: its %s is still unknown", row["event_id"], row["ref_kind"])
        w.cur.execute("DELETE FROM {t:ledger_parked} WHERE park_no = ?", (row["park_no"],))
        w.parked.pop(str(row["event_id"]), None)
        w.result.parked -= 1
        w.dead_letter(
            _message_of(w, row),
            EventRejected(
                ErrorCode.UNKNOWN_REFERENCE,
                str(row["ref_path"]),
                f"the referenced {row['ref_kind']} was still unknown after the park grace period",
            ),
            json.loads(row["sealed"]),
        )
    if rows:
        w.parked_refs = {
            (str(r["ref_kind"]), str(r["ref_id"]))
            for r in w.cur.execute("SELECT DISTINCT ref_kind, ref_id FROM {t:ledger_parked}").all()
        }
