"""C2SP signed notes (c2sp.org/signed-note, v1) with Ed25519 keys: key texts, signing and opening.

A note is UTF-8 text ending in a newline, a blank line, then one or more lines
``U+2014 EM DASH, space, key name, space, base64(4-byte key id || signature)``. Opening a note checks every
signature from a known key (one that fails rejects the note), ignores unknown keys, and needs at least
one known signature. Key texts are those of Go's ``golang.org/x/mod/sumdb/note``:
verifier ``name+hex8(key id)+base64(0x01 || public key)``, signer
``PRIVATE+KEY+name+hex8(key id)+base64(0x01 || seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.log.errors import NoteError

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Note",
    "Signature",
    "SignerKey",
    "VerifierKey",
    "decode_base64",
    "ed25519_key_id",
    "is_valid_key_name",
    "open_note",
    "sign_note",
]

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # the spec asks for at least 16; Go's reference accepts up to 100
_SIGNATURE_PREFIX = "\u2014 "
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
# The Unicode White_Space property (what Go's unicode.IsSpace tests): none may appear in a key name.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
)


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty UTF-8 with no Unicode space, no ``+`` and no control character."""
    return (
        bool(name)
        and "+" not in name
        and not any(char in _WHITE_SPACE or char < " " for char in name)
        and _is_utf8(name)
    )


def ed25519_key_id(name: str, public_key: bytes) -> int:
    """The key id: the first 4 bytes of ``SHA-256(name || 0x0A || 0x01 || public key)``, big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def decode_base64(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4), canonical form only; raise ``ValueError`` otherwise."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 note verifier key: a name, its key id and the 32-byte public key."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteError("invalid key name")
        if len(self.public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        if self.key_id != ed25519_key_id(self.name, self.public_key):
            raise NoteError(f"key id {self.key_id:08x} does not match the key {self.name}")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        """The verifier key named ``name`` for a raw 32-byte Ed25519 public key."""
        return cls(name, ed25519_key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``name+hex8id+base64(0x01 || public key)``."""
        parts = text.split("+", 2)  # the base64 key may itself contain "+"
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise NoteError("a verifier key reads name+keyid+key, the key id as 8 lowercase hex digits")
        name, key_id, key = parts
        return cls(name, int(key_id, 16), _ed25519_key_material(key, "verifier key"))

    @property
    def text(self) -> str:
        """The verifier key text."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, without the key id) is this key's signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class SignerKey:
    """An Ed25519 note signer: a key name and a private seed that never appears in ``repr``."""

    def __init__(self, name: str, seed: bytes) -> None:
        if not is_valid_key_name(name):
            raise NoteError("invalid key name")
        if len(seed) != 32:
            raise NoteError("an Ed25519 seed is 32 bytes")
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.verifier_key = VerifierKey.from_public_key(name, self._private.public_key().public_bytes_raw())

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """A new random signer key named ``name``."""
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse ``PRIVATE+KEY+name+hex8id+base64(0x01 || seed)``; the key id must match the key."""
        parts = text.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX_KEY_ID.fullmatch(parts[3]):
            raise NoteError("a signer key reads PRIVATE+KEY+name+keyid+key")
        key = cls(parts[2], _ed25519_key_material(parts[4], "signer key"))
        if key.key_id != int(parts[3], 16):
            raise NoteError(f"key id {parts[3]} does not match the signer key {key.name}")
        return key

    @property
    def name(self) -> str:
        """The key name."""
        return self.verifier_key.name

    @property
    def key_id(self) -> int:
        """The key id."""
        return self.verifier_key.key_id

    def secret_text(self) -> str:
        """The signer key text, secret: only for writing a key file."""
        seed = base64.b64encode(bytes([ALG_ED25519]) + self._private.private_bytes_raw()).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{seed}"

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SignerKey({self.name}+{self.key_id:08x})"


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key id and the signature bytes (without the key id)."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line, without its newline."""
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{_SIGNATURE_PREFIX}{self.name} {encoded}"


@dataclass(frozen=True)
class Note:
    """An opened note: its text (final newline included) and its signatures, checked or unknown."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def sign_note(text: str, signers: Sequence[SignerKey]) -> str:
    """The signed note: ``text`` (ending in a newline), a blank line, one signature line per signer."""
    _check_characters(text)
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if not signers:
        raise NoteError("a note needs at least one signer")
    message = text.encode()
    lines = [Signature(key.name, key.key_id, key.sign(message)).line + "\n" for key in signers]
    return text + "\n" + "".join(lines)


def open_note(data: bytes | str, verifiers: Iterable[VerifierKey]) -> Note:
    """Parse and verify a signed note against trusted ``verifiers``; raise ``NoteError`` unless it holds."""
    note = _decode(data)
    _check_characters(note)
    split = note.rfind("\n\n")  # the last blank line separates text from signatures
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note signatures must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    known = _index(verifiers)
    message = text.encode()
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[tuple[str, int, bytes], Signature] = {}
    for line in lines:
        signature = _parse_signature_line(line)
        key = known.get((signature.name, signature.key_id))
        if key is None:
            unverified.setdefault((signature.name, signature.key_id, signature.signature), signature)
        elif key.verify(message, signature.signature):
            verified.setdefault((signature.name, signature.key_id), signature)
        else:
            raise NoteError(f"invalid signature for key {signature.name}+{signature.key_id:08x}")
    if not verified:
        raise NoteError("note has no verifiable signature from a known key")
    return Note(text, tuple(verified.values()), tuple(unverified.values()))


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise NoteError("signature line must start with an em dash and a space")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise NoteError("signature line has an invalid key name")
    try:
        raw = decode_base64(encoded)
    except ValueError:
        raise NoteError(f"signature of key {name} is not canonical base64") from None
    if len(raw) < 5:
        raise NoteError(f"signature of key {name} is too short")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def _index(verifiers: Iterable[VerifierKey]) -> dict[tuple[str, int], VerifierKey]:
    known: dict[tuple[str, int], VerifierKey] = {}
    for key in verifiers:
        if known.setdefault((key.name, key.key_id), key) != key:
            raise NoteError(f"two different verifier keys are named {key.name}+{key.key_id:08x}")
    return known


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data  # _check_characters refuses what UTF-8 cannot encode (lone surrogates)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None


def _check_characters(text: str) -> None:
    if any(char < " " and char != "\n" for char in text):
        raise NoteError("note contains a control character other than newline")
    if not _is_utf8(text):
        raise NoteError("note is not valid UTF-8")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ed25519_key_material(encoded: str, what: str) -> bytes:
    try:
        raw = decode_base64(encoded)
    except ValueError:
        raise NoteError(f"{what} is not canonical base64") from None
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError(f"{what} is not an Ed25519 key (0x01 and 32 bytes)")
    return raw[1:]
