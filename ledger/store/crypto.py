"""AES-256-GCM for personal fields and for wrapping data keys under the master key (KEK)."""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.canonical import canonical_bytes
from ledger.errors import LedgerError

__all__ = [
    "FileMasterKey",
    "KeyWrapper",
    "MasterKeyError",
    "decrypt_value",
    "encrypt_value",
    "new_data_key",
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
        """Read the key file at ``path``."""
        try:
            key = base64.b64decode(path.read_text().strip(), validate=True)
        except (OSError, ValueError) as exc:
            raise MasterKeyError(f"cannot read the master key file {path}") from exc
        return cls(key)

    @classmethod
    def load_or_create_dev(cls, path: Path) -> FileMasterKey:
        """Load the development key at ``path``, creating it (mode 0600) and warning when absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
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
        except InvalidTag as exc:
            raise MasterKeyError(f"the master key does not open data key {kid}") from exc


def new_data_key() -> bytes:
    """Return a fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def encrypt_value(aead: AESGCM, value: Any, aad: bytes) -> str:
    """Encrypt a JSON value; returns base64 of nonce(12) + ciphertext + tag(16)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return base64.b64encode(nonce + aead.encrypt(nonce, canonical_bytes(value), aad)).decode()


def decrypt_value(aead: AESGCM, enc: str, aad: bytes) -> Any:
    """Decrypt what :func:`encrypt_value` produced back into the JSON value."""
    import json

    blob = base64.b64decode(enc)
    return json.loads(aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad))
