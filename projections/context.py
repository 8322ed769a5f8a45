"""What views share while they follow the store: code lists, calendar, merges as of a seq, history."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.calendar import HolidayCalendar
from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList, SqlCursor
from ledger.streams import record_stream

__all__ = ["ProjectionContext"]

log = logging.getLogger(__name__)


@dataclass
class ProjectionContext:
    """Shared, seq-aware knowledge for the views of one runner.

    Merges are tracked with the seq of the ``SubjectsMerged`` that made them, so resolving a subject "as
    of seq k" gives the same answer in an incremental run and in a rebuild from zero.
    """

    store: LedgerStore
    codes: CodeLists
    calendar: HolidayCalendar
    _merges: dict[str, tuple[str, int]] = field(default_factory=dict)  # merged -> (survivor, seq)
    _merges_loaded: bool = False
    _merge_rows: int = 0  # rows of the merge index when ``_merges`` was read

    # -- merges ------------------------------------------------------------------------------

    def load_merges(self, cur: SqlCursor) -> None:
        """Read the merges the store holds (write side: final, with the seq of each merge).

        Each row of the merge index is checked against the hashed ``SubjectsMerged`` it names; a row
        that does not match its event (edited behind the ledger's back) is ignored, so it cannot show
        one subject's events under another (``verify`` reports it).
        """
        # A reader that lives long (``serve``) sees merges another process stored since: the index only
        # grows (a merge is final), so a changed row count is the signal to read it again.
        counted = cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_merges}").one()
        rows_now = int(counted["n"]) if counted else 0
        if self._merges_loaded and rows_now == self._merge_rows:
            return
        store = self.store
        rows = cur.execute(
            "SELECT m.merged_subject_id, m.surviving_subject_id, m.event_id, d.seq, e.state "
            "FROM {t:ledger_merges} m JOIN {t:ledger_dedup} d ON d.event_id = m.event_id "
            "JOIN {t:ledger_chain} c ON c.seq = d.seq "
            f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id"
        ).all()
        merges: dict[str, tuple[str, int]] = {}
        for r in rows:
            merged, survivor = str(r["merged_subject_id"]), str(r["surviving_subject_id"])
            record = _record(r["state"])
            payload = record.get("payload") or {}
            if (
                record.get("event_type") != "SubjectsMerged"
                or record.get("event_id") != r["event_id"]
                or payload.get("merged_subject_id") != merged
                or payload.get("surviving_subject_id") != survivor
            ):
                log.warning("merge index row at seq %s does not match its stored event; run verify", r["seq"])
                continue
            merges[merged] = (survivor, int(r["seq"]))
        self._merges = merges
        self._merges_loaded = True
        self._merge_rows = rows_now

    def forget_merges(self) -> None:
        """Read the merges again at the next :meth:`load_merges` (another process may have added some)."""
        self._merges = {}
        self._merges_loaded = False

    def note_merge(self, merged: str, survivor: str, seq: int) -> None:
        """Record a merge seen in the stream (keeps the map current between reloads)."""
        self._merges.setdefault(merged, (survivor, seq))

    def resolve(self, subject_id: str, at_seq: int) -> str:
        """The survivor ``subject_id`` resolved to once the first ``at_seq`` events were stored."""
        current, seen = subject_id, {subject_id}
        while True:
            hop = self._merges.get(current)
            if hop is None or hop[1] > at_seq or hop[0] in seen:
                return current
            current = hop[0]
            seen.add(current)

    def members(self, survivor: str, at_seq: int) -> list[str]:
        """``survivor`` and every subject resolving to it as of ``at_seq`` (sorted after the first)."""
        found = [survivor]
        others = sorted(
            s for s, (_, seq) in self._merges.items() if seq <= at_seq and self.resolve(s, at_seq) == survivor
        )
        return found + [s for s in others if s != survivor]

    def families(self, at_seq: int) -> dict[str, list[str]]:
        """:meth:`members` of every survivor that has merged subjects, in one pass over the merges (a
        query resolving many subjects; a survivor not in it is its own only member)."""
        out: dict[str, list[str]] = {}
        for merged, (_, seq) in sorted(self._merges.items()):
            if seq <= at_seq:
                survivor = self.resolve(merged, at_seq)
                if survivor != merged:
                    out.setdefault(survivor, [survivor]).append(merged)
        return out

    # -- history -----------------------------------------------------------------------------

    def subject_facts(self, cur: SqlCursor, subjects: Iterable[str], up_to_seq: int) -> list[Fact]:
        """Every stored fact whose envelope names one of ``subjects``, with seq <= ``up_to_seq``."""
        wanted = sorted(set(subjects))
        rows = cur.execute(
            "SELECT c.seq, e.state FROM {t:ledger_chain} c "
            f"JOIN {self.store.events_table} e ON e.{self.store.notification_column} = c.notification_id "
            "WHERE c.subject_id {in} AND c.seq <= ? ORDER BY c.seq",
            (InList(wanted), up_to_seq),
        ).all()
        # The chain's subject_id column only finds the rows; the hashed record decides.
        return _facts(rows, lambda record: record.get("subject_id") in wanted)

    def subject_histories(
        self, cur: SqlCursor, wanted: Mapping[str, tuple[list[str], int]]
    ) -> dict[str, list[Fact]]:
        """:meth:`subject_facts` of several groups in one read: ``{key: (subjects, up_to_seq)}`` ->
        ``{key: facts}``, each exactly what ``subject_facts(cur, subjects, up_to_seq)`` returns."""
        out: dict[str, list[Fact]] = {key: [] for key in wanted}
        if not wanted:
            return out
        owners: dict[str, list[tuple[str, int]]] = {}
        for key, (subjects, up_to_seq) in wanted.items():
            for subject in set(subjects):
                owners.setdefault(subject, []).append((key, up_to_seq))
        rows = cur.execute(
            "SELECT c.seq, c.subject_id, e.state FROM {t:ledger_chain} c "
            f"JOIN {self.store.events_table} e ON e.{self.store.notification_column} = c.notification_id "
            "WHERE c.subject_id {in} AND c.seq <= ? ORDER BY c.seq",
            (InList(sorted(owners)), max(up_to for _, up_to in wanted.values())),
        ).all()
        for r in rows:
            seq = int(r["seq"])
            takers = [key for key, up_to in owners[str(r["subject_id"])] if seq <= up_to]
            if not takers:
                continue
            record = _record(r["state"])
            # The chain's subject_id column only finds the rows; the hashed record decides.
            named = record.get("subject_id")
            fact: Fact | None = None
            for key in takers:
                if named in wanted[key][0]:
                    fact = fact or Fact.from_record(record, seq)
                    out[key].append(fact)
                else:
                    log.warning("ledger_chain row seq %s does not match its stored event; run verify", seq)
        return out

    def stream_facts(self, cur: SqlCursor, stream_id: str, up_to_seq: int) -> list[Fact]:
        """Every stored fact of one stream (a rights request, a complaint), seq <= ``up_to_seq``."""
        rows = cur.execute(
            "SELECT c.seq, e.state FROM {t:ledger_chain} c "
            f"JOIN {self.store.events_table} e ON e.{self.store.notification_column} = c.notification_id "
            "WHERE c.stream_id = ? AND c.seq <= ? ORDER BY c.seq",
            (stream_id, up_to_seq),
        ).all()
        return _facts(rows, lambda record: str(record_stream(record)) == stream_id)


def _facts(rows: list[dict[str, Any]], belongs: Callable[[dict[str, Any]], bool]) -> list[Fact]:
    """Facts of the rows whose hashed record ``belongs``; a row whose index columns lie is skipped."""
    out = []
    for r in rows:
        record = _record(r["state"])
        if belongs(record):
            out.append(Fact.from_record(record, int(r["seq"])))
        else:
            log.warning("ledger_chain row seq %s does not match its stored event; run verify", r["seq"])
    return out


def _record(state: Any) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(bytes(state))["record"]
    return record
