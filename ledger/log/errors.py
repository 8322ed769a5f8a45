"""The errors of the transparency log: one root, one subclass per kind of failure.

Texts carry sizes, indexes, key names and key ids, never log content.
"""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = ["FormatError", "LogError", "NoteError", "ProofError"]


class LogError(LedgerError):
    """Root of every error ``ledger.log`` raises on purpose (also: bad arguments, missing stored hashes)."""


class ProofError(LogError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""


class NoteError(LogError):
    """A signed note or a note key is malformed, or no trusted signature verifies."""


class FormatError(LogError):
    """A checkpoint body or a tlog-proof text is malformed."""
