"""C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed statement of a tree size and root hash.

The note text is: the origin line (the log's identity), the tree size in decimal without leading zeros,
the base64 root hash, then optional non-empty extension lines; each line ends in a newline.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from ledger.log.errors import FormatError, NoteError
from ledger.log.merkle import HASH_SIZE, MAX_TREE_SIZE
from ledger.log.note import SignerKey, VerifierKey, decode_base64, open_note, sign_note

__all__ = ["Checkpoint", "open_checkpoint", "parse_decimal", "sign_checkpoint"]

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def parse_decimal(text: str, what: str) -> int:
    """An unsigned 64-bit ASCII decimal without leading zeros; raise ``FormatError`` otherwise."""
    if not _DECIMAL.fullmatch(text) or int(text) > MAX_TREE_SIZE:
        raise FormatError(f"{what} must be a decimal from 0 to 2**64 - 1 without leading zeros")
    return int(text)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint body: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not line or any(char < " " for char in line):
                raise FormatError("checkpoint lines must be non-empty, without control characters")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise FormatError("checkpoint tree size must be from 0 to 2**64 - 1")
        if len(self.root_hash) != HASH_SIZE:
            raise FormatError(f"checkpoint root hash must be {HASH_SIZE} bytes")

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text (final newline included)."""
        if not text.endswith("\n"):
            raise FormatError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("checkpoint text needs an origin, a tree size and a root hash")
        try:
            root_hash = decode_base64(lines[2])
        except ValueError:
            raise FormatError("checkpoint root hash is not canonical base64") from None
        return cls(lines[0], parse_decimal(lines[1], "checkpoint tree size"), root_hash, tuple(lines[3:]))

    def to_text(self) -> str:
        """The note text."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> str:
    """The checkpoint as a signed note."""
    return sign_note(checkpoint.to_text(), [signer])


def open_checkpoint(data: bytes | str, log_key: VerifierKey, *, origin: str | None = None) -> Checkpoint:
    """The checkpoint of a signed note that ``log_key`` signed (other signatures, e.g. witnesses', ignored).

    With ``origin``, the checkpoint must name that log. Raises ``NoteError`` or ``FormatError``.
    """
    checkpoint = Checkpoint.parse(open_note(data, [log_key]).text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError("checkpoint origin is not the expected log")
    return checkpoint
