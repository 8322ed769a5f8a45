"""AES-256-GCM for personal fields and for wrapping data keys under the master key (KEK)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.canonical import canonical_bytes
from ledger.errors import LedgerError
from ledger.store.files import create_private_file, make_private_dir, read_secret_file

__all__ = [
    "KEY_CHECK_KID",
    "FileMasterKey",
    "KeyWrapper",
    "MasterKeyError",
    "commitment",
    "decrypt_value",
    "encrypt_value",
    "key_check_matches",
    "make_key_check",
    "new_data_key",
    "open_value",
    "seal_value",
]

log = logging.getLogger(__name__)

NONCE_BYTES = 12


class MasterKeyError(LedgerError):
    """The master key is missing, unreadable or does not open a stored data key."""


class KeyWrapper(Protocol):
    """Wraps and unwraps data keys; a file key today, a KMS or HSM behind the same interface later."""

    def wrap(self, data_key: bytes, kid: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, kid: str) -> bytes: ...


class FileMasterKey:
    """A 256-bit key-encryption key read from a file holding its base64 text."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, path: Path) -> FileMasterKey:
        """Read the key file at ``path``; refused if group or others have any access to it."""
        text = read_secret_file(path, "master key file", "LEDGER_MASTER_KEY_FILE", MasterKeyError)
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise MasterKeyError(f"the master key file {path} does not hold base64 text") from exc
        return cls(key)

    @classmethod
    def create_dev(cls, path: Path) -> FileMasterKey:
        """Create a development key at ``path`` (mode 0600; its folder 0700 if new) and warn.

        Only for a new, empty ledger: ``ledger.store.masterkey`` decides that. If another process
        created the file meanwhile, that key is loaded instead.
        """
        make_private_dir(path.parent)
        if create_private_file(path, base64.b64encode(secrets.token_bytes(32)) + b"\n"):
            log.warning(
                "created a DEVELOPMENT master key at %s (mode 0600); set LEDGER_MASTER_KEY_FILE "
                "to a managed key in production",
                path,
            )
        return cls.load(path)

    def wrap(self, data_key: bytes, kid: str) -> bytes:
        """Encrypt ``data_key`` under the master key, bound to its key id."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, kid.encode())

    def unwrap(self, wrapped: bytes, kid: str) -> bytes:
        """Decrypt a wrapped data key; fails if the master key or key id does not match."""
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], kid.encode())
        except (InvalidTag, ValueError) as exc:  # ValueError: a truncated row (nonce too short)
            raise MasterKeyError(f"the master key does not open data key {kid}") from exc


# The key-check value binds a master key to its ledger. It is the fixed 32-byte label below wrapped
# (AES-256-GCM, random nonce) by the master key under a key id that no data key can have (data key ids
# are ``subject/category/vN``). A wrong key fails the GCM tag; the ciphertext of a known label gives
# nobody the key. Going through ``KeyWrapper`` keeps it working for a KMS or HSM wrapper too.
KEY_CHECK_KID = "@master-key-check"
_KEY_CHECK_LABEL = hashlib.sha256(b"privacy-ledger master key check v1").digest()


def make_key_check(wrapper: KeyWrapper) -> str:
    """A fresh key-check value for ``wrapper``'s master key (base64 text, kept in ``ledger_meta``)."""
    return base64.b64encode(wrapper.wrap(_KEY_CHECK_LABEL, KEY_CHECK_KID)).decode()


def key_check_matches(wrapper: KeyWrapper, check: str) -> bool:
    """True if ``check`` was made by :func:`make_key_check` under the same master key.

    The GCM tag is checked in constant time by the cipher, and the label with
    :func:`hmac.compare_digest`.
    """
    try:
        label = wrapper.unwrap(base64.b64decode(check, validate=True), KEY_CHECK_KID)
    except (MasterKeyError, ValueError):
        return False
    return hmac.compare_digest(label, _KEY_CHECK_LABEL)


def new_data_key() -> bytes:
    """Return a fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def encrypt_value(aead: AESGCM, value: Any, aad: bytes) -> str:
    """Encrypt a JSON value; returns base64 of nonce(12) + ciphertext + tag(16)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return base64.b64encode(nonce + aead.encrypt(nonce, canonical_bytes(value), aad)).decode()


SALT_BYTES = 32


def commitment(salt: bytes, value: Any) -> str:
    """``base64(SHA-256(salt || JCS(value)))``: binds a disclosed plaintext to the stored envelope.

    The 32-byte random salt travels only inside the ciphertext, so the commitment reveals nothing about
    the value while the key exists, and nothing at all once the key is destroyed (the salt is gone too).
    A regulator given ``salt`` and ``value`` recomputes it and compares with the envelope's ``c``.
    """
    return base64.b64encode(hashlib.sha256(salt + canonical_bytes(value)).digest()).decode()


def seal_value(aead: AESGCM, value: Any, aad: bytes) -> tuple[str, str]:
    """Encrypt a personal value with a fresh salt; returns ``(enc, c)`` for the envelope.

    The plaintext under the AEAD is ``JCS({"s": base64(salt), "v": value})`` and ``c`` is
    :func:`commitment` of that salt and value (see ``README.md``, "Disclosed values are bound").
    """
    random = secrets.token_bytes(SALT_BYTES + NONCE_BYTES)
    salt, nonce = random[:SALT_BYTES], random[SALT_BYTES:]
    value_bytes = canonical_bytes(value)
    # JCS of {"s": base64(salt), "v": value}, from the value's JCS encoded once for both uses ("s"
    # sorts before "v"; base64 text needs no JSON escaping).
    inner = b'{"s":"' + base64.b64encode(salt) + b'","v":' + value_bytes + b"}"
    enc = base64.b64encode(nonce + aead.encrypt(nonce, inner, aad)).decode()
    return enc, base64.b64encode(hashlib.sha256(salt + value_bytes).digest()).decode()


def open_value(aead: AESGCM, envelope: dict[str, Any], aad: bytes) -> tuple[Any, str | None]:
    """Decrypt an envelope's value; returns ``(value, salt_b64)``, salt None for an envelope without
    a commitment (written before commitments existed: its value cannot be bound to the leaf)."""
    opened = decrypt_value(aead, str(envelope["enc"]), aad)
    if "c" not in envelope:
        return opened, None
    if not isinstance(opened, dict) or set(opened) != {"s", "v"}:
        raise InvalidTag("a committed envelope must hold a salt and a value")
    return opened["v"], str(opened["s"])


def decrypt_value(aead: AESGCM, enc: str, aad: bytes) -> Any:
    """Decrypt what :func:`encrypt_value` produced back into the JSON value."""
    import json

    blob = base64.b64decode(enc)
    return json.loads(aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad))
