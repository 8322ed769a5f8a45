"""The destruction journal across a crash (ledger.store.destructions): a destroying transaction writes its
journal lines before it commits and a commit marker after. A process killed between the two leaves lines
without their marker: the ledger still opens (a restarted consumer is not locked out as if a backup had
been restored), the retried batch destroys the keys, and ``after-restore`` would still re-apply the lines.
A committed destruction whose key a restored database holds is still refused (tests/integration/
test_backup_restore.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ledger.store.ingest as ingest_module
from ledger.bootstrap import Ledger
from ledger.store.destructions import DestructionJournal, JournalEntry, pending_destructions
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id


class Killed(Exception):
    """Stands for the process dying after the journal write, before the commit."""


def _messages(events: list[dict[str, Any]], first: int) -> list[Message]:
    return [Message("t", 0, first + i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def test_a_process_killed_between_journal_and_commit_leaves_a_ledger_that_opens_and_retries(
    open_ledger: Any, monkeypatch: pytest.MonkeyPatch
):
    subject = new_id()
    first = open_ledger()
    first.ingest_messages(
        _messages([collected(subject, [("contact_details", "email", "kim.k@example.com")])], 0)
    )
    erasure = _messages([event("DataErased", subject, {"categories": ["*"], "reason": "erasure_request"})], 1)

    real = ingest_module.record_destructions

    def dies_after_writing(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Killed

    monkeypatch.setattr(ingest_module, "record_destructions", dies_after_writing)
    with pytest.raises(Killed):
        first.ingest_messages(erasure)
    monkeypatch.setattr(ingest_module, "record_destructions", real)
    journal = first.keys.journal
    assert journal is not None
    unmarked = journal.read()
    assert unmarked and not any(e.committed for e in unmarked)  # lines written, the batch rolled back

    restarted: Ledger = open_ledger()  # before the marker: RestorePending, the consumer stayed down
    result = restarted.ingest_messages(erasure)
    assert result.dead_letters == [] and result.stored == 1
    lines = journal.read()
    assert [e for e in lines if e.committed] and all(e.txn for e in lines)
    with restarted.store.read() as cur:
        assert pending_destructions(cur, lines) == []  # every key the journal names is destroyed
    assert open_ledger() is not None  # and it keeps opening


def test_journal_lines_count_as_committed_only_with_their_marker_or_from_before_markers(tmp_path: Path):
    journal = DestructionJournal(tmp_path, "sqlite:///somewhere.db")
    legacy = {"subject_id": new_id(), "category": "contact_details", "key_version": 1}
    with journal.path.open("a") as f:  # a line written before transactions carried a token
        f.write(json.dumps({**legacy, "key_created_at": "2026-01-01", "destroyed_at": "2026-02-01"}) + "\n")
    journal.append([JournalEntry(new_id(), "name", 1, "2026-01-02", "2026-02-02", "txn-a")])
    journal.append([JournalEntry(new_id(), "name", 2, "2026-01-03", "2026-02-03", "txn-b")])
    journal.mark_committed("txn-b")
    assert [(e.txn, e.committed) for e in journal.read()] == [(None, True), ("txn-a", False), ("txn-b", True)]
