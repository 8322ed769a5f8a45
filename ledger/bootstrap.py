"""The composition root: settings are read once here and every part is built and wired."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.codelists import load_code_lists
from ledger.config import Settings
from ledger.domain.codes import CodeLists
from ledger.domain.timeutil import format_instant
from ledger.reader import list_subject_events
from ledger.store.chain import ChainReport, verify_chain
from ledger.store.crypto import FileMasterKey, KeyWrapper
from ledger.store.database import LedgerStore
from ledger.store.ingest import Ingestor, read_messages
from ledger.store.keystore import KeyStore
from ledger.store.messages import BatchResult, Message

__all__ = ["Ledger", "system_clock"]


def system_clock() -> datetime:
    """The real time, in UTC: the ledger clock unless a test or simulation injects another."""
    return datetime.now(UTC)


@dataclass
class Ledger:
    """The running ledger: store, keys, code lists and clock, with the operations the CLI offers."""

    settings: Settings
    store: LedgerStore
    keys: KeyStore
    codes: CodeLists
    clock: Callable[[], datetime]

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        wrapper: KeyWrapper | None = None,
    ) -> Ledger:
        """Build the ledger from settings (default: the environment)."""
        settings = settings or Settings.from_env()
        if wrapper is None:
            if settings.master_key_file is not None:
                wrapper = FileMasterKey.load(settings.master_key_file)
            else:
                wrapper = FileMasterKey.load_or_create_dev(settings.var_dir / "master.key")
        store = LedgerStore(settings.database_url, pool_size=settings.pg_pool_size)
        return cls(
            settings=settings,
            store=store,
            keys=KeyStore(wrapper),
            codes=load_code_lists(),
            clock=clock or system_clock,
        )

    @property
    def ingestor(self) -> Ingestor:
        """The append path."""
        return Ingestor(
            self.store,
            self.keys,
            self.codes,
            self.clock,
            park_grace_seconds=self.settings.park_grace_seconds,
        )

    def ingest_messages(self, messages: Iterable[Message]) -> BatchResult:
        """Append messages in batches of the configured size."""
        return self.ingestor.ingest(messages, batch_size=self.settings.batch_size)

    def expire_parked(self) -> BatchResult:
        """Maintenance: dead-letter parked events past the park grace; drop raw dead-letter payloads
        older than 30 days. Also runs at every batch (expiry) and when the consumer is idle."""
        return self.ingestor.ingest_batch([])

    def ingest_files(self, paths: Sequence[Path]) -> BatchResult:
        """Append the events of JSON-lines or Avro container files."""
        total = BatchResult()
        for path in paths:
            total.add(self.ingest_messages(read_messages(path)))
        return total

    def subject_events(self, subject_id: str) -> list[dict[str, Any]]:
        """The subject's events in order, decrypted or redacted."""
        return list_subject_events(self.store, self.keys, subject_id)

    def erase(
        self,
        subject_id: str,
        categories: Sequence[str] = ("*",),
        *,
        reason: str = "erasure_request",
        actor_ref: str = "cli",
    ) -> BatchResult:
        """Record a ``DataErased`` for the subject; the append path then shreds the keys (spec 5.1)."""
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": "DataErased",
            "schema_version": 1,
            "occurred_at": format_instant(self.clock()),
            "producer": {"system": "ledger.cli"},
            "subject_id": subject_id,
            "actor_ref": actor_ref,
            "payload": {"categories": list(categories), "reason": reason},
        }
        return self.ingestor.ingest_batch([Message("cli:erase", None, None, event=event)])

    def verify(self) -> ChainReport:
        """Recompute the integrity chain."""
        return verify_chain(self.store)

    def counters(self) -> dict[str, int]:
        """The conservation counters (one small read; cheap enough to run after every batch)."""
        with self.store.read() as cur:
            return {
                str(r["name"]): int(r["value"])
                for r in cur.execute("SELECT name, value FROM {t:ledger_counters}").all()
            }

    def counts(self) -> dict[str, Any]:
        """Stored events per type and the conservation counters."""
        with self.store.read() as cur:
            by_type = {
                str(r["event_type"]): int(r["n"])
                for r in cur.execute(
                    "SELECT event_type, COUNT(*) AS n FROM {t:ledger_chain} GROUP BY event_type "
                    "ORDER BY event_type"
                ).all()
            }
            counters = {
                str(r["name"]): int(r["value"])
                for r in cur.execute("SELECT name, value FROM {t:ledger_counters}").all()
            }
            subjects = cur.execute("SELECT COUNT(DISTINCT subject_id) AS n FROM {t:ledger_chain}").scalar()
        return {"events_by_type": by_type, "counters": counters, "subjects": int(subjects or 0)}

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead letters (codes, paths and ids; never values)."""
        with self.store.read() as cur:
            return cur.execute(
                'SELECT dlq_id, consumed_at, topic, partition, offset_ AS "offset", event_id, '
                "event_type, error_code, error_path, error_message, status "
                "FROM {t:ledger_dead_letters} ORDER BY consumed_at DESC, dlq_id LIMIT ?",
                (limit,),
            ).all()

    def close(self) -> None:
        """Release connections."""
        self.store.close()
