"""The log's signing key: an Ed25519 note signer in a private file (``LEDGER_SIGNING_KEY_FILE``).

The file holds Go's ``sumdb/note`` signer text ``PRIVATE+KEY+name+keyid+base64``, whose name must be the
log's origin (``LEDGER_LOG_ORIGIN``). Like the master key it is refused when group or others can access
it. Without the setting, a development key is created beside the embedded database (mode 0600, with a
warning), only for a ledger that has issued no checkpoint yet.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ledger.errors import LedgerError
from ledger.log.errors import NoteError
from ledger.log.note import SignerKey
from ledger.store.files import create_private_file, make_private_dir, read_secret_file

__all__ = ["SigningKeyError", "create_dev_signer", "load_signer"]

log = logging.getLogger(__name__)


class SigningKeyError(LedgerError):
    """The log's signing key is missing, unreadable, open to others, malformed or for another log."""


def load_signer(path: Path, origin: str) -> SignerKey:
    """The signer key in ``path``; it must be private (0600) and named for the log ``origin``."""
    text = read_secret_file(path, "signing key file", "LEDGER_SIGNING_KEY_FILE", SigningKeyError)
    try:
        key = SignerKey.parse(text.strip())
    except NoteError:
        raise SigningKeyError(
            f"the signing key file {path} does not hold a note signer key (PRIVATE+KEY+name+keyid+key)"
        ) from None
    if key.name != origin:
        raise SigningKeyError(
            f"the signing key file {path} is the key of log {key.name}, not of LEDGER_LOG_ORIGIN {origin}"
        )
    return key


def create_dev_signer(path: Path, origin: str) -> SignerKey:
    """Create a development signing key for ``origin`` at ``path`` (0600, folder 0700 if new) and warn.

    If another process created it meanwhile, that key is loaded instead.
    """
    make_private_dir(path.parent)
    if create_private_file(path, (SignerKey.generate(origin).secret_text() + "\n").encode()):
        log.warning(
            "created a DEVELOPMENT checkpoint signing key at %s (mode 0600); set LEDGER_SIGNING_KEY_FILE "
            "to a managed key in production",
            path,
        )
    return load_signer(path, origin)
