"""Timeline entries of an export (spec 6.8): each stored record as its leaf, restated with its plaintext.

An entry holds the record's non-personal fields exactly as stored, each personal field in plaintext (bound
to the leaf by the salt of its commitment), or ``{"redacted": "erased", "category": ...}`` once its key is
gone, the derived ``anomalies`` and ``alert_codes``, and what proves it: the stored leaf bytes (the record
as the chain hashed it, personal fields encrypted), its chain ``hash`` and ``prev_hash``, and its inclusion
proof in the signed checkpoint's tree. ``binding`` says, per personal field, how the verifier checks it.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.domain.catalogue import EVENT_TYPES, iter_personal_fields
from ledger.reader import ERASED, disclose_envelope
from ledger.store.chain import chained_bytes
from ledger.store.dialect import SqlCursor
from ledger.store.keystore import KeyStore

__all__ = ["AVAILABLE", "NOT_BOUND", "Disclosure", "StoredRecord", "disclose_payload", "entry"]

AVAILABLE = "available"
NOT_BOUND = "not_bound"
# Envelope fields a record may carry that an entry restates (beside the 6.8 columns), when present.
_OPTIONAL_FIELDS = ("correlation_id", "actor_ref")


@dataclass(frozen=True)
class StoredRecord:
    """One stored event as the chain holds it: its seq, chain hashes and hashed record (ciphertext)."""

    seq: int
    hash: str
    prev_hash: str
    record: dict[str, Any]

    @property
    def event_id(self) -> str:
        """The event id."""
        return str(self.record["event_id"])

    @property
    def leaf(self) -> bytes:
        """The Merkle leaf ``seq - 1``: the canonical bytes of the chained record."""
        return chained_bytes(self.record, self.seq, self.prev_hash)


@dataclass(frozen=True)
class Disclosure:
    """A record's payload with its personal fields disclosed, how each is bound, and their categories."""

    payload: Any
    binding: dict[str, dict[str, str]]
    disclosed_categories: frozenset[str]  # categories of the values shown in plaintext


def disclose_payload(
    cur: SqlCursor, keys: KeyStore, memo: dict[str, AESGCM | None], record: Mapping[str, Any]
) -> Disclosure:
    """The record's payload with every personal field in plaintext, or redacted, and its binding."""
    payload = record.get("payload")
    event_type = record.get("event_type")
    if event_type not in EVENT_TYPES or not isinstance(payload, dict):
        return Disclosure(payload, {}, frozenset())
    fields = list(iter_personal_fields(str(event_type), payload))
    if not fields:
        return Disclosure(payload, {}, frozenset())
    out: Any = dict(payload)
    copied: set[tuple[str | int, ...]] = set()
    binding: dict[str, dict[str, str]] = {}
    shown: set[str] = set()
    for path, category in fields:
        node = out
        for depth, step in enumerate(path[:-1]):
            # Copy the containers along the path once (the stored record is never changed).
            if path[: depth + 1] not in copied:
                node[step] = copy.copy(node[step])
                copied.add(path[: depth + 1])
            node = node[step]
        envelope = node[path[-1]]
        if not (isinstance(envelope, dict) and "enc" in envelope and "kid" in envelope):
            continue
        pointer = "/payload/" + "/".join(str(p) for p in path)
        value, state, salt = disclose_envelope(cur, keys, memo, str(record["event_id"]), pointer, envelope)
        cat = str(envelope.get("cat", category))
        if state == AVAILABLE:
            node[path[-1]] = value
            binding[pointer] = {"salt": salt} if salt is not None else {"state": NOT_BOUND}
            shown.add(cat)
        else:
            # Erased (key destroyed), or unreadable: the verifier names the latter as a failure.
            node[path[-1]] = {"redacted": state, "category": cat}
            binding[pointer] = {"state": state if state == ERASED else "unreadable"}
    return Disclosure(out, binding, frozenset(shown))


def entry(
    stored: StoredRecord,
    disclosure: Disclosure,
    *,
    anomalies: Sequence[str],
    alert_codes: Sequence[str],
    proof: Sequence[bytes],
) -> dict[str, Any]:
    """The 6.8 entry of a stored record, with its leaf and inclusion proof."""
    record = stored.record
    out: dict[str, Any] = {
        "seq": stored.seq,
        "event_id": record.get("event_id"),
        "event_type": record.get("event_type"),
        "occurred_at": record.get("occurred_at"),
        "recorded_at": record.get("recorded_at"),
        "producer": record.get("producer"),
        "subject_id": record.get("subject_id"),
    }
    out.update({name: record[name] for name in _OPTIONAL_FIELDS if name in record})
    out.update(
        {
            "payload": disclosure.payload,
            "anomalies": list(anomalies),
            "alert_codes": list(alert_codes),
            "hash": stored.hash,
            "prev_hash": stored.prev_hash,
            "binding": disclosure.binding,
            "leaf": base64.b64encode(stored.leaf).decode("ascii"),
            "leaf_index": stored.seq - 1,
            "inclusion_proof": [base64.b64encode(h).decode("ascii") for h in proof],
        }
    )
    return out
