"""C2SP tlog-proof (c2sp.org/tlog-proof, v1): an offline-verifiable proof that an entry is in the log.

c2sp.org/tlog-proof@v1
extra <base64>                 (optional, unauthenticated application data)
index <decimal>
<base64 hash>                  (the inclusion proof, leaf's sibling first; zero or more lines)
                               (an empty line)
<the signed checkpoint note, verbatim>
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.log.checkpoint import Checkpoint, open_checkpoint, parse_decimal
from ledger.log.errors import FormatError
from ledger.log.merkle import HASH_SIZE, MAX_TREE_SIZE, verify_inclusion
from ledger.log.note import VerifierKey, decode_base64

__all__ = ["TLOG_PROOF_HEADER", "TlogProof", "verify_tlog_proof"]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    """An entry's index, its inclusion proof, the signed checkpoint it is proved against, optional extra."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index <= MAX_TREE_SIZE:
            raise FormatError("tlog-proof index must be from 0 to 2**64 - 1")
        if any(len(value) != HASH_SIZE for value in self.proof):
            raise FormatError(f"tlog-proof hashes must be {HASH_SIZE} bytes")
        if not self.checkpoint.endswith("\n"):
            raise FormatError("tlog-proof checkpoint must be a signed note ending in a newline")
        if self.extra == b"":
            raise FormatError("tlog-proof extra data, when present, is not empty")

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """Parse a tlog-proof text; the checkpoint is kept verbatim (``verify_tlog_proof`` checks it)."""
        line, rest = _next_line(text)
        if line != TLOG_PROOF_HEADER:
            raise FormatError(f"tlog-proof must start with {TLOG_PROOF_HEADER}")
        line, rest = _next_line(rest)
        extra = None
        if line.startswith("extra "):
            extra = _base64(line.removeprefix("extra "), "tlog-proof extra data")
            line, rest = _next_line(rest)
        if not line.startswith("index "):
            raise FormatError("tlog-proof needs an index line")
        index = parse_decimal(line.removeprefix("index "), "tlog-proof index")
        proof = []
        line, rest = _next_line(rest)
        while line:
            proof.append(_base64(line, "tlog-proof hash"))
            line, rest = _next_line(rest)
        return cls(index, tuple(proof), rest, extra)

    def to_text(self) -> str:
        """The tlog-proof text."""
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(value).decode() for value in self.proof)
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint


def verify_tlog_proof(
    proof: TlogProof, leaf: bytes, log_key: VerifierKey, *, origin: str | None = None
) -> Checkpoint:
    """Check the checkpoint's signature, then that leaf hash ``leaf`` is at ``proof.index`` in its tree.

    Returns the checkpoint; raises ``NoteError``, ``FormatError`` or ``ProofError``.
    """
    checkpoint = open_checkpoint(proof.checkpoint, log_key, origin=origin)
    verify_inclusion(proof.index, checkpoint.size, leaf, proof.proof, checkpoint.root_hash)
    return checkpoint


def _next_line(text: str) -> tuple[str, str]:
    line, newline, rest = text.partition("\n")
    if not newline:
        raise FormatError("tlog-proof is truncated")
    return line, rest


def _base64(text: str, what: str) -> bytes:
    try:
        raw = decode_base64(text)
    except ValueError:
        raise FormatError(f"{what} is not canonical base64") from None
    if not raw:
        raise FormatError(f"{what} is empty")
    return raw
