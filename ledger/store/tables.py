"""DDL of the ledger's own tables, beside eventsourcing's event table, in the same database."""

from __future__ import annotations

from ledger.store.dialect import Dialect

__all__ = ["KEY_CHECK_META", "create_statements"]

# The ``ledger_meta`` row holding the master key's check value (``ledger.store.crypto.make_key_check``):
# recorded when a ledger is first opened, replaced by a key rotation, compared on every open.
KEY_CHECK_META = "master_key_check"


def create_statements(d: Dialect) -> list[str]:
    """CREATE TABLE/INDEX statements (idempotent): chain, tree, checkpoints, keys, dedup and indexes."""
    big, blob = d.bigint, d.blob
    t = d.table
    return [
        # Small ledger-wide values: the write counter ('writer') and the key check (KEY_CHECK_META).
        f"CREATE TABLE IF NOT EXISTS {t('ledger_meta')} (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
        # The integrity chain: gap-free seq, one row per stored event (spec 3.4).
        f"CREATE TABLE IF NOT EXISTS {t('ledger_chain')} ("
        f"seq {big} PRIMARY KEY, notification_id {big} NOT NULL UNIQUE, "
        f"stream_id TEXT NOT NULL, stream_version {big} NOT NULL, event_id TEXT NOT NULL, "
        "event_type TEXT NOT NULL, subject_id TEXT, recorded_at TEXT NOT NULL, "
        "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ledger_chain_subject_idx ON {t('ledger_chain')} (subject_id, seq)",
        f"CREATE INDEX IF NOT EXISTS ledger_chain_stream_idx ON {t('ledger_chain')} (stream_id, seq)",
        # Data keys, wrapped by the master key; wrapped IS NULL means destroyed (shredded).
        f"CREATE TABLE IF NOT EXISTS {t('ledger_keys')} ("
        f"subject_id TEXT NOT NULL, category TEXT NOT NULL, key_version INTEGER NOT NULL, "
        f"wrapped {blob}, created_at TEXT NOT NULL, shredded_at TEXT, "
        "PRIMARY KEY (subject_id, category, key_version))",
        # Idempotency (spec 3.5): one row per stored producer event id.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_dedup')} ("
        f"event_id TEXT PRIMARY KEY, fp_kid TEXT NOT NULL, fingerprint TEXT NOT NULL, "
        f"seq {big} NOT NULL)",
        # Entities that later events refer to: request, objection, restriction, hold, complaint.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_entities')} ("
        "kind TEXT NOT NULL, entity_id TEXT NOT NULL, subject_id TEXT NOT NULL, "
        "event_id TEXT NOT NULL, occurred_at TEXT NOT NULL, PRIMARY KEY (kind, entity_id))",
        f"CREATE TABLE IF NOT EXISTS {t('ledger_merges')} ("
        "merged_subject_id TEXT PRIMARY KEY, surviving_subject_id TEXT NOT NULL, "
        "event_id TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {t('ledger_holds')} ("
        "hold_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, categories TEXT NOT NULL, "
        "active INTEGER NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ledger_holds_subject_idx ON {t('ledger_holds')} (subject_id)",
        f"CREATE INDEX IF NOT EXISTS ledger_merges_survivor_idx ON {t('ledger_merges')} "
        "(surviving_subject_id)",
        # Erasures blocked by a legal hold, re-run when the hold is released (spec 5.1).
        f"CREATE TABLE IF NOT EXISTS {t('ledger_deferred')} ("
        "erasure_event_id TEXT NOT NULL, subject_id TEXT NOT NULL, category TEXT NOT NULL, "
        "done INTEGER NOT NULL, PRIMARY KEY (erasure_event_id, subject_id, category))",
        f"CREATE INDEX IF NOT EXISTS ledger_deferred_subject_idx ON {t('ledger_deferred')} "
        "(subject_id, done)",
        # Rejected messages: codes and paths only; the raw bytes only encrypted (spec 3.6).
        f"CREATE TABLE IF NOT EXISTS {t('ledger_dead_letters')} ("
        "dlq_id TEXT PRIMARY KEY, consumed_at TEXT NOT NULL, topic TEXT NOT NULL, "
        f"partition INTEGER, offset_ {big}, event_id TEXT, event_type TEXT, "
        "error_code TEXT NOT NULL, error_path TEXT NOT NULL, error_message TEXT NOT NULL, "
        f"status TEXT NOT NULL, raw_ref {blob})",
        f"CREATE INDEX IF NOT EXISTS ledger_dead_letters_event_idx ON {t('ledger_dead_letters')} (event_id)",
        # Events whose reference (request, objection, restriction, hold, complaint, event) is not yet
        # stored (spec 3.5 point 4), kept sealed: personal fields already under the subject's keys.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_parked')} ("
        f"park_no {big} PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, "
        "ref_kind TEXT NOT NULL, ref_id TEXT NOT NULL, ref_path TEXT NOT NULL, "
        "arrived_at TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER, "
        f"offset_ {big}, sealed TEXT NOT NULL, fp_kid TEXT NOT NULL, fingerprint TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ledger_parked_ref_idx ON {t('ledger_parked')} (ref_kind, ref_id)",
        # Kafka positions, written in the same transaction as the events they carried (design:
        # exactly-once ingestion); Kafka's own committed offsets are advisory.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_offsets')} (topic TEXT NOT NULL, "
        f"partition INTEGER NOT NULL, next_offset {big} NOT NULL, updated_at TEXT NOT NULL, "
        "PRIMARY KEY (topic, partition))",
        # Dead letters still to be announced on the DLQ topic (an outbox: announced after commit).
        f"CREATE TABLE IF NOT EXISTS {t('ledger_dlq_outbox')} (dlq_id TEXT PRIMARY KEY)",
        # Conservation counters (spec 3.5 point 5), updated in the same transaction as the effect.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_counters')} (name TEXT PRIMARY KEY, value {big} NOT NULL)",
        # The Merkle tree over the chain's records (leaf seq - 1): one row per complete subtree, keyed
        # node = index * 64 + level (ledger.log.storage), written once by the append transaction.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_tree')} (node {big} PRIMARY KEY, hash {blob} NOT NULL)",
        # Every signed checkpoint the ledger issued (C2SP tlog-checkpoint notes), kept for good.
        f"CREATE TABLE IF NOT EXISTS {t('ledger_checkpoints')} (tree_size {big} PRIMARY KEY, "
        "root_hash TEXT NOT NULL, note TEXT NOT NULL, issued_at TEXT NOT NULL)",
    ]
