"""Announce dead letters on the DLQ topic from the outbox table, after their batch committed.

The dead-letter table is the record; the topic is a notification for operators and tools. Each
message carries only non-personal metadata (codes, paths, ids, source position) in headers and value;
the raw bytes stay encrypted in the database.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ledger.store.database import LedgerStore
from ledger.store.dialect import InList

__all__ = ["publish_outbox"]

log = logging.getLogger(__name__)

_FIELDS = (
    "dlq_id",
    "error_code",
    "error_path",
    "topic",
    "partition",
    "offset",
    "event_id",
    "event_type",
    "consumed_at",
)


def publish_outbox(store: LedgerStore, producer: Any, dlq_topic: str, *, limit: int = 1000) -> int:
    """Send pending dead-letter notices and remove them from the outbox; returns how many were sent.

    A notice whose send fails stays in the outbox and is sent again next time (at least once).
    """
    with store.read() as cur:
        rows = cur.execute(
            'SELECT d.dlq_id, d.error_code, d.error_path, d.topic, d.partition, d.offset_ AS "offset", '
            "d.event_id, d.event_type, d.consumed_at FROM {t:ledger_dlq_outbox} o "
            "JOIN {t:ledger_dead_letters} d ON d.dlq_id = o.dlq_id ORDER BY d.consumed_at, d.dlq_id "
            "LIMIT ?",
            (limit,),
        ).all()
    if not rows:
        return 0
    futures = []
    for row in rows:
        meta = {k: row[k] for k in _FIELDS}
        headers = [(k, str(v).encode()) for k, v in meta.items() if v is not None]
        key = (row["event_id"] or row["dlq_id"]).encode()
        futures.append(
            (
                row["dlq_id"],
                producer.send(dlq_topic, value=json.dumps(meta).encode(), key=key, headers=headers),
            )
        )
    producer.flush()
    sent = []
    for dlq_id, future in futures:
        try:
            future.get(timeout=30)
            sent.append(dlq_id)
        except Exception as exc:  # kafka-python raises many types; the notice is retried next time
            log.warning("dead-letter notice %s not sent yet (%s)", dlq_id, type(exc).__name__)
    if sent:
        with store.write(lock=False) as cur:
            for start in range(0, len(sent), 500):
                chunk = sent[start : start + 500]
                cur.execute("DELETE FROM {t:ledger_dlq_outbox} WHERE dlq_id {in}", (InList(chunk),))
    return len(sent)
