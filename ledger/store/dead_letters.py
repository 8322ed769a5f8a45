"""The raw bytes of a dead letter, for the privileged (break-glass) role only (spec 3.6 ``raw_ref``).

``raw_ref`` is ``<key id>\\n<base64 of nonce + AES-256-GCM ciphertext>``, bound by associated data to
the ``dlq_id``. The key is the dead-letter key of the message's subject when its ``subject_id`` could
be read, else the ledger's; erasing the subject destroys that key (spec 5.1), and the payload is
dropped 30 days after it was consumed. Nothing here logs or returns anything but the bytes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import LedgerError
from ledger.store.crypto import decrypt_value
from ledger.store.database import LedgerStore
from ledger.store.keystore import KeyStore, parse_kid

__all__ = ["UnknownDeadLetter", "dead_letter_subject", "read_dead_letter_payload"]


class UnknownDeadLetter(LedgerError):
    """No dead letter has the given ``dlq_id``."""


def dead_letter_subject(store: LedgerStore, dlq_id: str) -> str | None:
    """The subject whose dead-letter key holds the raw bytes of ``dlq_id`` (the ledger's own subject when
    the message's could not be read), or None if no raw bytes are kept. ``UnknownDeadLetter`` if none."""
    with store.read() as cur:
        row = cur.execute("SELECT raw_ref FROM {t:ledger_dead_letters} WHERE dlq_id = ?", (dlq_id,)).one()
    if row is None:
        raise UnknownDeadLetter(f"no dead letter {dlq_id}")
    if row["raw_ref"] is None:
        return None
    return parse_kid(bytes(row["raw_ref"]).partition(b"\n")[0].decode())[0]


def read_dead_letter_payload(store: LedgerStore, keys: KeyStore, dlq_id: str) -> bytes | None:
    """The raw bytes of dead letter ``dlq_id`` as received, or None if they are gone.

    Gone means: never kept (a file record without raw bytes, or a key that could not be opened),
    purged after the retention, or unreadable because erasure destroyed their key. Raises
    :class:`UnknownDeadLetter` for an unknown id, and ``MasterKeyError`` if the key row is corrupt.
    """
    with store.read() as cur:
        row = cur.execute(
            "SELECT dlq_id, raw_ref FROM {t:ledger_dead_letters} WHERE dlq_id = ?", (dlq_id,)
        ).one()
        if row is None:
            raise UnknownDeadLetter(f"no dead letter {dlq_id}")
        if row["raw_ref"] is None:
            return None
        kid, _, enc = bytes(row["raw_ref"]).partition(b"\n")
        key = keys.lookup(cur, kid.decode())
    if key is None:
        return None
    text = decrypt_value(AESGCM(key), enc.decode(), str(row["dlq_id"]).encode())
    return str(text).encode("latin-1")
