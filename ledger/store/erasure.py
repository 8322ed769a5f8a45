"""Erasure execution (spec 5.1): destroy data keys unless a legal hold covers them; never edit events.

Every erasure, full or of some categories, held or not, also destroys the subjects' dead-letter keys
at once: the raw bytes of a rejected message may hold any category, and they are not part of the
record a hold preserves (spec 3.6 ``raw_ref``). Dead letters after that get a new key version.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ledger.store.context import WriteContext
from ledger.store.dialect import InList
from ledger.store.keystore import DEAD_LETTER_CATEGORY, FINGERPRINT_CATEGORY
from ledger.store.messages import ErasureOutcome

__all__ = ["execute", "release"]

log = logging.getLogger(__name__)

ALL = "*"


def _active_holds(w: WriteContext, subjects: list[str]) -> list[tuple[str, list[str]]]:
    rows = w.cur.execute(
        "SELECT hold_id, categories FROM {t:ledger_holds} WHERE active = 1 AND subject_id {in} "
        "ORDER BY hold_id",
        (InList(subjects),),
    ).all()
    return [(str(r["hold_id"]), list(json.loads(r["categories"]))) for r in rows]


def _holds_covering(holds: list[tuple[str, list[str]]], category: str) -> list[str]:
    return [hid for hid, cats in holds if ALL in cats or category in cats]


def execute(w: WriteContext, erased: dict[str, Any]) -> None:
    """Run one ``DataErased``: shred each (subject, category) not under hold; defer the rest.

    What it did per category is added to the batch result (``w.result.erasures``).
    """
    subject = erased["subject_id"]
    payload = erased["payload"]
    event_id = erased["event_id"]
    subjects = w.merged_set(subject)
    holds = _active_holds(w, subjects)
    full = payload["categories"] == [ALL]
    outcome = ErasureOutcome(event_id, subject, list(subjects), list(payload["categories"]))
    w.result.erasures.append(outcome)
    held_categories: set[str] = set()
    blocking: set[str] = set()
    for s in subjects:
        categories = w.ring.categories(s) if full else list(payload["categories"])
        for category in categories:
            covering = _holds_covering(holds, category)
            if covering:
                held_categories.add(category)
                blocking.update(covering)
                _defer(w, event_id, s, category)
                held_by = outcome.deferred.setdefault(category, [])
                held_by.extend(h for h in covering if h not in held_by)
            else:
                versions = _shred(
                    w,
                    s,
                    category,
                    erased["occurred_at"],
                    cause=f"{event_id}|{s}|{category}",
                    correlation_id=event_id,
                )
                if versions:
                    outcome.erased.setdefault(category, {})[s] = versions
    if full:
        for s in subjects:
            if held_categories:
                _defer(w, event_id, s, FINGERPRINT_CATEGORY)
            else:
                w.ring.shred(s, FINGERPRINT_CATEGORY)
    for s in subjects:
        w.ring.shred(s, DEAD_LETTER_CATEGORY)
    if held_categories:
        w.system_event(
            "ErasureDeferred",
            subject,
            erased["occurred_at"],
            {
                "categories": sorted(held_categories),
                "hold_ids": sorted(blocking),
                "ref_event_id": event_id,
            },
            cause=f"{event_id}|deferred",
            correlation_id=event_id,
        )


def _defer(w: WriteContext, erasure_event_id: str, subject: str, category: str) -> None:
    log.debug("erasure %s of subject %s: %s deferred by a legal hold", erasure_event_id, subject, category)
    w.cur.execute(
        "INSERT INTO {t:ledger_deferred} (erasure_event_id, subject_id, category, done) "
        "VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING",
        (erasure_event_id, subject, category),
    )


def _shred(
    w: WriteContext,
    subject: str,
    category: str,
    occurred_at: str,
    *,
    cause: str,
    correlation_id: str,
) -> list[int]:
    versions = w.ring.shred(subject, category)
    log.debug("subject %s: %s key versions %s destroyed", subject, category, versions or "none")
    if versions:
        w.system_event(
            "KeyShredded",
            subject,
            occurred_at,
            {"category": category, "key_versions": versions},
            cause=cause,
            correlation_id=correlation_id,
        )
    return versions


def release(w: WriteContext, released: dict[str, Any]) -> None:
    """On ``LegalHoldReleased``, re-run every deferred erasure no other active hold still blocks."""
    hold_id = released["payload"]["hold_id"]
    w.cur.execute("UPDATE {t:ledger_holds} SET active = 0 WHERE hold_id = ?", (hold_id,))
    holder = w.cur.execute("SELECT subject_id FROM {t:ledger_holds} WHERE hold_id = ?", (hold_id,)).scalar()
    if holder is None:
        return
    # A hold blocks the erasures of its subject's merge family only (the erasure of a subject looks at
    # the holds of merged_set(resolve_subject(subject))): only those can be unblocked by this release.
    family = w.merged_set(w.resolve_subject(str(holder)))
    pending = w.cur.execute(
        "SELECT erasure_event_id, subject_id, category FROM {t:ledger_deferred} WHERE done = 0 "
        "AND subject_id {in} ORDER BY erasure_event_id, subject_id, category",
        (InList(family),),
    ).all()
    for row in pending:
        subject, category = str(row["subject_id"]), str(row["category"])
        if category == FINGERPRINT_CATEGORY:
            continue
        holds = _active_holds(w, w.merged_set(w.resolve_subject(subject)))
        if _holds_covering(holds, category):
            continue
        _shred(
            w,
            subject,
            category,
            released["occurred_at"],
            cause=f"{released['event_id']}|{subject}|{category}",
            correlation_id=str(row["erasure_event_id"]),
        )
        _mark_done(w, str(row["erasure_event_id"]), subject, category)
        # Dead letters that arrived while the erasure waited go with it.
        w.ring.shred(subject, DEAD_LETTER_CATEGORY)
    # A deferred full erasure destroys the fingerprint key once none of its categories is pending.
    for row in pending:
        if row["category"] != FINGERPRINT_CATEGORY:
            continue
        erasure_id, subject = str(row["erasure_event_id"]), str(row["subject_id"])
        left = w.cur.execute(
            "SELECT COUNT(*) AS n FROM {t:ledger_deferred} WHERE erasure_event_id = ? AND done = 0 "
            "AND category <> ?",
            (erasure_id, FINGERPRINT_CATEGORY),
        ).scalar()
        if int(left) == 0:
            w.ring.shred(subject, FINGERPRINT_CATEGORY)
            _mark_done(w, erasure_id, subject, FINGERPRINT_CATEGORY)


def _mark_done(w: WriteContext, erasure_event_id: str, subject: str, category: str) -> None:
    w.cur.execute(
        "UPDATE {t:ledger_deferred} SET done = 1 WHERE erasure_event_id = ? AND subject_id = ? "
        "AND category = ?",
        (erasure_event_id, subject, category),
    )
