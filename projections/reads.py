"""The read trail (spec 8): who looked at whose personal data in plaintext, when, why, and through which door.

One row per ``PersonalDataViewed`` (the audit record the staff service and the CLI's plaintext commands
append before they show anything). It answers "who looked at this person's data" (``subject``: the
whole merge family, as it stands now, whichever id the reader asked for) and "what did this user look
at" (``actor``: the ``actor_ref`` as recorded: a staff user's id, or ``cli:uid:N`` for a command run on
the ledger's host). Newest first. The events carry codes and opaque ids only, so the rows hold no
personal value; a staff user's name is looked up in the staff directory at query time when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.base import StoredFact, utc
from projections.context import ProjectionContext
from projections.reading import ReadContext

__all__ = ["READ_EVENT_TYPE", "ReadsView", "list_reads"]

READ_EVENT_TYPE: Final = "PersonalDataViewed"
_CHUNK: Final = 500


class ReadsView:
    """Every recorded plaintext read as a row."""

    name: ClassVar[str] = "reads"
    tables: ClassVar[tuple[str, ...]] = ("view_reads",)

    def create_statements(self, d: Dialect) -> list[str]:
        """The read rows, indexed by subject, actor and instant."""
        table = d.table("view_reads")
        return [
            f"CREATE TABLE IF NOT EXISTS {table} (event_id TEXT PRIMARY KEY, seq {d.bigint} NOT NULL, "
            "subject_id TEXT NOT NULL, read_at TEXT NOT NULL, actor_ref TEXT NOT NULL, role TEXT NOT NULL, "
            "read_view TEXT NOT NULL, reason TEXT NOT NULL, interface TEXT NOT NULL, case_id TEXT)",
            f"CREATE INDEX IF NOT EXISTS view_reads_subject_idx ON {table} (subject_id)",
            f"CREATE INDEX IF NOT EXISTS view_reads_actor_idx ON {table} (actor_ref)",
            f"CREATE INDEX IF NOT EXISTS view_reads_read_at_idx ON {table} (read_at)",
        ]

    def reset(self) -> None:
        """No in-memory state."""

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: ProjectionContext) -> None:
        """Keep a row for each ``PersonalDataViewed``; every other event is not a read."""
        rows = []
        for stored in facts:
            fact = stored.fact
            if fact.event_type != READ_EVENT_TYPE or fact.subject_id is None:
                continue
            p = fact.payload  # validated as the ledger's own: codes and opaque ids only
            rows.append(
                (
                    fact.event_id,
                    fact.seq,
                    fact.subject_id,
                    utc(fact.occurred_at),
                    str(p["actor_ref"]),
                    str(p["role"]),
                    str(p["view"]),
                    str(p["reason"]),
                    str(p["interface"]),
                    _text(p.get("case_id")),
                )
            )
        cur.executemany(
            "INSERT INTO {t:view_reads} (event_id, seq, subject_id, read_at, actor_ref, role, read_view, "
            "reason, interface, case_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def list_reads(
    cur: SqlCursor, rctx: ReadContext, *, subject: str | None = None, actor: str | None = None
) -> list[dict[str, Any]]:
    """The reads recorded at or before ``rctx.as_of``, newest first (then by ``seq``, newest first).

    ``subject`` (any id of a merge family) gives the reads of every subject of the family; ``actor``
    the reads of one ``actor_ref``. Each row names the subject read as recorded and its survivor now.
    """
    sql = "SELECT * FROM {t:view_reads} WHERE read_at <= ?"
    params: list[Any] = [utc(rctx.as_of)]
    if subject is not None:
        sql += " AND subject_id {in}"
        params.append(InList(rctx.members(rctx.resolve(subject))))
    if actor is not None:
        sql += " AND actor_ref = ?"
        params.append(actor)
    found = cur.execute(sql, params).all()
    rows = sorted(found, key=lambda r: (str(r["read_at"]), int(r["seq"])), reverse=True)
    names = _usernames(cur, {str(r["actor_ref"]) for r in rows})
    survivors: dict[str, str] = {}
    out = []
    for r in rows:
        read = str(r["subject_id"])
        if read not in survivors:
            survivors[read] = rctx.resolve(read)
        out.append(
            {
                "event_id": r["event_id"],
                "read_at": r["read_at"],
                "subject_id": read,
                "resolved_subject_id": survivors[read],
                "actor_ref": r["actor_ref"],
                "username": names.get(str(r["actor_ref"])),
                "role": r["role"],
                "view": r["read_view"],
                "reason": r["reason"],
                "interface": r["interface"],
                "case_id": r["case_id"],
            }
        )
    return out


def _usernames(cur: SqlCursor, actors: set[str]) -> Mapping[str, str]:
    """The staff directory's user name of each actor that is a staff user's id (none without a directory)."""
    if not actors or not cur.has_table("web_users"):
        return {}
    wanted = sorted(actors)
    names: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for r in cur.execute(
            "SELECT user_id, username FROM {t:web_users} WHERE user_id {in}", (InList(chunk),)
        ).all():
            names[str(r["user_id"])] = str(r["username"])
    return names


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
