"""Disclosure register (spec 6.2): who received whose data, how it left the UK, which Art 19 notices are owed.

One row per ``DataShared`` or ``TransferredInternationally``, classified when applied (the rules of 6.2 read
only the event and the code lists). Art 19 depends on what happened to the subject later, so the view
also keeps the subjects' rectifying, erasing and restricting events and the ``RecipientNotified`` events
that answer them; ``art19_pending`` and ``alert_codes`` are computed at query time, at the asked
``as_of``, with merges as they stand now. No personal value is stored: these events carry none, and
only named non-personal fields are copied.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

from ledger.domain.facts import Fact
from ledger.domain.transfers import classify_transfer
from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.base import StoredFact, dumps, utc
from projections.context import ProjectionContext
from projections.reading import ReadContext

__all__ = [
    "ART19_NOTIFICATION_TYPES",
    "DISCLOSURE_EVENT_TYPES",
    "DisclosuresView",
    "disclosures_page",
    "list_disclosures",
]

DISCLOSURE_EVENT_TYPES: Final = ("DataShared", "TransferredInternationally")
# The events recipients must be told about (Art 19), by RecipientNotified.notification_type.
ART19_NOTIFICATION_TYPES: Final = {
    "DataRectified": "rectification",
    "DataErased": "erasure",
    "ProcessingRestricted": "restriction",
}
_ALL: Final = "*"
_CHUNK: Final = 500


class DisclosuresView:
    """Every disclosure and transfer as a row, plus the Art 19 triggers and notices of their subjects."""

    name: ClassVar[str] = "disclosures"
    tables: ClassVar[tuple[str, ...]] = (
        "view_disclosures",
        "view_disclosure_changes",
        "view_disclosure_notices",
    )

    def create_statements(self, d: Dialect) -> list[str]:
        """The disclosure rows, the Art 19 trigger events and the recipient notices."""
        big = d.bigint
        rows, changes, notices = (d.table(t) for t in self.tables)
        return [
            f"CREATE TABLE IF NOT EXISTS {rows} (disclosure_event_id TEXT PRIMARY KEY, seq {big} NOT NULL, "
            "event_type TEXT NOT NULL, subject_id TEXT, shared_at TEXT NOT NULL, recipient_id TEXT, "
            "recipient_name TEXT, recipient_category TEXT, recipient_role TEXT, recipient_country TEXT, "
            "transfer_classification TEXT NOT NULL, transfer_mechanism TEXT, categories TEXT NOT NULL, "
            "purpose TEXT, lawful_basis TEXT)",
            f"CREATE INDEX IF NOT EXISTS view_disclosures_shared_idx ON {rows} (shared_at)",
            # The register's order, read page by page (disclosures_page).
            f"CREATE INDEX IF NOT EXISTS view_disclosures_order_idx ON {rows} "
            "(shared_at, disclosure_event_id)",
            f"CREATE INDEX IF NOT EXISTS view_disclosures_subject_idx ON {rows} (subject_id)",
            f"CREATE INDEX IF NOT EXISTS view_disclosures_recipient_idx ON {rows} (recipient_id)",
            f"CREATE TABLE IF NOT EXISTS {changes} (event_id TEXT PRIMARY KEY, seq {big} NOT NULL, "
            "subject_id TEXT NOT NULL, notification_type TEXT NOT NULL, occurred_at TEXT NOT NULL, "
            "categories TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS view_disclosure_changes_subject_idx ON {changes} (subject_id)",
            f"CREATE TABLE IF NOT EXISTS {notices} (event_id TEXT PRIMARY KEY, seq {big} NOT NULL, "
            "subject_id TEXT, recipient_id TEXT NOT NULL, notification_type TEXT, "
            "ref_event_id TEXT NOT NULL, outcome TEXT, occurred_at TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS view_disclosure_notices_recipient_idx ON {notices} (recipient_id)",
        ]

    def reset(self) -> None:
        """No in-memory state."""

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: ProjectionContext) -> None:
        """Keep the disclosure rows, Art 19 triggers and recipient notices of the facts (one insert each)."""
        rows: dict[str, list[Mapping[str, Any]]] = {table: [] for table in self.tables}
        for stored in facts:
            self._rows(stored.fact, ctx, rows)
        for table, kept in rows.items():
            _insert_many(cur, table, kept)

    def _rows(self, fact: Fact, ctx: ProjectionContext, rows: dict[str, list[Mapping[str, Any]]]) -> None:
        if fact.event_type in DISCLOSURE_EVENT_TYPES:
            rows["view_disclosures"].append(disclosure_row(fact, ctx))
        elif fact.event_type in ART19_NOTIFICATION_TYPES and fact.subject_id is not None:
            rows["view_disclosure_changes"].append(
                {
                    "event_id": fact.event_id,
                    "seq": fact.seq,
                    "subject_id": fact.subject_id,
                    "notification_type": ART19_NOTIFICATION_TYPES[fact.event_type],
                    "occurred_at": utc(fact.occurred_at),
                    "categories": dumps(sorted(_change_categories(fact))),
                },
            )
        elif fact.event_type == "RecipientNotified":
            p = fact.payload
            recipient, ref = _text(p.get("recipient_id")), _text(p.get("ref_event_id"))
            if recipient is None or ref is None:
                return
            rows["view_disclosure_notices"].append(
                {
                    "event_id": fact.event_id,
                    "seq": fact.seq,
                    "subject_id": fact.subject_id,
                    "recipient_id": recipient,
                    "notification_type": _text(p.get("notification_type")),
                    "ref_event_id": ref,
                    "outcome": _text(p.get("outcome")),
                    "occurred_at": utc(fact.occurred_at),
                },
            )


def disclosure_row(fact: Fact, ctx: ProjectionContext) -> dict[str, Any]:
    """The stored row of one disclosure or transfer (only named, non-personal fields)."""
    p = fact.payload
    raw = p.get("recipient")
    recipient: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    mechanism = _text(p.get("transfer_mechanism"))
    return {
        "disclosure_event_id": fact.event_id,
        "seq": fact.seq,
        "event_type": fact.event_type,
        "subject_id": fact.subject_id,
        "shared_at": utc(fact.occurred_at),
        "recipient_id": _text(recipient.get("recipient_id")),
        "recipient_name": _text(recipient.get("name")),
        "recipient_category": _text(recipient.get("category")),
        "recipient_role": _text(recipient.get("role")),
        "recipient_country": _text(recipient.get("country")),
        "transfer_classification": classify_transfer(recipient, mechanism, ctx.codes),
        "transfer_mechanism": mechanism,
        "categories": dumps(sorted(_codes(p.get("categories")))),
        "purpose": _text(p.get("purpose")),
        "lawful_basis": _text(p.get("lawful_basis")),
    }


# -- query -------------------------------------------------------------------------------------


def list_disclosures(
    cur: SqlCursor,
    rctx: ReadContext,
    *,
    subject: str | None = None,
    recipient: str | None = None,
    classification: str | None = None,
) -> list[dict[str, Any]]:
    """The disclosure register at ``rctx.as_of``, sorted by ``shared_at`` then event id (spec 6.2).

    ``subject`` is resolved through merges (any member of a resolution set gives the whole set).
    Pending Art 19 items are shared by every row of the same (resolved subject, recipient), so they
    are computed before the ``classification`` filter is applied.
    """
    as_of = utc(rctx.as_of)
    sql = "SELECT * FROM {t:view_disclosures} WHERE shared_at <= ?"
    params: list[Any] = [as_of]
    members: list[str] | None = None
    if subject is not None:
        members = rctx.members(rctx.resolve(subject))
        sql += " AND subject_id {in}"
        params.append(InList(members))
    if recipient is not None:
        sql += " AND recipient_id = ?"
        params.append(recipient)
    rows = sorted(
        cur.execute(sql, params).all(), key=lambda r: (str(r["shared_at"]), str(r["disclosure_event_id"]))
    )
    resolve = _Resolver(rctx)
    # A subject's register reads only the Art 19 notices to its rows' recipients (the only ones consulted).
    recipients = sorted({str(r["recipient_id"]) for r in rows}) if members is not None else None
    pending = _art19_pending(cur, rows, resolve, as_of, members, recipient, recipients=recipients)
    alerts = alert_codes(cur, [str(r["disclosure_event_id"]) for r in rows])
    return [
        _register_row(r, resolve, alerts, pending)
        for r in rows
        if classification is None or r["transfer_classification"] == classification
    ]


def disclosures_page(
    cur: SqlCursor,
    rctx: ReadContext,
    *,
    subject: str | None = None,
    after: Sequence[str] | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Rows of :func:`list_disclosures` (same order, same values) after the sort key ``after`` (shared_at,
    event id), at most ``limit``, and the key of the last one if more follow.

    The database reads the page's rows in index order (``LIMIT``); the Art 19 items of a row depend on
    every row of its (resolved subject, recipient) pair, so those pairs' rows are read too: the cost
    follows the page's subjects and recipients, not the size of the register.
    """
    as_of = utc(rctx.as_of)
    sql = "SELECT * FROM {t:view_disclosures} WHERE shared_at <= ?"
    params: list[Any] = [as_of]
    if subject is not None:
        sql += " AND subject_id {in}"
        params.append(InList(rctx.members(rctx.resolve(subject))))
    if after is not None:
        sql += " AND (shared_at > ? OR (shared_at = ? AND disclosure_event_id > ?))"
        params.extend([after[0], after[0], after[1]])
    rows = cur.execute(sql + " ORDER BY shared_at, disclosure_event_id LIMIT ?", [*params, limit + 1]).all()
    more = len(rows) > limit
    rows = rows[:limit]
    resolve = _Resolver(rctx)
    survivors = sorted({s for s in (resolve(r["subject_id"]) for r in rows) if s is not None})
    members = sorted({m for s in survivors for m in rctx.members(s)})
    recipients = sorted({str(r["recipient_id"]) for r in rows if r["recipient_id"] is not None})
    peers: list[dict[str, Any]] = []
    if members and recipients:
        peers = cur.execute(
            "SELECT * FROM {t:view_disclosures} "
            "WHERE shared_at <= ? AND subject_id {in} AND recipient_id {in}",
            [as_of, InList(members), InList(recipients)],
        ).all()
    pending = _art19_pending(cur, peers, resolve, as_of, members, None, recipients=recipients)
    alerts = alert_codes(cur, [str(r["disclosure_event_id"]) for r in rows])
    out = [_register_row(r, resolve, alerts, pending) for r in rows]
    last = rows[-1] if more and rows else None
    return out, None if last is None else [str(last["shared_at"]), str(last["disclosure_event_id"])]


def _register_row(
    r: Mapping[str, Any],
    resolve: _Resolver,
    alerts: Mapping[str, list[str]],
    pending: Mapping[tuple[str | None, Any], list[dict[str, str]]],
) -> dict[str, Any]:
    """One 6.2 row of a stored disclosure."""
    event_id = str(r["disclosure_event_id"])
    survivor = resolve(r["subject_id"])
    return {
        "disclosure_event_id": event_id,
        "event_type": r["event_type"],
        "subject_id": survivor,
        "shared_at": r["shared_at"],
        "recipient_id": r["recipient_id"],
        "recipient_name": r["recipient_name"],
        "recipient_category": r["recipient_category"],
        "recipient_role": r["recipient_role"],
        "recipient_country": r["recipient_country"],
        "transfer_classification": r["transfer_classification"],
        "transfer_mechanism": r["transfer_mechanism"],
        "categories": json.loads(r["categories"]),
        "purpose": r["purpose"],
        "lawful_basis": r["lawful_basis"],
        "alert_codes": alerts.get(event_id, []),
        "art19_pending": pending.get((survivor, r["recipient_id"]), []),
    }


def alert_codes(cur: SqlCursor, event_ids: Sequence[str]) -> dict[str, list[str]]:
    """Codes of the alerts (not retracted) each event triggered; empty if the alerts view is absent."""
    if not event_ids or not cur.has_table("view_alerts"):
        return {}
    found: dict[str, set[str]] = defaultdict(set)
    wanted = sorted(set(event_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for r in cur.execute(
            "SELECT triggering_event_id, code FROM {t:view_alerts} "
            "WHERE triggering_event_id {in} AND status <> 'RETRACTED'",
            (InList(chunk),),
        ).all():
            found[str(r["triggering_event_id"])].add(str(r["code"]))
    return {event_id: sorted(codes) for event_id, codes in found.items()}


class _Resolver:
    """Memoised resolution of envelope subjects to their survivors (merges as they stand now)."""

    def __init__(self, rctx: ReadContext) -> None:
        self.rctx = rctx
        self.memo: dict[str, str] = {}

    def __call__(self, subject_id: Any) -> str | None:
        if subject_id is None:
            return None
        key = str(subject_id)
        if key not in self.memo:
            self.memo[key] = self.rctx.resolve(key)
        return self.memo[key]


def _art19_pending(
    cur: SqlCursor,
    rows: Sequence[Mapping[str, Any]],
    resolve: _Resolver,
    as_of: str,
    members: Sequence[str] | None,
    recipient: str | None,
    *,
    recipients: Sequence[str] | None = None,
) -> dict[tuple[str | None, Any], list[dict[str, str]]]:
    """Pending ``{notification_type, ref_event_id}`` per (resolved subject, recipient), spec 6.2.

    ``recipients``: only the notices to these recipients are read (a page's rows name no other)."""
    if not rows:
        return {}
    sql = "SELECT * FROM {t:view_disclosure_changes} WHERE occurred_at <= ?"
    params: list[Any] = [as_of]
    if members is not None:
        sql += " AND subject_id {in}"
        params.append(InList(members))
    changes: dict[str | None, list[Mapping[str, Any]]] = defaultdict(list)
    for change in cur.execute(sql, params).all():
        changes[resolve(change["subject_id"])].append(change)
    sql = "SELECT recipient_id, ref_event_id FROM {t:view_disclosure_notices} WHERE occurred_at <= ?"
    params = [as_of]
    if recipient is not None:
        sql += " AND recipient_id = ?"
        params.append(recipient)
    if recipients is not None:
        sql += " AND recipient_id {in}"
        params.append(InList(recipients))
    cleared = {(str(n["recipient_id"]), str(n["ref_event_id"])) for n in cur.execute(sql, params).all()}
    found: dict[tuple[str | None, Any], dict[str, tuple[str, int, str]]] = defaultdict(dict)
    for row in rows:
        survivor = resolve(row["subject_id"])
        shared_at = str(row["shared_at"])
        categories = frozenset(json.loads(row["categories"]))
        group = found[(survivor, row["recipient_id"])]
        for c in changes.get(survivor, ()) if survivor is not None else ():
            ref = str(c["event_id"])
            if (
                str(c["occurred_at"]) > shared_at
                and _intersects(json.loads(c["categories"]), categories)
                and (str(row["recipient_id"]), ref) not in cleared
            ):
                group[ref] = (str(c["occurred_at"]), int(c["seq"]), str(c["notification_type"]))
    # In business order of the triggering events (occurred_at, then seq).
    return {
        key: [
            {"notification_type": kind, "ref_event_id": ref}
            for ref, (_, _, kind) in sorted(group.items(), key=lambda item: (item[1][0], item[1][1]))
        ]
        for key, group in found.items()
    }


def _change_categories(fact: Fact) -> frozenset[str]:
    """The categories an Art 19 trigger touches: a rectification's items, else its ``categories``."""
    if fact.event_type == "DataRectified":
        items = fact.payload.get("items")
        return frozenset(
            str(i["category"])
            for i in (items if isinstance(items, list) else ())
            if isinstance(i, Mapping) and isinstance(i.get("category"), str)
        )
    return _codes(fact.payload.get("categories"))


def _intersects(changed: Iterable[str], shared: frozenset[str]) -> bool:
    changed = frozenset(changed)
    return bool(shared) and (_ALL in changed or bool(changed & shared))


def _codes(raw: Any) -> frozenset[str]:
    return frozenset(x for x in raw if isinstance(x, str)) if isinstance(raw, list) else frozenset()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _insert_many(cur: SqlCursor, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """One bulk insert of rows that all have the same columns."""
    if not rows:
        return
    columns = list(rows[0])
    cur.insert_rows(table, columns, [[row[c] for c in columns] for row in rows])
