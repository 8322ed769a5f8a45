#!/usr/bin/env python3
"""Verify a Privacy Ledger export offline, without the ledger's code.

A deliberately separate implementation of the checks a regulator relies on, short enough to read in
one sitting. It needs only the Python standard library and the `cryptography` package.

- Merkle tree hashes of RFC 9162 section 2.1 (the same as RFC 6962): leaf SHA-256(0x00 || data),
  node SHA-256(0x01 || left || right).
- Inclusion and consistency proofs, verified step by step as RFC 9162 sections 2.1.3.2 and 2.1.4.2 say.
- Signed notes (https://c2sp.org/signed-note) with an Ed25519 verifier key
  `name+keyid+base64(0x01 || public key)`, and checkpoints (https://c2sp.org/tlog-checkpoint).

Every check raises VerificationError with the reason when it fails.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import re
import sys
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
MAX_SIZE = 2**64 - 1  # tree sizes and indexes are unsigned 64-bit integers
EM_DASH_SPACE = "\u2014 "


class VerificationError(Exception):
    """A check failed; the message says which and why."""


# --- Merkle tree hashes and proofs (RFC 9162 section 2.1) -------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _require_hashes(*hashes: bytes) -> None:
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in hashes):
        raise VerificationError(f"every hash must be {HASH_SIZE} bytes")


def _require_size(*sizes: int) -> None:
    if any(isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_SIZE for n in sizes):
        raise VerificationError("tree sizes and indexes are integers from 0 to 2**64 - 1")


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2: leaf hash `leaf` is entry `index` of the tree of `size` with `root`."""
    _require_size(index, size)
    _require_hashes(leaf, root, *proof)
    if index >= size:  # step 1
        raise VerificationError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf  # steps 2 and 3
    for p in proof:  # step 4
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 5
        raise VerificationError("inclusion proof is too short")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the root hash")


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 section 2.1.4.2: the tree of `size2` with `root2` extends the tree of `size1` with `root1`."""
    _require_size(size1, size2)
    if not 0 < size1 <= size2:
        raise VerificationError("a consistency proof needs 0 < first size <= second size")
    if size1 == size2:  # the same tree: nothing to prove but that the roots agree
        if proof or root1 != root2:
            raise VerificationError("equal tree sizes need an empty proof and equal roots")
        return
    _require_hashes(root1, root2, *proof)
    if not proof:  # step 1
        raise VerificationError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 7
        raise VerificationError("consistency proof is too short")
    if fr != root1 or sr != root2:
        raise VerificationError("consistency proof does not lead to both root hashes")


# --- Signed notes and checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) ------------------


def _b64(text: str, what: str) -> bytes:
    """Strict, canonical standard base64."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise VerificationError(f"{what} is not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64")
    return raw


def _valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode white space (str.isspace covers it), no '+', no control character."""
    return bool(name) and "+" not in name and not any(c.isspace() or c < " " for c in name)


def verify_note(note: bytes, verifier_key: str) -> str:
    """Check that `verifier_key` signed `note`; return the note's text (final newline included).

    Signatures by other keys are ignored; a bad signature by this key rejects the note.
    """
    name, _, rest = verifier_key.partition("+")
    key_id, _, key = rest.partition("+")
    raw_key = _b64(key, "verifier key")
    if not _valid_key_name(name) or not re.fullmatch("[0-9a-f]{8}", key_id):
        raise VerificationError("verifier key must read name+keyid+key")
    if len(raw_key) != 33 or raw_key[0] != 0x01:
        raise VerificationError("verifier key is not an Ed25519 key")
    if hashlib.sha256(name.encode() + b"\n" + raw_key).digest()[:4] != bytes.fromhex(key_id):
        raise VerificationError("verifier key id does not match its name and key")
    public_key = Ed25519PublicKey.from_public_bytes(raw_key[1:])

    try:
        message = note.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("note is not UTF-8") from None
    if any(c < " " and c != "\n" for c in message):
        raise VerificationError("note contains a control character")
    text, separator, signatures = message.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise VerificationError("note must be text, a blank line, and signature lines ending in newlines")
    text += "\n"
    found = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(EM_DASH_SPACE):
            raise VerificationError("signature line does not start with an em dash and a space")
        signer, _, encoded = line[len(EM_DASH_SPACE) :].partition(" ")
        signature = _b64(encoded, "signature")
        if not _valid_key_name(signer) or len(signature) < 5:
            raise VerificationError("malformed signature line")
        if signer != name or signature[:4] != bytes.fromhex(key_id):
            continue  # another key's signature (a witness, a rotated key): not ours to judge
        try:
            public_key.verify(signature[4:], text.encode())
        except InvalidSignature:
            raise VerificationError(f"signature by {name} does not verify") from None
        found = True
    if not found:
        raise VerificationError(f"note carries no signature by {name}")
    return text


class Checkpoint(NamedTuple):
    """A checkpoint body: the log's origin, the tree size, the root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text: origin, decimal size, base64 root hash, optional extension lines."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(line == "" for line in lines[:-1]):
        raise VerificationError("checkpoint needs at least 3 non-empty lines, each ending in a newline")
    origin, size, root, *extensions = lines[:-1]
    if any(c < " " for c in text.replace("\n", "")):
        raise VerificationError("checkpoint contains a control character")
    if not re.fullmatch("0|[1-9][0-9]*", size) or int(size) > MAX_SIZE:
        raise VerificationError("checkpoint tree size is not a decimal without leading zeros")
    root_hash = _b64(root, "checkpoint root hash")
    _require_hashes(root_hash)
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


# --- Command line ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Verify an export bundle (not yet supported: exits 2)."""
    parser = argparse.ArgumentParser(description="Verify a Privacy Ledger export bundle offline.")
    parser.add_argument("bundle", help="the export bundle to verify")
    parser.add_argument("--log-key", help="the ledger's verifier key (name+keyid+key)")
    parser.parse_args(argv)
    # The bundle checks come here: each event's leaf and inclusion proof against the signed checkpoint,
    # consistency with a previously seen checkpoint, and each disclosed value against its leaf.
    print("verify_export: export bundles are not supported yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
