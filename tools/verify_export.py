#!/usr/bin/env python3
"""Verify a Privacy Ledger export bundle offline, without the ledger's code.

    python3 verify_export.py BUNDLE.zip --key verifier.key [--previous-checkpoint OLD.zip] [--json]

A deliberately separate implementation of the checks a regulator relies on, short enough to read in
one sitting. It needs only the Python standard library and the `cryptography` package.

- Merkle tree hashes of RFC 9162 section 2.1 (the same as RFC 6962): leaf SHA-256(0x00 || data),
  node SHA-256(0x01 || left || right).
- Inclusion and consistency proofs, verified step by step as RFC 9162 sections 2.1.3.2 and 2.1.4.2 say.
- Signed notes (https://c2sp.org/signed-note) with an Ed25519 verifier key
  `name+keyid+base64(0x01 || public key)`, and checkpoints (https://c2sp.org/tlog-checkpoint).
- RFC 8785 JSON canonicalization (JCS), for leaves and for the commitments of disclosed values.

What a bundle claims, and how each claim is checked (`verify_bundle`):

- The checkpoint (a tree size and root hash) is signed by the key given with --key, the regulator's own
  copy of the ledger's verifier key (not the bundle's: that only has to agree with it).
- Each entry's leaf is the stored record exactly as the ledger hashed it (personal fields encrypted), and
  its inclusion proof leads from that leaf to the checkpoint's root: the record is in the log, unchanged.
- The entry restates its leaf: every field equal, except that each encrypted personal field is shown in
  plaintext bound by SHA-256(salt || JCS(value)) == the commitment "c" stored beside the ciphertext, or
  as erased (its key destroyed: a KeyShredded entry must say so), or "not bound" (stored before the
  ledger kept commitments: shown, but not checkable).
- `hash` = SHA-256(leaf), `prev_hash` links consecutive records, entries are in time order.
- With a consistency proof (or --previous-checkpoint), the log is proved to extend an earlier checkpoint:
  nothing the regulator was shown before was rewritten or cut.
- The footer's export_sha256 is the SHA-256 of export.json with that field empty (see README.txt), and the
  ledger's own full chain verification at export time passed.

Every check names each failure; exit 0 valid, 1 invalid, 2 the bundle or key cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import sys
import zipfile
import zlib
from typing import Any, NamedTuple

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


def parse_verifier_key(verifier_key: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """The name, 4-byte key id and Ed25519 public key of a `name+keyid+base64(0x01 || key)` text."""
    name, _, rest = verifier_key.partition("+")
    key_id, _, key = rest.partition("+")
    raw_key = _b64(key, "verifier key")
    if not _valid_key_name(name) or not re.fullmatch("[0-9a-f]{8}", key_id):
        raise VerificationError("verifier key must read name+keyid+key")
    if len(raw_key) != 33 or raw_key[0] != 0x01:
        raise VerificationError("verifier key is not an Ed25519 key")
    if hashlib.sha256(name.encode() + b"\n" + raw_key).digest()[:4] != bytes.fromhex(key_id):
        raise VerificationError("verifier key id does not match its name and key")
    return name, bytes.fromhex(key_id), Ed25519PublicKey.from_public_bytes(raw_key[1:])


def verify_note(note: bytes, verifier_key: str) -> str:
    """Check that `verifier_key` signed `note`; return the note's text (final newline included).

    Signatures by other keys are ignored; a bad signature by this key rejects the note.
    """
    name, key_id, public_key = parse_verifier_key(verifier_key)

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
        if signer != name or signature[:4] != key_id:
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


# --- RFC 8785 JSON canonicalization (JCS) ------------------------------------------------------------
# Objects: keys sorted by their UTF-16 code units, no white space. Strings: escapes as ECMAScript's
# JSON.stringify writes them. Numbers: integers as digits (the ledger's values are strings, integers,
# booleans, null, lists and objects), any float as ECMAScript's Number.prototype.toString.

_STRING_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _jcs_string(text: str) -> str:
    if _LONE_SURROGATE.search(text):
        raise VerificationError("a string holds a lone surrogate, which JSON text cannot carry")
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _STRING_ESCAPES.get(m[0], f"\\u{ord(m[0]):04x}"), text) + '"'


def _jcs_number(value: float) -> str:
    """ECMAScript Number::toString: the shortest digits that round-trip, placed by the exponent."""
    if value != value or value in (float("inf"), float("-inf")):
        raise VerificationError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")  # repr gives the shortest round-trip digits
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    n = len(digits) + int(exponent or 0) - len(fraction)  # value = 0.<digits> * 10**n
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    power = f"e{'+' if n >= 1 else '-'}{abs(n - 1)}"
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + power


def _utf16_units(key: str) -> bytes:
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError:
        raise VerificationError("an object key holds a lone surrogate") from None


def _jcs(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _jcs_number(value)
    if isinstance(value, str):
        return _jcs_string(value)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=_utf16_units)
        return "{" + ",".join(_jcs_string(k) + ":" + _jcs(value[k]) for k in keys) + "}"
    raise VerificationError(f"a {type(value).__name__} is not a JSON value")


def jcs(value: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON value, as UTF-8 bytes."""
    return _jcs(value).encode("utf-8")


# --- Reading a bundle ----------------------------------------------------------------------------------

MEMBER_LIMIT = 2**31  # bytes; a larger member is refused rather than read into memory
KINDS = ("subject", "request", "complaint", "access_pack")
_SALT_SIZE = 32


class UnreadableBundle(Exception):
    """The bundle cannot be read at all (not a zip or folder, truncated, damaged, no export.json)."""


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def read_bundle(path: str) -> tuple[dict[str, Any], dict[str, bytes], list[str]]:
    """The export document, every member's bytes, and member names that appear more than once.

    ``path`` is the bundle's zip file or the folder it was unpacked into.
    """
    members: dict[str, bytes] = {}
    duplicates: list[str] = []
    try:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if os.path.isfile(full):
                    if os.path.getsize(full) > MEMBER_LIMIT:
                        raise UnreadableBundle(f"member {name} is larger than {MEMBER_LIMIT} bytes")
                    with open(full, "rb") as handle:
                        members[name] = handle.read()
        else:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.file_size > MEMBER_LIMIT:
                        raise UnreadableBundle(f"member {info.filename} is larger than {MEMBER_LIMIT} bytes")
                    if info.filename in members:
                        duplicates.append(info.filename)
                    members[info.filename] = archive.read(info)  # checks each member's CRC-32
    except OSError as exc:
        raise UnreadableBundle(f"cannot read the bundle {path}: {exc.strerror or exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise UnreadableBundle(
            f"the bundle {path} is not a readable zip (truncated or damaged?): {exc}"
        ) from None
    if "export.json" not in members:
        raise UnreadableBundle(f"the bundle {path} holds no export.json")
    try:
        doc = json.loads(members["export.json"].decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UnreadableBundle("export.json is not UTF-8 JSON (truncated or damaged?)") from None
    if not isinstance(doc, dict):
        raise UnreadableBundle("export.json is not a JSON object")
    try:  # a \ud800-\udfff escape standing alone decodes to no text: nothing could be checked against it
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableBundle("export.json holds a lone surrogate escape, which is not text") from None
    return doc, members, duplicates


# --- The checks ----------------------------------------------------------------------------------------


class Check(NamedTuple):
    """One named check: a summary when it holds, and every failure it found."""

    name: str
    summary: str
    failures: list[str]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures


def _open_checkpoint(note: Any, key: str, what: str) -> Checkpoint:
    if not isinstance(note, str):
        raise VerificationError(f"{what} is not a signed note text")
    return parse_checkpoint(verify_note(note.encode("utf-8"), key))


def _unsigned_checkpoint(note: Any) -> Checkpoint | None:
    """The checkpoint body of a note whose signature failed, to go on checking proofs against it."""
    if not isinstance(note, str):
        return None
    text, separator, _ = note.rpartition("\n\n")
    try:
        return parse_checkpoint(text + "\n") if separator else None
    except VerificationError:
        return None


def _footer_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the document with footer.export_sha256 set to "", as the bundle's README says."""
    blank = dict(doc)
    blank["footer"] = {**doc["footer"], "export_sha256": ""}
    text = json.dumps(blank, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_INSTANT = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d\d):(\d\d))"
)


def instant(text: Any) -> datetime.datetime:
    """An RFC 3339 instant with an offset, in UTC, truncated to microseconds as the ledger computes it."""
    match = _INSTANT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise VerificationError(f"{text!r} is not an RFC 3339 instant with an offset")
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    micro = int((match[7] or "").ljust(6, "0")[:6])
    offset = datetime.timedelta(hours=int(match[9] or 0), minutes=int(match[10] or 0))
    zone = datetime.timezone(-offset if match[8] == "-" else offset)
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        raise VerificationError(f"{text!r} is not a valid date and time") from None
    return moment.astimezone(datetime.UTC)


# The fields an entry copies from its stored record; they must equal the leaf's.
RECORD_FIELDS = ("event_id", "event_type", "occurred_at", "recorded_at", "producer", "subject_id")
OPTIONAL_RECORD_FIELDS = ("schema_version", "correlation_id", "actor_ref")
PROOF_FIELDS = ("seq", "hash", "prev_hash", "binding", "leaf", "leaf_index", "inclusion_proof")
ENTRY_FIELDS = frozenset(
    (*RECORD_FIELDS, *OPTIONAL_RECORD_FIELDS, *PROOF_FIELDS, "payload", "anomalies", "alert_codes")
)


def _is_envelope(node: Any) -> bool:
    """A personal field as stored: {"enc", "kid", "cat"} and, since commitments, "c"."""
    return (
        isinstance(node, dict) and "enc" in node and "kid" in node and set(node) <= {"enc", "kid", "cat", "c"}
    )


class _EntryChecker:
    """Checks entries against their leaves; counts the disclosed values by how they are bound."""

    def __init__(self, shredded: set[tuple[str, str, int]] | None) -> None:
        self.shredded = shredded  # (subject, category, key version) the bundle's KeyShredded entries name
        self.values: list[str] = []  # value failures
        self.entries: list[str] = []  # other entry failures
        self.counts = {"bound": 0, "erased": 0, "not_bound": 0}

    def check(self, entry: dict[str, Any], seq: int, leaf_bytes: bytes) -> None:
        where = f"entry seq {seq}"
        try:
            leaf = json.loads(leaf_bytes.decode("utf-8"), parse_constant=_refuse_constant)
            canonical = isinstance(leaf, dict) and jcs(leaf) == leaf_bytes
        except (UnicodeDecodeError, ValueError, RecursionError, VerificationError):
            leaf, canonical = None, False
        if not canonical or not isinstance(leaf, dict):
            self.entries.append(f"{where}: its leaf is not a canonical JSON record")
            return
        if hashlib.sha256(leaf_bytes).hexdigest() != entry["hash"]:
            self.entries.append(f"{where}: hash does not match its leaf (SHA-256 of the leaf bytes)")
        if leaf.get("seq") != seq:
            self.entries.append(f"{where}: its leaf is the record of seq {leaf.get('seq')!r}")
        if leaf.get("prev_hash") != entry["prev_hash"]:
            self.entries.append(f"{where}: prev_hash does not match its leaf")
        for name in RECORD_FIELDS:
            if _jcs(entry.get(name)) != _jcs(leaf.get(name)):
                self.entries.append(f"{where}: {name} does not match its leaf")
        for name in OPTIONAL_RECORD_FIELDS:
            if name in entry and _jcs(entry[name]) != _jcs(leaf.get(name)):
                self.entries.append(f"{where}: {name} does not match its leaf")
        binding = entry["binding"]
        seen: set[str] = set()
        self._walk(entry.get("payload"), leaf.get("payload"), "/payload", binding, seen, where)
        for pointer in sorted(set(binding) - seen):
            self.values.append(f"{where}: binding {pointer} names no personal field of its leaf")

    def _walk(self, shown: Any, stored: Any, pointer: str, binding: Any, seen: set[str], where: str) -> None:
        if _is_envelope(stored):
            seen.add(pointer)
            self._value(shown, stored, pointer, binding.get(pointer), where)
        elif isinstance(stored, dict):
            if not isinstance(shown, dict) or set(shown) != set(stored):
                self.entries.append(f"{where}: {pointer} does not match its leaf")
                return
            for key in stored:
                self._walk(shown[key], stored[key], f"{pointer}/{key}", binding, seen, where)
        elif isinstance(stored, list):
            if not isinstance(shown, list) or len(shown) != len(stored):
                self.entries.append(f"{where}: {pointer} does not match its leaf")
                return
            for index, (a, b) in enumerate(zip(shown, stored, strict=True)):
                self._walk(a, b, f"{pointer}/{index}", binding, seen, where)
        elif _jcs(shown) != _jcs(stored):
            self.entries.append(f"{where}: {pointer} does not match its leaf")

    def _value(self, shown: Any, envelope: dict[str, Any], pointer: str, bound: Any, where: str) -> None:
        at = f"{where}: disclosed value at {pointer}"
        if not isinstance(bound, dict):
            self.values.append(f"{at} has no binding")
        elif set(bound) == {"salt"}:
            commitment = envelope.get("c")
            try:
                salt = _b64(bound["salt"], "salt") if isinstance(bound["salt"], str) else b""
                digest = hashlib.sha256(salt + jcs(shown)).digest()
            except VerificationError:
                salt, digest = b"", b""
            if commitment is None:
                self.values.append(f"{at} carries a salt, but its leaf holds no commitment")
            elif len(salt) != _SALT_SIZE:
                self.values.append(f"{at}: its salt is not {_SALT_SIZE} bytes of base64")
            elif base64.b64encode(digest).decode("ascii") != commitment:
                self.values.append(f"{at} does not match its commitment")
            else:
                self.counts["bound"] += 1
        elif bound == {"state": "erased"}:
            self._erased(shown, envelope, at)
        elif bound == {"state": "not_bound"}:
            if "c" in envelope:
                self.values.append(f"{at} is said not bound, but its leaf holds a commitment")
            else:
                self.counts["not_bound"] += 1  # stored before commitments: shown, but cannot be checked
        elif bound == {"state": "unreadable"}:
            self.values.append(f"{at} is withheld: the ledger could not decrypt it (unreadable)")
        else:
            self.values.append(f"{at} has a binding this verifier does not know")

    def _erased(self, shown: Any, envelope: dict[str, Any], at: str) -> None:
        if shown != {"redacted": "erased", "category": envelope.get("cat")}:
            self.values.append(f"{at} is marked erased, but the entry shows something else")
            return
        if self.shredded is not None:
            subject, _, rest = str(envelope["kid"]).partition("/")
            category, _, version = rest.partition("/v")
            if (subject, category, int(version) if version.isdigit() else -1) not in self.shredded:
                self.values.append(
                    f"{at} is shown erased, but no KeyShredded entry for its key is in the bundle"
                )
                return
        self.counts["erased"] += 1


def _shredded_keys(entries: list[Any]) -> set[tuple[str, str, int]]:
    found: set[tuple[str, str, int]] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue  # named by _entry_problem
        payload = entry.get("payload")
        if entry.get("event_type") == "KeyShredded" and isinstance(payload, dict):
            versions = payload.get("key_versions")
            for version in versions if isinstance(versions, list) else []:
                if isinstance(version, int) and not isinstance(version, bool):
                    found.add((str(entry.get("subject_id")), str(payload.get("category")), version))
    return found


def _entry_problem(entry: Any, index: int) -> str | None:
    """Why an entry cannot be checked at all (missing or mistyped fields), or None."""
    if not isinstance(entry, dict):
        return f"entry #{index + 1} is not an object"
    seq = entry.get("seq")
    where = f"entry seq {seq}" if isinstance(seq, int) else f"entry #{index + 1}"
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return f"{where}: seq is not a positive integer"
    if entry.get("leaf_index") != seq - 1:
        return f"{where}: leaf_index is not seq - 1"
    unknown = sorted(set(entry) - ENTRY_FIELDS)
    if unknown:
        return f"{where}: unexpected field {unknown[0]} (nothing in an entry may go unchecked)"
    shapes = (
        ("hash", str),
        ("prev_hash", str),
        ("leaf", str),
        ("binding", dict),
        ("inclusion_proof", list),
        ("anomalies", list),
        ("alert_codes", list),
    )
    for name, kind in shapes:
        if not isinstance(entry.get(name), kind):
            return f"{where}: {name} is missing or not a {kind.__name__}"
    if not all(isinstance(code, str) for code in entry["anomalies"] + entry["alert_codes"]):
        return f"{where}: anomalies and alert_codes must be lists of codes"
    return None


def verify_bundle(
    doc: dict[str, Any],
    members: dict[str, bytes],
    key: str,
    *,
    duplicates: list[str] | None = None,
    previous_checkpoint: str | None = None,
) -> list[Check]:
    """Every check of an export bundle against the verifier key ``key`` (the regulator's own copy).

    ``previous_checkpoint`` is the signed checkpoint of an earlier bundle: the bundle must prove that
    the log it is proved against extends that one.
    """
    checks: list[Check] = []

    # 1. The bundle's parts.
    problems = [f"member {name} appears more than once in the zip" for name in duplicates or []]
    if doc.get("format") != "privacy-ledger-export/v1":
        problems.append("export.json is not a privacy-ledger-export/v1 document")
    if doc.get("kind") not in KINDS:
        problems.append(f"export kind {doc.get('kind')!r} is not one of {', '.join(KINDS)}")
    for name, field in (("checkpoint.txt", "checkpoint"), ("verifier.key", "verifier_key")):
        if name not in members:
            problems.append(f"member {name} is missing")
        elif members[name].decode("utf-8", "replace").strip() != str(doc.get(field, "")).strip():
            problems.append(f"member {name} differs from export.json's {field}")
    entries = doc.get("entries")
    footer = doc.get("footer")
    if not isinstance(entries, list):
        problems.append("export.json has no entries list")
        entries = []
    if not isinstance(footer, dict):
        problems.append("export.json has no footer")
        footer = {}
    scope: dict[str, Any] = doc["scope"] if isinstance(doc.get("scope"), dict) else {}
    checks.append(
        Check("bundle", f"export.json ({doc.get('kind')} {scope.get('id')}), members agree", problems)
    )

    # 2. The key the bundle names must be the key the regulator holds.
    named = str(doc.get("verifier_key", "")).strip()
    problems = (
        []
        if named == key
        else [f"the bundle names the verifier key {named.split('+')[0]!r}+..., not the key given"]
    )
    checks.append(Check("verifier key", f"the bundle names the key given ({key.split('+')[0]})", problems))

    # 2b. The signed manifest: every member's SHA-256, signed by the log's key (the whole bundle, the
    # sections a proof cannot reach and the reports included).
    checks.append(_manifest(members, key))

    # 3. The signed checkpoint.
    checkpoint: Checkpoint | None
    try:
        checkpoint = _open_checkpoint(doc.get("checkpoint"), key, "checkpoint")
        problems = []
    except VerificationError as exc:
        checkpoint, problems = _unsigned_checkpoint(doc.get("checkpoint")), [f"checkpoint: {exc}"]
    size = checkpoint.size if checkpoint else 0
    checks.append(Check("checkpoint", f"signed by {key.split('+')[0]}: tree size {size}", problems))

    # 4-5. Every entry: its inclusion proof, its leaf, and every disclosed value.
    whole_subject = (
        doc.get("kind") in ("subject", "access_pack") and not scope.get("from") and not scope.get("to")
    )
    checker = _EntryChecker(_shredded_keys(entries) if whole_subject else None)
    inclusion: list[str] = []
    usable: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        problem = _entry_problem(entry, index)
        if problem is not None:
            checker.entries.append(problem)
            continue
        seq = entry["seq"]
        usable.append(entry)
        try:
            leaf = _b64(entry["leaf"], "leaf")
            proof = [
                _b64(item, "proof hash") if isinstance(item, str) else b""
                for item in entry["inclusion_proof"]
            ]
        except VerificationError as exc:
            checker.entries.append(f"entry seq {seq}: {exc}")
            continue
        if checkpoint is None:
            inclusion.append(f"entry seq {seq}: no checkpoint to prove it against")
        else:
            try:
                verify_inclusion(seq - 1, checkpoint.size, leaf_hash(leaf), proof, checkpoint.root)
            except VerificationError as exc:
                inclusion.append(f"entry seq {seq}: inclusion proof: {exc} (tree size {checkpoint.size})")
        checker.check(entry, seq, leaf)
    checks.append(
        Check("inclusion proofs", f"{len(usable)} entries are leaves of the tree of size {size}", inclusion)
    )
    checks.append(
        Check(
            "entries",
            f"{len(usable)} entries match their leaves (hash, seq, prev_hash, every field)",
            checker.entries,
        )
    )
    counts = checker.counts
    summary = f"{counts['bound']} match their commitments, {counts['erased']} erased"
    if counts["not_bound"]:
        summary += f", {counts['not_bound']} recorded before commitments (shown, not bound)"
    checks.append(Check("disclosed values", summary, checker.values))

    # 6. Order, links between consecutive records, scope.
    problems = []
    keys: list[tuple[datetime.datetime, int]] = []
    for entry in usable:
        try:
            keys.append((instant(entry.get("occurred_at")), entry["seq"]))
        except VerificationError as exc:
            problems.append(f"entry seq {entry['seq']}: occurred_at: {exc}")
    if keys != sorted(keys) or len({seq for _, seq in keys}) != len(keys):
        problems.append("entries are not in occurred_at, seq order, each seq once")
    by_seq = {entry["seq"]: entry for entry in usable}
    links = 0
    for seq, entry in sorted(by_seq.items()):
        before = by_seq.get(seq - 1)
        if before is not None:
            links += 1
            if entry["prev_hash"] != before["hash"]:
                problems.append(f"entry seq {seq}: prev_hash does not link to entry seq {seq - 1}")
    subjects = scope.get("subjects")
    if doc.get("kind") in ("subject", "access_pack") and isinstance(subjects, list):
        outside = [e["seq"] for e in usable if e.get("subject_id") not in subjects]
        if outside:
            problems.append(f"entry seq {outside[0]} names a subject outside the export's scope")
    for bound, sign in (("from", 1), ("to", -1)):
        if scope.get(bound):
            try:
                limit = instant(scope[bound])
                late = [seq for moment, seq in keys if sign * (moment - limit).total_seconds() < 0]
            except VerificationError as exc:
                problems.append(f"scope {bound}: {exc}")
                continue
            if late:
                problems.append(f"entry seq {late[0]} falls outside the export's time window")
    checks.append(
        Check("order", f"occurred_at, seq order; {links} links between consecutive records", problems)
    )

    # 7. Consistency with the checkpoint the regulator received before.
    checks.append(_consistency(doc.get("consistency"), checkpoint, key, previous_checkpoint))

    # 8. The footer.
    problems = []
    chain = footer.get("chain_verification")
    if footer.get("export_sha256") != (_footer_hash(doc) if footer else None):
        problems.append("footer: export_sha256 does not match export.json")
    if not isinstance(chain, dict) or chain.get("valid") is not True:
        first = chain.get("first_invalid_seq") if isinstance(chain, dict) else None
        problems.append(f"footer: the ledger's full chain verification failed (first invalid seq {first})")
    checks.append(Check("footer", "export_sha256 matches; the ledger's chain verified in full", problems))
    return checks


MANIFEST = "manifest.sig"
MANIFEST_HEADER = "privacy-ledger export manifest v1"


def _manifest(members: dict[str, bytes], key: str) -> Check:
    """``manifest.sig``: a note signed by ``key`` whose lines are ``<sha256 hex>  <member>`` for every
    other member of the bundle, each member listed once and matching."""
    summary = "every member is listed with its SHA-256 in a note signed by the key given"
    if MANIFEST not in members:
        return Check("manifest", summary, [f"the bundle has no {MANIFEST}: nothing binds it to the ledger"])
    try:
        text = verify_note(members[MANIFEST], key)
    except VerificationError as exc:
        return Check("manifest", summary, [f"{MANIFEST}: {exc}"])
    lines = text.rstrip("\n").split("\n")
    if lines[0] != MANIFEST_HEADER:
        return Check("manifest", summary, [f"{MANIFEST} is not a {MANIFEST_HEADER}"])
    problems: list[str] = []
    listed: dict[str, str] = {}
    for line in lines[1:]:
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or name in listed or name == MANIFEST:
            problems.append(f"{MANIFEST}: malformed or repeated line for {name!r}")
            continue
        listed[name] = digest
    for name in sorted(set(members) - {MANIFEST}):
        if name not in listed:
            problems.append(f"member {name} is not in the signed manifest")
        elif hashlib.sha256(members[name]).hexdigest() != listed[name]:
            problems.append(f"member {name} differs from the signed manifest (edited after the export)")
    problems += [
        f"member {name} of the signed manifest is missing" for name in sorted(set(listed) - set(members))
    ]
    return Check("manifest", summary, problems)


def _consistency(consistency: Any, checkpoint: Checkpoint | None, key: str, previous: str | None) -> Check:
    problems: list[str] = []
    proved: Checkpoint | None = None
    summary = "no earlier checkpoint named"
    if consistency is not None:
        try:
            if not isinstance(consistency, dict) or checkpoint is None:
                raise VerificationError("malformed, or no checkpoint to prove it against")
            proved = _open_checkpoint(consistency.get("from_checkpoint"), key, "earlier checkpoint")
            proof = [
                _b64(h, "proof hash") if isinstance(h, str) else b"" for h in consistency.get("proof") or []
            ]
            if proved.origin != checkpoint.origin:
                raise VerificationError("the earlier checkpoint is of another log")
            verify_consistency(proved.size, checkpoint.size, proof, proved.root, checkpoint.root)
            summary = f"the tree of size {checkpoint.size} extends the earlier one of size {proved.size}"
        except VerificationError as exc:
            problems.append(f"consistency: {exc}")
            proved = None
    if previous is not None:
        try:
            given = _open_checkpoint(previous, key, "previous checkpoint")
        except VerificationError as exc:
            problems.append(f"previous checkpoint: {exc}")
        else:
            same = checkpoint is not None and (given.size, given.root) == (checkpoint.size, checkpoint.root)
            if not same and (proved is None or (proved.size, proved.root) != (given.size, given.root)):
                problems.append(
                    f"consistency: no proof that this log extends the previous checkpoint (size {given.size})"
                )
            elif same:
                summary = "the bundle is proved against the previous checkpoint itself"
    return Check("consistency", summary, problems)


# --- Command line --------------------------------------------------------------------------------------


def load_key(text: str) -> str:
    """The verifier key from its text or from a file holding it; checked (VerificationError if bad)."""
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as handle:
            text = handle.read()
    key = text.strip()
    if key.startswith("PRIVATE+KEY+"):
        raise VerificationError("that is the ledger's private signing key: give its verifier (public) key")
    if key.count("+") < 2:
        raise VerificationError(f"{text!r} is neither a file nor a verifier key (name+keyid+key)")
    parse_verifier_key(key)
    return key


def _previous(path: str) -> str:
    """The signed checkpoint in a file: a checkpoint note, or an earlier bundle (zip or folder)."""
    if os.path.isdir(path) or zipfile.is_zipfile(path):
        doc, _, _ = read_bundle(path)
        return str(doc.get("checkpoint"))
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def main(argv: list[str] | None = None) -> int:
    """Verify an export bundle; exit 0 valid, 1 invalid (every failure named), 2 unreadable or misused."""
    parser = argparse.ArgumentParser(
        prog="verify_export.py",
        description="Verify a Privacy Ledger export bundle offline. Exit 0: valid; 1: invalid (each "
        "failure named); 2: the bundle or key cannot be read.",
    )
    parser.add_argument("bundle", help="the export bundle (.zip), or the folder it was unpacked into")
    parser.add_argument(
        "--key", required=True, help="the ledger's verifier key (name+keyid+key), or a file holding it"
    )
    parser.add_argument(
        "--previous-checkpoint",
        metavar="FILE",
        help="a checkpoint received before (checkpoint.txt or an earlier bundle): the bundle must prove "
        "that the log still extends it",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        key = load_key(args.key)
    except (OSError, UnicodeDecodeError, VerificationError) as exc:
        print(f"verify_export.py: --key: {exc}", file=sys.stderr)
        return 2
    try:
        doc, members, duplicates = read_bundle(args.bundle)
        previous = _previous(args.previous_checkpoint) if args.previous_checkpoint else None
    except (OSError, UnicodeDecodeError, UnreadableBundle) as exc:
        print(f"verify_export.py: {exc}", file=sys.stderr)
        return 2
    checks = verify_bundle(doc, members, key, duplicates=duplicates, previous_checkpoint=previous)
    failures = [failure for check in checks for failure in check.failures]
    if args.json:
        result = {
            "valid": not failures,
            "checks": [
                {"check": c.name, "ok": c.ok, "summary": c.summary, "failures": c.failures} for c in checks
            ],
        }
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        for check in checks:
            if check.ok:
                print(f"ok    {check.name}: {check.summary}")
            for failure in check.failures:
                print(f"FAIL  {failure}")
        print("VALID: every check passed" if not failures else f"INVALID: {len(failures)} failure(s)")
        print(NOT_PROVEN)
    return 0 if not failures else 1


NOT_PROVEN = (
    "note: this proves the entries are records of the signed log and the plaintext shown is what they hold,\n"
    "      and that the ledger's key signed every member as it is (the sections beside the entries and the\n"
    "      reports are the ledger's statement, not proven from the log);\n"
    "      it cannot prove that no record was left out."
)


if __name__ == "__main__":
    sys.exit(main())
