"""Read side of the store: a subject's events in order, personal fields decrypted or redacted."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.domain.catalogue import EVENT_TYPES, iter_personal_fields
from ledger.store.crypto import open_value
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from ledger.store.keystore import KeyStore

__all__ = ["ERASED", "decrypt_record", "disclose_envelope", "list_subject_events", "open_envelope"]

ERASED = "erased"

log = logging.getLogger(__name__)


def list_subject_events(store: LedgerStore, keys: KeyStore, subject_id: str) -> list[dict[str, Any]]:
    """Every stored event whose envelope names ``subject_id``, in ``seq`` order, decrypted.

    The chain's ``subject_id`` column only finds the rows: an event shows only if its hashed record
    names the subject, so a row whose column was edited never shows another subject's event.
    """
    out: list[dict[str, Any]] = []
    with store.read() as cur:
        rows = cur.execute(
            "SELECT c.seq, c.hash, e.state FROM {t:ledger_chain} c "
            f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
            "WHERE c.subject_id = ? ORDER BY c.seq",
            (subject_id,),
        ).all()
        memo: dict[str, AESGCM | None] = {}
        for row in rows:
            record = json.loads(bytes(row["state"]))["record"]
            if record.get("subject_id") != subject_id:
                log.warning("ledger_chain row seq %s does not match its stored event; run verify", row["seq"])
                continue
            event = decrypt_record(cur, keys, record, memo)
            out.append({"seq": int(row["seq"]), "hash": row["hash"], **event})
    return out


def open_envelope(
    cur: SqlCursor,
    keys: KeyStore,
    memo: dict[str, AESGCM | None],
    event_id: str,
    pointer: str,
    envelope: dict[str, Any],
) -> tuple[Any, str]:
    """Decrypt one stored ``{"enc", "kid", "cat"[, "c"]}`` envelope at JSON ``pointer`` of an event.

    Returns ``(value, "available")``, ``(None, "erased")`` once its key is destroyed, or
    ``(None, "unreadable")`` if the ciphertext does not open (tampered, or moved to another field).
    """
    value, state, _ = disclose_envelope(cur, keys, memo, event_id, pointer, envelope)
    return value, state


def disclose_envelope(
    cur: SqlCursor,
    keys: KeyStore,
    memo: dict[str, AESGCM | None],
    event_id: str,
    pointer: str,
    envelope: dict[str, Any],
) -> tuple[Any, str, str | None]:
    """Like :func:`open_envelope`, plus the commitment salt (base64) that binds the value to the stored
    envelope's ``c`` (None for an envelope written before commitments: "not bound")."""
    kid = str(envelope["kid"])
    if kid not in memo:
        secret = keys.lookup(cur, kid)
        memo[kid] = None if secret is None else AESGCM(secret)
    aead = memo[kid]
    if aead is None:
        return None, ERASED, None
    from ledger.store.writer import personal_aad  # the append path: imported by a read that decrypts

    try:
        value, salt = open_value(aead, envelope, personal_aad(event_id, pointer, kid))
    except (InvalidTag, ValueError):
        return None, "unreadable", None
    return value, "available", salt


def decrypt_record(
    cur: SqlCursor,
    keys: KeyStore,
    record: dict[str, Any],
    memo: dict[str, AESGCM | None] | None = None,
) -> dict[str, Any]:
    """A copy of a stored record with each personal field decrypted, or redacted once its key is gone."""
    if record.get("event_type") not in EVENT_TYPES:
        return dict(record)
    memo = {} if memo is None else memo
    fields = list(iter_personal_fields(record["event_type"], record["payload"]))
    if not fields:
        return dict(record)
    out = dict(record)
    payload = copy.deepcopy(record["payload"])
    for path, category in fields:
        node: Any = payload
        for step in path[:-1]:
            node = node[step]
        envelope = node[path[-1]]
        if not (isinstance(envelope, dict) and "enc" in envelope and "kid" in envelope):
            continue
        pointer = "/payload/" + "/".join(str(p) for p in path)
        value, state = open_envelope(cur, keys, memo, str(record["event_id"]), pointer, envelope)
        if state == "available":
            node[path[-1]] = value
        else:
            node[path[-1]] = {"redacted": state, "category": envelope.get("cat", category)}
    out["payload"] = payload
    return out
