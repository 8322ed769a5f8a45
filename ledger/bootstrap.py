"""The composition root: settings are read once here and every part is built and wired."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.config import Settings
from ledger.errors import LedgerError

# Start-up: a command imports only what it uses (`privacy-ledger query` on SQLite neither the append
# path nor the transparency log nor any PostgreSQL or Kafka client); the methods below import the rest.
if TYPE_CHECKING:
    from ledger.domain.codes import CodeLists
    from ledger.log.checkpoints import IssuedCheckpoint
    from ledger.log.note import SignerKey, VerifierKey
    from ledger.log.tlog_proof import TlogProof
    from ledger.log.witness import WitnessCopy
    from ledger.store.chain import ChainReport
    from ledger.store.crypto import KeyWrapper
    from ledger.store.database import LedgerStore
    from ledger.store.ingest import Ingestor
    from ledger.store.keystore import KeyStore
    from ledger.store.messages import BatchResult, Message

__all__ = ["Ledger", "UnknownSubject", "system_clock"]


class UnknownSubject(LedgerError):
    """An operation names a subject the ledger has never seen (no event, key or merge): nothing done."""


# Spec 6.13 counter names and the ledger_counters rows they read.
_HEALTH_COUNTERS = (
    ("consumed", "consumed"),
    ("stored_producer_events", "stored"),
    ("duplicates", "duplicates"),
    ("dead_lettered", "dead_lettered"),
    ("parked", "parked"),
    ("system_events", "system_events"),
)


def _offset(progress: Callable[[int], None] | None, before: int) -> Callable[[int], None] | None:
    """``progress`` counting from ``before`` (the messages of the files already ingested)."""
    if progress is None:
        return None
    report = progress
    return lambda n: report(before + n)


def _database_location(store: LedgerStore) -> str:
    """The database's location naming its files outside it (witness copy, destruction journal)."""
    if store.dialect.is_postgres:
        return store.location
    return str(Path(store.location).resolve())  # the same file whatever the working directory


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
    # The checkpoint signing key, loaded when first needed (``signing_key``).
    _signer: SignerKey | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        wrapper: KeyWrapper | None = None,
        read_only: bool = False,
        restoring: bool = False,
    ) -> Ledger:
        """Build the ledger from settings (default: the environment).

        The master key must be the ledger's (``ledger.store.masterkey``): another key is refused
        (``MasterKeyError``), and a development key is only created for a new, empty ledger.
        ``read_only`` opens an existing ledger without creating or writing anything (no folder, key,
        database or table); where there is no ledger it raises ``NoLedgerError``.
        A database that still holds keys the destruction journal says were destroyed (a restored
        backup) is refused (``RestorePending``) unless ``restoring`` (``privacy-ledger after-restore``).
        """
        from ledger.codelists import load_code_lists
        from ledger.store.crypto import FileMasterKey
        from ledger.store.database import LedgerStore
        from ledger.store.destructions import DestructionJournal, check_journal
        from ledger.store.integrate import backfill_tree
        from ledger.store.keystore import KeyStore
        from ledger.store.masterkey import bind_master_key, master_key_for

        settings = settings or Settings.from_env()
        source = "the master key"
        if wrapper is None and settings.master_key_file is not None and not read_only:
            # Checked before a new database is created for it.
            wrapper = FileMasterKey.load(settings.master_key_file)
            source = f"LEDGER_MASTER_KEY_FILE {settings.master_key_file}"
        store = LedgerStore(settings.database_url, pool_size=settings.pg_pool_size, read_only=read_only)
        try:
            if wrapper is None:
                wrapper, source = master_key_for(
                    settings.master_key_file, settings.var_dir / "master.key", store
                )
            bind_master_key(store, wrapper, source)
            if not read_only:
                # A ledger created before the Merkle tree: its records join the tree once, here.
                backfill_tree(store)
            journal = DestructionJournal(settings.witness_dir, _database_location(store))
            if not restoring:
                with store.read() as cur:
                    check_journal(cur, journal)
        except BaseException:
            store.close()
            raise
        return cls(
            settings=settings,
            store=store,
            keys=KeyStore(wrapper, journal),
            codes=load_code_lists(),
            clock=clock or system_clock,
        )

    @property
    def ingestor(self) -> Ingestor:
        """The append path."""
        from ledger.store.ingest import Ingestor

        return Ingestor(
            self.store,
            self.keys,
            self.codes,
            self.clock,
            park_grace_seconds=self.settings.park_grace_seconds,
        )

    def ingest_messages(
        self, messages: Iterable[Message], *, progress: Callable[[int], None] | None = None
    ) -> BatchResult:
        """Append messages in batches of the configured size (``progress``: messages consumed so far)."""
        return self.ingestor.ingest(messages, batch_size=self.settings.batch_size, progress=progress)

    def expire_parked(self) -> BatchResult:
        """Maintenance: dead-letter parked events past the park grace; drop raw dead-letter payloads
        older than 30 days, now (one write transaction). Every batch does the same; see ``expire_due``."""
        return self.ingestor.ingest_batch([])

    def expire_due(self) -> BatchResult:
        """Dead-letter the parked events past the park grace, if any: one small read when none is due.

        ``ingest`` (even of an empty file), every ``consume`` poll and every ``project`` pass call it.
        """
        return self.ingestor.expire_due()

    def ingest_files(
        self, paths: Sequence[Path], *, progress: Callable[[int], None] | None = None
    ) -> BatchResult:
        """Append the events of JSON-lines or Avro container files (``progress``: messages so far).

        Every file is checked first (``InputFileError``): a missing or unreadable one appends nothing.
        """
        from ledger.store.ingest import check_input_files, read_messages
        from ledger.store.messages import BatchResult

        check_input_files(paths)
        total = BatchResult()
        for path in paths:
            total.add(self.ingest_messages(read_messages(path), progress=_offset(progress, total.consumed)))
        return total

    def subject_events(self, subject_id: str) -> list[dict[str, Any]]:
        """The subject's events in order, decrypted or redacted."""
        from ledger.reader import list_subject_events

        return list_subject_events(self.store, self.keys, subject_id)

    def erase(
        self,
        subject_id: str,
        categories: Sequence[str] = ("*",),
        *,
        reason: str = "erasure_request",
        actor_ref: str = "cli",
    ) -> BatchResult:
        """Record a ``DataErased`` for the subject; the append path then shreds the keys (spec 5.1).

        The result's ``erasures`` says what happened per category (erased, deferred, nothing held).
        A subject the ledger has never seen raises :class:`UnknownSubject` and stores nothing.
        """
        from ledger.domain.timeutil import format_instant
        from ledger.store.messages import Message

        if not self.has_seen(subject_id):
            raise UnknownSubject(
                "the ledger has never seen this subject (no event, key or merge names it); nothing was stored"
            )
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

    def record_read(
        self,
        subject_id: str,
        *,
        actor_ref: str,
        role: str,
        view: str,
        reason: str,
        interface: str,
        case_id: str | None = None,
    ) -> None:
        """Append the spec 8 audit record of one plaintext read: a ``PersonalDataViewed`` on the
        subject's stream (codes and opaque ids only, checked against the code lists ``staff_role``,
        ``personal_data_view``, ``read_reason`` and ``access_interface``), in a transaction of its own.

        The staff service (``WebContext.record_read``) and the CLI's plaintext commands
        (``ledger.read_audit``) both record through here. Raises if it cannot be stored: the caller
        then shows nothing.
        """
        cause = f"read:{uuid.uuid4()}"
        payload: dict[str, Any] = {
            "actor_ref": actor_ref,
            "role": role,
            "view": view,
            "reason": reason,
            "interface": interface,
        }
        if case_id is not None:
            payload["case_id"] = case_id
        self.ingestor.append_system_event(
            "PersonalDataViewed", subject_id, payload, cause=cause, correlation_id=cause
        )

    def has_seen(self, subject_id: str) -> bool:
        """True if any stored event, data key (parked events are sealed under one) or merge names it."""
        with self.store.read() as cur:
            found = cur.execute(
                "SELECT 1 AS x FROM {t:ledger_chain} WHERE subject_id = ? "
                "UNION ALL SELECT 1 AS x FROM {t:ledger_keys} WHERE subject_id = ? "
                "UNION ALL SELECT 1 AS x FROM {t:ledger_merges} WHERE merged_subject_id = ? "
                "OR surviving_subject_id = ? LIMIT 1",
                (subject_id, subject_id, subject_id, subject_id),
            ).one()
        return found is not None

    def verify(
        self, *, progress: Callable[[int], None] | None = None, incremental: bool = False
    ) -> ChainReport:
        """Recompute the integrity chain, the Merkle tree and the checkpoints, the witness copy included
        (``progress``: the last ``seq`` checked, after each page). ``incremental``: from the last verified
        checkpoint (``verify_chain``; full when none is recorded or it does not check out)."""
        from ledger.log.signing import SigningKeyError
        from ledger.store.chain import verify_chain
        from ledger.store.tree_audit import LogContext

        try:
            key: VerifierKey | None = self.verifier_key
        except SigningKeyError:
            key = None  # reported: the signatures cannot be checked without the key
        # Read before the database's snapshot: the copy is written after its checkpoint commits.
        note = self.witness.read()
        context = LogContext(self.settings.log_origin, key, note)
        return verify_chain(self.store, progress=progress, context=context, incremental=incremental)

    # -- the transparency log ------------------------------------------------------------------

    @property
    def witness(self) -> WitnessCopy:
        """The copy of the last issued checkpoint kept outside the database."""
        from ledger.log.witness import WitnessCopy

        settings = self.settings
        return WitnessCopy(settings.witness_dir, settings.log_origin, _database_location(self.store))

    @property
    def verifier_key(self) -> VerifierKey:
        """The log's verifier key (``name+keyid+base64``), from its signing key; ``SigningKeyError``
        when there is no signing key."""
        return self.signing_key(create=False).verifier_key

    def signing_key(self, *, create: bool) -> SignerKey:
        """The checkpoint signing key: ``LEDGER_SIGNING_KEY_FILE``, else the development key in the var
        folder. With ``create``, a missing development key is made, but only while the ledger has issued
        no checkpoint (none in the table, no witness copy): a new key would sign a history that older
        checkpoints, signed by another key, vouch for."""
        from ledger.log.signing import SigningKeyError, create_dev_signer, load_signer

        if self._signer is not None:
            return self._signer
        settings = self.settings
        origin = settings.log_origin
        if settings.signing_key_file is not None:
            self._signer = load_signer(settings.signing_key_file, origin)
        elif settings.dev_signing_key.exists():
            self._signer = load_signer(settings.dev_signing_key, origin)
        elif create and not self._has_issued():
            self._signer = create_dev_signer(settings.dev_signing_key, origin)
        else:
            why = "this ledger has issued checkpoints, so no new key is made: " if create else ""
            raise SigningKeyError(
                f"no checkpoint signing key: LEDGER_SIGNING_KEY_FILE is not set and there is no development "
                f"key at {settings.dev_signing_key}; {why}set LEDGER_SIGNING_KEY_FILE to this log's key file"
            )
        return self._signer

    def _has_issued(self) -> bool:
        from ledger.log.checkpoints import latest_checkpoint

        if self.witness.read() is not None:
            return True
        with self.store.read() as cur:
            return latest_checkpoint(cur) is not None

    def issue_checkpoint(self) -> tuple[IssuedCheckpoint, bool]:
        """Sign a checkpoint of the tree if it grew since the last one; ``(checkpoint, issued)``.

        Refuses (``CheckpointRefused``, nothing signed) if the database does not extend the last issued
        checkpoint or its copy outside the database (``ledger.log.issue``).
        """
        from ledger.domain.timeutil import format_instant
        from ledger.log.issue import issue_checkpoint

        return issue_checkpoint(
            self.store,
            self.signing_key(create=True),
            self.settings.log_origin,
            self.witness,
            lambda: format_instant(self.clock()),
        )

    def checkpoint(self) -> IssuedCheckpoint:
        """The latest checkpoint, signed now if the log grew since the last one (see ``issue_checkpoint``)."""
        return self.issue_checkpoint()[0]

    def inclusion_proof(self, seq: int, checkpoint_size: int | None = None) -> tuple[TlogProof, bytes]:
        """The C2SP tlog-proof that record ``seq`` is in the checkpoint of ``checkpoint_size`` (default:
        the latest), and the record's leaf hash (``ledger.log.prove``)."""
        from ledger.log.prove import prove_inclusion

        self._require_tree()
        with self.store.read() as cur:
            return prove_inclusion(cur, seq, checkpoint_size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from tree size ``old`` to ``new`` (``ledger.log.prove``)."""
        from ledger.log.prove import prove_consistency

        self._require_tree()
        with self.store.read() as cur:
            return prove_consistency(cur, old, new)

    def _require_tree(self) -> None:
        from ledger.log.prove import NoProof

        if not self.store.has_table("ledger_checkpoints"):
            raise NoProof(
                "this ledger has no Merkle tree yet (it predates it): any write command, e.g. "
                "`privacy-ledger checkpoint`, builds it"
            )

    def checkpoint_if_grown(self) -> IssuedCheckpoint | None:
        """For services that sign periodically: one small read, and ``issue_checkpoint`` only when the
        tree grew since the last checkpoint. Returns the checkpoint signed now, or None."""
        from ledger.log.checkpoints import latest_checkpoint, tree_size

        with self.store.read() as cur:
            latest = latest_checkpoint(cur)
            size = tree_size(cur)
        if latest is not None and latest.size >= size:
            return None
        issued, fresh = self.issue_checkpoint()
        return issued if fresh else None

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

    def head_seq(self) -> int:
        """The last stored ``seq`` (0 on an empty ledger)."""
        with self.store.read() as cur:
            return int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)

    def health(self) -> dict[str, Any]:
        """Ingestion health (spec 6.13), read only: the counters under their spec names, whether they
        conserve (3.5 point 5), open dead letters by code, and parked messages with the oldest's age
        (seconds, ledger clock). Codes and counts only, never a value."""
        from ledger.domain.timeutil import canonical_timestamp

        now = self.clock()
        with self.store.read() as cur:
            stored = {
                str(r["name"]): int(r["value"])
                for r in cur.execute("SELECT name, value FROM {t:ledger_counters}").all()
            }
            open_letters = {
                str(r["error_code"]): int(r["n"])
                for r in cur.execute(
                    "SELECT error_code, COUNT(*) AS n FROM {t:ledger_dead_letters} WHERE status = 'OPEN' "
                    "GROUP BY error_code ORDER BY error_code"
                ).all()
            }
            parked = cur.execute(
                "SELECT COUNT(*) AS n, MIN(arrived_at) AS oldest FROM {t:ledger_parked}"
            ).one()
        counters = {name: stored.get(column, 0) for name, column in _HEALTH_COUNTERS}
        parked_now = int(parked["n"]) if parked else 0
        oldest = parked["oldest"] if parked else None
        age = (
            None if oldest is None else max(int((now - canonical_timestamp(str(oldest))).total_seconds()), 0)
        )
        return {
            "counters": counters,
            "conserved": counters["consumed"]
            == counters["stored_producer_events"]
            + counters["duplicates"]
            + counters["dead_lettered"]
            + parked_now,
            "dead_letters_open": {"count": sum(open_letters.values()), "by_code": open_letters},
            "parked": {"count": parked_now, "oldest_age_seconds": age},
        }

    def dead_letters(self, limit: int = 100, *, after: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """The newest dead letters (codes, paths and ids; never values); ``after`` = the
        ``(consumed_at, dlq_id)`` of the last one of the page before, for the next page."""
        where, params = "", [limit]
        after_params: list[Any] = []
        if after is not None:
            where = "WHERE consumed_at < ? OR (consumed_at = ? AND dlq_id > ?) "
            after_params = [after[0], after[0], after[1]]
        with self.store.read() as cur:
            return cur.execute(
                'SELECT dlq_id, consumed_at, topic, partition, offset_ AS "offset", event_id, '
                "event_type, error_code, error_path, error_message, status "
                f"FROM {{t:ledger_dead_letters}} {where}ORDER BY consumed_at DESC, dlq_id LIMIT ?",
                [*after_params, *params],
            ).all()

    def rotate_master_key(self, new: KeyWrapper) -> dict[str, Any]:
        """Re-wrap every data key under ``new`` in one transaction; from then on only ``new`` opens
        the ledger (``ledger.store.masterkey.rotate_master_key``)."""
        from ledger.store.masterkey import rotate_master_key

        return rotate_master_key(self.store, self.keys, new)

    def close(self) -> None:
        """Release connections."""
        self.store.close()
