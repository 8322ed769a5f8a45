"""The Avro wire format of ledger events: single-object encoding and object-container files.

Every released envelope schema is read from ``schemas/avro`` (see ``schemas/README.md``). Messages
are written with the newest release and read by finding the writer schema by its CRC-64-AVRO
fingerprint, then resolving it to the newest release, so every caller sees one JSON-form shape.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import fastavro
from fastavro.repository.base import AbstractSchemaRepository, SchemaRepositoryError
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from ledger._data import data_path
from ledger.errors import ErrorCode, EventRejected, LedgerError

__all__ = [
    "DEFAULT_SCHEMA_DIR",
    "MARKER",
    "AvroCodec",
    "AvroDecodeError",
    "AvroEncodeError",
    "AvroSchemaError",
    "ContainerBlockTooLarge",
    "Release",
]

DEFAULT_SCHEMA_DIR = data_path("schemas", "avro")
MARKER = b"\xc3\x01"  # Avro single-object encoding marker
_HEADER_LEN = len(MARKER) + 8
_MANIFEST = "releases.json"
_PAYLOAD = "payload"
# Field attribute marking an Avro string that holds the JSON text of an arbitrary JSON value.
_JSON_TEXT = "json_text"
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}

Schema = Any  # a fastavro parsed schema node: a name, a union list or a dict


class AvroDecodeError(EventRejected):
    """Avro bytes that do not give a JSON-form event; the message never holds field values."""

    def __init__(
        self,
        code: str,
        path: str,
        message: str,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        super().__init__(code, path, message)
        self.event_id = event_id  # as sent, when the envelope decoded (for the dead-letter entry)
        self.event_type = event_type


class AvroEncodeError(LedgerError):
    """A JSON-form event that does not fit the Avro schema: a code, a path, never a field value."""

    def __init__(self, code: str, path: str, message: str) -> None:
        self.code = str(code)
        self.path = path
        self.message = message
        super().__init__(self.code, path, message)

    def __str__(self) -> str:
        return f"{self.code} at {self.path}: {self.message}"


class ContainerBlockTooLarge(OSError):
    """Raised by a file object handed to ``read_container`` that refuses to load a block that large."""


class AvroSchemaError(LedgerError):
    """The schema directory or its manifest is missing, malformed or was edited after release."""


@dataclass(frozen=True)
class Release:
    """One released envelope schema: its version, parsed schema, canonical form and fingerprint."""

    version: int
    schema: Schema = field(repr=False)
    canonical_form: str = field(repr=False)
    fingerprint: bytes  # the 8 bytes after the marker: CRC-64-AVRO, little-endian
    named: Mapping[str, Schema] = field(repr=False)
    branches: Mapping[str, str] = field(repr=False)  # event type -> payload record full name


class AvroCodec:
    """Encodes JSON-form events to Avro and back, knowing every release in a schema directory."""

    def __init__(self, schema_dir: Path | str | None = None) -> None:
        directory = DEFAULT_SCHEMA_DIR if schema_dir is None else Path(schema_dir)
        self._releases = _load_releases(directory)
        self._current = self._releases[-1]
        self._by_fingerprint = {r.fingerprint: r for r in self._releases}

    @property
    def current(self) -> Release:
        """The current reader schema: the newest release."""
        return self._current

    @property
    def releases(self) -> tuple[Release, ...]:
        """Every release, oldest first."""
        return self._releases

    def fingerprints(self) -> dict[bytes, int]:
        """Map each release's 8-byte little-endian fingerprint to its version."""
        return {r.fingerprint: r.version for r in self._releases}

    def encode(self, event: Mapping[str, Any], *, version: int | None = None) -> bytes:
        """Encode a JSON-form event as a single object, in the newest release unless ``version``."""
        release = self._current if version is None else self._release(version)
        buf = io.BytesIO()
        buf.write(MARKER + release.fingerprint)
        fastavro.schemaless_writer(buf, release.schema, _envelope_to_avro(release, event))
        return buf.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode single-object bytes into a JSON-form event in the shape of the current schema."""
        if len(data) < _HEADER_LEN or data[: len(MARKER)] != MARKER:
            raise AvroDecodeError(ErrorCode.UNKNOWN_SCHEMA, "", "no Avro single-object marker")
        writer = self._by_fingerprint.get(bytes(data[len(MARKER) : _HEADER_LEN]))
        if writer is None:
            raise AvroDecodeError(
                ErrorCode.UNKNOWN_SCHEMA, "", "writer fingerprint matches no released schema"
            )
        body = io.BytesIO(data)
        body.seek(_HEADER_LEN)
        reader = None if writer is self._current else self._current.schema
        try:
            datum = fastavro.schemaless_reader(
                body,
                writer.schema,
                reader,
                return_record_name=True,
                return_record_name_override=True,
            )
        except Exception as exc:  # whatever the binary decoder raises, the body does not decode
            raise AvroDecodeError(
                ErrorCode.MALFORMED_JSON,
                "",
                f"Avro body does not decode with schema version {writer.version} ({type(exc).__name__})",
            ) from None
        if body.tell() != len(data):
            raise AvroDecodeError(
                ErrorCode.MALFORMED_JSON, "", f"{len(data) - body.tell()} bytes after the Avro body"
            )
        return _envelope_to_json(self._current, datum)

    def write_container(
        self, fo: IO[bytes], events: Iterable[Mapping[str, Any]], *, codec: str = "deflate"
    ) -> int:
        """Write JSON-form events to an Avro object-container file; return how many were written."""
        count = 0

        def records() -> Iterator[dict[str, Any]]:
            nonlocal count
            for event in events:
                yield _envelope_to_avro(self._current, event)
                count += 1

        fastavro.writer(fo, self._current.schema, records(), codec=codec)
        return count

    def read_container(self, fo: IO[bytes]) -> Iterator[dict[str, Any] | AvroDecodeError]:
        """Yield each event of an Avro object-container file, or the error met in its place."""
        try:
            records = fastavro.reader(
                fo,
                reader_schema=self._current.schema,
                return_record_name=True,
                return_record_name_override=True,
            )
        except Exception as exc:  # an unreadable header: not a container file at all
            yield AvroDecodeError(
                ErrorCode.MALFORMED_JSON,
                "",
                f"not an Avro object-container file ({type(exc).__name__})",
            )
            return
        if _fingerprint(records.writer_schema) not in self._by_fingerprint:
            yield AvroDecodeError(
                ErrorCode.UNKNOWN_SCHEMA, "", "the file's writer schema matches no released schema"
            )
            return
        index = 0
        while True:
            try:
                datum = next(records)
            except StopIteration:
                return
            except ContainerBlockTooLarge as exc:  # refused by the caller's file: nothing after it is read
                yield AvroDecodeError(ErrorCode.PAYLOAD_TOO_LARGE, "", f"record {index}: {exc}")
                return
            except Exception as exc:  # a corrupt block: nothing after it can be trusted
                yield AvroDecodeError(
                    ErrorCode.MALFORMED_JSON,
                    "",
                    f"record {index} does not decode ({type(exc).__name__})",
                )
                return
            result: dict[str, Any] | AvroDecodeError
            try:
                result = _envelope_to_json(self._current, datum)
            except AvroDecodeError as err:
                result = err
            yield result
            index += 1

    def _release(self, version: int) -> Release:
        for release in self._releases:
            if release.version == version:
                return release
        raise AvroSchemaError(f"no released schema has version {version}")


# --- loading releases ---


class _ReleaseFiles(AbstractSchemaRepository):
    """The named types of one release, each read from the file the manifest lists for it."""

    def __init__(self, directory: Path, files: Iterable[str]) -> None:
        self._schemas: dict[str, dict[str, Any]] = {}
        for name in files:
            raw = _read_json(directory / name)
            full = _full_name(raw)
            if full in self._schemas:
                raise AvroSchemaError(f"{full} is defined by two files of one release")
            self._schemas[full] = raw

    def load(self, name: str) -> dict[str, Any]:
        """Return a fresh copy of the named schema (fastavro inlines it where it is referenced)."""
        if name not in self._schemas:
            raise SchemaRepositoryError(f"{name} is not in this release")
        return copy.deepcopy(self._schemas[name])


def _load_releases(directory: Path) -> tuple[Release, ...]:
    manifest = _read_json(directory / _MANIFEST)
    releases: list[Release] = []
    try:
        for entry in manifest["releases"]:
            releases.append(_load_release(directory, entry))
    except (KeyError, TypeError) as exc:
        raise AvroSchemaError(f"{_MANIFEST} is malformed ({type(exc).__name__}: {exc})") from exc
    if not releases:
        raise AvroSchemaError(f"{_MANIFEST} lists no release")
    releases.sort(key=lambda r: r.version)
    if len({r.version for r in releases}) != len(releases):
        raise AvroSchemaError(f"{_MANIFEST} lists one version twice")
    if len({r.fingerprint for r in releases}) != len(releases):
        raise AvroSchemaError(f"{_MANIFEST} lists two releases with the same canonical form")
    return tuple(releases)


def _load_release(directory: Path, entry: Mapping[str, Any]) -> Release:
    version = int(entry["version"])
    repo = _ReleaseFiles(directory, entry["files"])
    try:
        schema = load_schema(entry["schema"], repo=repo)
    except (SchemaRepositoryError, ValueError) as exc:
        raise AvroSchemaError(f"release {version} does not load: {exc}") from exc
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise AvroSchemaError(f"release {version}: the envelope schema is not a record")
    canonical = to_parsing_canonical_form(schema)
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    if fp.hex() != entry["fingerprint"]:
        raise AvroSchemaError(
            f"release {version} has fingerprint {fp.hex()}, not {entry['fingerprint']} as released:"
            " a released schema file was edited (add a new version instead)"
        )
    named = _named_types(schema, {})
    payload = next((f for f in schema["fields"] if f["name"] == _PAYLOAD), None)
    if payload is None or not isinstance(payload["type"], list):
        raise AvroSchemaError(f"release {version}: the envelope has no payload union")
    branches = {}
    for branch in payload["type"]:
        full = branch if isinstance(branch, str) else branch["name"]
        branches[full.rsplit(".", 1)[-1]] = full
    return Release(version, schema, canonical, fp, named, branches)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AvroSchemaError(f"cannot read {path.name} ({type(exc).__name__})") from exc


def _full_name(raw: Mapping[str, Any]) -> str:
    name = str(raw["name"])
    return name if "." in name or not raw.get("namespace") else f"{raw['namespace']}.{name}"


def _named_types(schema: Schema, found: dict[str, Schema]) -> dict[str, Schema]:
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            found[schema["name"]] = schema
            for f in schema["fields"]:
                _named_types(f["type"], found)
        elif kind == "array":
            _named_types(schema["items"], found)
        elif isinstance(kind, dict | list):
            _named_types(kind, found)
    return found


def _fingerprint(schema: Schema) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


# --- JSON form -> Avro datum ---


def _envelope_to_avro(release: Release, event: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise AvroEncodeError(ErrorCode.INVALID_VALUE, "", "an event must be an object")
    event_type = event.get("event_type")
    branch = release.branches.get(event_type) if isinstance(event_type, str) else None
    if branch is None:
        raise AvroEncodeError(
            ErrorCode.UNKNOWN_EVENT_TYPE, "/event_type", "no payload record for this event type"
        )
    out: dict[str, Any] = {}
    for f in release.schema["fields"]:
        name = f["name"]
        if name != _PAYLOAD:
            out[name] = _field_to_avro(release, f, event, f"/{name}")
        elif event.get(_PAYLOAD) is None:
            raise AvroEncodeError(ErrorCode.MISSING_FIELD, "/payload", "required field is missing")
        else:
            # Tuple notation names the union branch, so equal-shaped payloads cannot be confused.
            out[name] = (branch, _to_avro(release, branch, event[_PAYLOAD], "/payload"))
    return out


def _field_to_avro(release: Release, f: Mapping[str, Any], record: Mapping[str, Any], path: str) -> Any:
    value = record.get(f["name"])
    if f.get(_JSON_TEXT):
        if value is None and _nullable(f["type"]):
            return None
        if f["name"] not in record:
            raise AvroEncodeError(ErrorCode.MISSING_FIELD, path, "required field is missing")
        try:
            return json.dumps(
                value, separators=(",", ":"), ensure_ascii=False, sort_keys=True, allow_nan=False
            )
        except (TypeError, ValueError):
            raise AvroEncodeError(ErrorCode.INVALID_VALUE, path, "value is not JSON") from None
    if value is None:
        if _nullable(f["type"]):
            return None
        raise AvroEncodeError(ErrorCode.MISSING_FIELD, path, "required field is missing or null")
    return _to_avro(release, f["type"], value, path)


def _to_avro(release: Release, schema: Schema, value: Any, path: str) -> Any:
    schema = release.named.get(schema, schema) if isinstance(schema, str) else schema
    if isinstance(schema, list):  # ["null", T]: the only unions besides the payload
        return None if value is None else _to_avro(release, _non_null(schema), value, path)
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind == "record":
        if not isinstance(value, Mapping):
            raise AvroEncodeError(ErrorCode.INVALID_VALUE, path, "expected an object")
        return {f["name"]: _field_to_avro(release, f, value, f"{path}/{f['name']}") for f in schema["fields"]}
    if kind == "array":
        if not isinstance(value, list | tuple):
            raise AvroEncodeError(ErrorCode.INVALID_VALUE, path, "expected an array")
        return [_to_avro(release, schema["items"], v, f"{path}/{i}") for i, v in enumerate(value)]
    if not isinstance(kind, str):
        return _to_avro(release, kind, value, path)
    if not _fits(kind, value):
        raise AvroEncodeError(ErrorCode.INVALID_VALUE, path, f"expected Avro {kind}")
    return value


def _fits(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind == "null" and value is None


def _nullable(schema: Schema) -> bool:
    return isinstance(schema, list) and "null" in schema


def _non_null(union: list[Schema]) -> Schema:
    (branch,) = [s for s in union if s != "null"]
    return branch


# --- Avro datum -> JSON form ---


def _envelope_to_json(release: Release, datum: Any) -> dict[str, Any]:
    event_type, event_id = datum.get("event_type"), datum.get("event_id")
    branch, payload = datum[_PAYLOAD]
    expected = release.branches.get(event_type) if isinstance(event_type, str) else None
    if expected is not None and branch != expected:
        raise AvroDecodeError(
            ErrorCode.INCONSISTENT_FIELDS,
            "/payload",
            f"payload record {branch.rsplit('.', 1)[-1]} does not match event_type {event_type}",
            event_id=event_id,
            event_type=event_type,
        )
    out: dict[str, Any] = {}
    for f in release.schema["fields"]:
        name = f["name"]
        if name == _PAYLOAD:
            body = _drop_none(payload)
            try:
                for json_path in _json_paths(release, branch):
                    _parse_json_text(body, json_path, "/payload")
            except AvroDecodeError as err:
                err.event_id, err.event_type = event_id, event_type
                raise
            out[name] = body
        elif datum.get(name) is not None:
            out[name] = _drop_none(datum[name])
    return out


def _drop_none(value: Any) -> Any:
    """Absent and null optional fields mean the same: drop nulls (Avro writes every optional field)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


_JSON_PATHS: dict[tuple[int, str], tuple[tuple[str, ...], ...]] = {}


def _json_paths(release: Release, record_name: str) -> tuple[tuple[str, ...], ...]:
    """Paths (``*`` = every element) of the JSON-text fields inside one payload record, cached."""
    key = (id(release), record_name)
    if key not in _JSON_PATHS:
        found: list[tuple[str, ...]] = []
        _collect_json_paths(release, record_name, (), found, set())
        _JSON_PATHS[key] = tuple(found)
    return _JSON_PATHS[key]


def _collect_json_paths(
    release: Release, schema: Schema, prefix: tuple[str, ...], found: list[tuple[str, ...]], seen: set[str]
) -> None:
    if isinstance(schema, str):
        if schema in seen or schema not in release.named:
            return
        schema = release.named[schema]
    if isinstance(schema, list):
        for branch in schema:
            if branch != "null":
                _collect_json_paths(release, branch, prefix, found, seen)
        return
    kind = schema["type"] if isinstance(schema, dict) else schema
    if kind == "record":
        for f in schema["fields"]:
            if f.get(_JSON_TEXT):
                found.append((*prefix, f["name"]))
            else:
                _collect_json_paths(release, f["type"], (*prefix, f["name"]), found, seen | {schema["name"]})
    elif kind == "array":
        _collect_json_paths(release, schema["items"], (*prefix, "*"), found, seen)
    elif isinstance(kind, dict | list):
        _collect_json_paths(release, kind, prefix, found, seen)


def _parse_json_text(node: Any, path: tuple[str, ...], at: str) -> None:
    """Replace the JSON text at ``path`` (under ``node``) by its parsed value, wherever present."""
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                _parse_json_text(item, rest, f"{at}/{i}") if rest else None
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _parse_json_text(node[head], rest, f"{at}/{head}")
        return
    try:
        node[head] = json.loads(node[head], parse_constant=_reject_constant)
    except ValueError:
        raise AvroDecodeError(
            ErrorCode.MALFORMED_JSON, f"{at}/{head}", "embedded JSON text does not parse"
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
