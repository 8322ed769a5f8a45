"""Primitive field checks for one JSON object of an event, building its normalised copy as they go.

A ``Node`` reads the fields a rule asks for, in the order it asks, and raises ``EventRejected`` with
the field's path at the first problem. Only the fields read end up in ``Node.out``: unknown fields
are dropped. Absent and null are the same; an optional field that is absent stays absent (no
defaults are filled in).

Error-code convention: a field with its own format code (UUID, timestamp, date, country, code-list
code) reports that code for *any* non-null value that is not valid; every other field reports
``INVALID_VALUE`` for a wrong type, an empty string, a bad pattern or an out-of-range value.
Messages name fields and limits, never values.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, NoReturn

from ledger.domain.codes import CodeLists
from ledger.domain.timeutil import MAX_FRACTION_DIGITS, canonical_timestamp, parse_date
from ledger.errors import ErrorCode, EventRejected

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MAX_VALUE_BYTES",
    "UUID_PATTERN",
    "Node",
    "json_size",
]

UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Limit for non-personal reference strings the spec gives no length for (notice_version, ...).
DEFAULT_MAX_CHARS = 128
# data_items[].value and items[].new_value, serialised as compact UTF-8 JSON.
MAX_VALUE_BYTES = 16 * 1024

_E = ErrorCode


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (ValueError/TypeError unless finite, valid JSON)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8"))


class Node:
    """One JSON object under validation at ``path``; ``out`` is its normalised copy."""

    __slots__ = ("codes", "out", "path", "raw")

    def __init__(self, raw: Mapping[str, Any], path: str, codes: CodeLists) -> None:
        self.raw = raw
        self.path = path
        self.codes = codes
        self.out: dict[str, Any] = {}

    # -- plumbing ----------------------------------------------------------------------------------
    def at(self, name: str | int) -> str:
        """The JSON-Pointer-like path of field ``name`` of this object."""
        return f"{self.path}/{name}"

    def fail(self, code: ErrorCode, name: str | int, message: str) -> NoReturn:
        """Reject the event at field ``name`` of this object."""
        raise EventRejected(code, self.at(name), message)

    def present(self, name: str) -> bool:
        """True if field ``name`` is present and not null."""
        return self.raw.get(name) is not None

    def _take(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None and required:
            self.fail(_E.MISSING_FIELD, name, f"required field '{name}' is missing or null")
        return value

    def require(self, name: str, why: str) -> NoReturn:
        """Reject: field ``name``, optional in general, is required here (``why`` says when)."""
        self.fail(_E.MISSING_FIELD, name, f"field '{name}' is required {why}")

    # -- scalars -----------------------------------------------------------------------------------
    def string(
        self,
        name: str,
        *,
        required: bool = True,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        pattern: re.Pattern[str] | None = None,
        forbid_at_sign: bool = False,
    ) -> str | None:
        """A non-empty string (``max_chars=None``: bounded only by the payload limit)."""
        value = self.raw.get(name)
        if value is None:
            if required:
                self.fail(_E.MISSING_FIELD, name, f"required field '{name}' is missing or null")
            return None
        if not (
            type(value) is str
            and value
            and (max_chars is None or len(value) <= max_chars)
            and (pattern is None or pattern.fullmatch(value) is not None)
            and not (forbid_at_sign and "@" in value)
            and (value.isascii() or _utf8_encodable(value))
        ):
            # The slow path names the first problem (or accepts a str subclass, as it always did).
            _check_string(value, self.at(name), name, max_chars, pattern, forbid_at_sign)
        self.out[name] = value
        return str(value)

    def text(self, name: str, *, required: bool = False) -> str | None:
        """Personal free text (encrypted on ingestion): a non-empty string, no own length limit."""
        return self.string(name, required=required, max_chars=None)

    def boolean(self, name: str, *, required: bool = True) -> bool | None:
        """A JSON boolean."""
        value = self._take(name, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must be a boolean")
        self.out[name] = value
        return value

    def integer(self, name: str, *, required: bool = True, minimum: int | None = None) -> int | None:
        """A JSON integer (not a boolean, not a float), at least ``minimum``."""
        value = self._take(name, required)
        if value is None:
            return None
        _check_int(value, self.at(name), name, minimum)
        self.out[name] = value
        return int(value)

    def uuid(self, name: str, *, required: bool = True) -> str | None:
        """A canonical lowercase 8-4-4-4-12 UUID."""
        value = self._take(name, required)
        if value is None:
            return None
        _check_uuid(value, self.at(name), name)
        self.out[name] = value
        return str(value)

    def timestamp(self, name: str, *, required: bool = True) -> datetime | None:
        """An RFC 3339 timestamp with offset; the text is kept, the parsed UTC instant returned."""
        value = self._take(name, required)
        if value is None:
            return None
        try:
            instant = canonical_timestamp(value)
        except ValueError:
            self.fail(
                _E.INVALID_TIMESTAMP,
                name,
                f"'{name}' must be an RFC 3339 timestamp with an explicit offset "
                f"and at most {MAX_FRACTION_DIGITS} fractional digits",
            )
        self.out[name] = value
        return instant

    def date(self, name: str, *, required: bool = True) -> date | None:
        """A ``YYYY-MM-DD`` calendar date that exists."""
        value = self._take(name, required)
        if value is None:
            return None
        try:
            day = parse_date(value)
        except ValueError:
            self.fail(_E.INVALID_TIMESTAMP, name, f"'{name}' must be a YYYY-MM-DD date that exists")
        self.out[name] = value
        return day

    def code(self, name: str, list_name: str, *, required: bool = True) -> str | None:
        """A code of the closed list ``list_name``."""
        value = self.raw.get(name)
        if value is None:
            if required:
                self.fail(_E.MISSING_FIELD, name, f"required field '{name}' is missing or null")
            return None
        if not self.codes.is_code(list_name, value):
            _check_code(self.codes, value, (list_name,), self.at(name), name)
        self.out[name] = value
        return str(value)

    def country(self, name: str, *, required: bool = True) -> str | None:
        """An ISO 3166-1 alpha-2 country code (``GB``, never ``UK``)."""
        value = self._take(name, required)
        if value is None:
            return None
        if not self.codes.is_country(value):
            self.fail(_E.INVALID_COUNTRY, name, f"'{name}' must be an ISO 3166-1 alpha-2 country code")
        self.out[name] = value
        return str(value)

    def json_value(self, name: str, *, required: bool = True, objects_only: bool = False) -> Any:
        """An arbitrary personal JSON value, kept exactly as given.

        Default: a string, number, boolean or object of at most 16 KiB serialised
        (``data_items[].value``). ``objects_only``: a JSON object bounded only by the payload limit
        (consent ``evidence``).
        """
        value = self._take(name, required)
        if value is None:
            return None
        if objects_only:
            if not isinstance(value, Mapping):
                self.fail(_E.INVALID_VALUE, name, f"'{name}' must be a JSON object")
        elif not isinstance(value, str | int | float | bool | Mapping):
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must be a string, number, boolean or object")
        elif value == "":
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must not be an empty string")
        if type(value) is str and len(value) <= _SHORT_STRING and (value.isascii() or _utf8_encodable(value)):
            # Its JSON form is at most 6 bytes a character plus the quotes: under the limit, no need
            # to serialise it. Immutable, so it is kept as it is.
            self.out[name] = value
            return value
        try:
            size = json_size(value)
        except (TypeError, ValueError, RecursionError):
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must be finite, UTF-8 encodable JSON")
        if not objects_only and size > MAX_VALUE_BYTES:
            self.fail(
                _E.INVALID_VALUE,
                name,
                f"'{name}' is larger than {MAX_VALUE_BYTES} bytes serialised",
            )
        # The normalised event shares nothing mutable with the input (scalars are immutable).
        kept = value if type(value) in _IMMUTABLE else copy.deepcopy(value)
        self.out[name] = kept
        return kept

    # -- lists -------------------------------------------------------------------------------------
    def _list(self, name: str, required: bool, min_items: int, max_items: int | None) -> list[Any] | None:
        value = self._take(name, required)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must be a list")
        if len(value) < min_items:
            self.fail(_E.EMPTY_DATA_ITEMS, name, f"'{name}' must have at least {min_items} item(s)")
        if max_items is not None and len(value) > max_items:
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must have at most {max_items} items")
        return value

    def code_list(
        self,
        name: str,
        list_names: str | tuple[str, ...],
        *,
        required: bool = True,
        min_items: int = 1,
        max_items: int | None = None,
        allow_star: bool = False,
        unique: bool = False,
    ) -> list[str] | None:
        """A list of codes; ``allow_star`` accepts the literal ``["*"]`` alone (every category)."""
        items = self._list(name, required, min_items, max_items)
        if items is None:
            return None
        names = (list_names,) if isinstance(list_names, str) else list_names
        if not (allow_star and items == ["*"]):
            seen: set[str] = set()
            for i, item in enumerate(items):
                label = f"{name}[{i}]"
                _check_code(self.codes, item, names, self.at(f"{name}/{i}"), label)
                if unique and item in seen:
                    self.fail(_E.INVALID_VALUE, f"{name}/{i}", f"'{label}' repeats an earlier code")
                seen.add(item)
        self.out[name] = list(items)
        return list(items)

    def uuid_list(self, name: str, *, required: bool = True, min_items: int = 1) -> list[str] | None:
        """A list of canonical UUIDs."""
        items = self._list(name, required, min_items, None)
        if items is None:
            return None
        for i, item in enumerate(items):
            _check_uuid(item, self.at(f"{name}/{i}"), f"{name}[{i}]")
        self.out[name] = list(items)
        return list(items)

    def int_list(
        self, name: str, *, required: bool = True, min_items: int = 1, minimum: int | None = None
    ) -> list[int] | None:
        """A list of integers, each at least ``minimum``."""
        items = self._list(name, required, min_items, None)
        if items is None:
            return None
        for i, item in enumerate(items):
            _check_int(item, self.at(f"{name}/{i}"), f"{name}[{i}]", minimum)
        self.out[name] = list(items)
        return list(items)

    # -- nested objects ----------------------------------------------------------------------------
    def child(self, name: str, *, required: bool = True) -> Node | None:
        """A nested object; its normalised copy is attached to this one's."""
        value = self._take(name, required)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(_E.INVALID_VALUE, name, f"'{name}' must be an object")
        node = Node(value, self.at(name), self.codes)
        self.out[name] = node.out
        return node

    def children(
        self,
        name: str,
        *,
        required: bool = True,
        min_items: int = 1,
        max_items: int | None = None,
    ) -> Iterator[Node]:
        """The objects of a list one at a time, in order (the caller checks each in turn)."""
        items = self._list(name, required, min_items, max_items)
        if items is None:
            return
        outs: list[dict[str, Any]] = []
        self.out[name] = outs
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                self.fail(_E.INVALID_VALUE, f"{name}/{i}", f"'{name}[{i}]' must be an object")
            node = Node(item, self.at(f"{name}/{i}"), self.codes)
            outs.append(node.out)
            yield node


# A string of at most this many characters serialises to at most MAX_VALUE_BYTES (6 bytes for the
# longest escape, ``\u001f``, or fewer for a UTF-8 character; plus 2 quotes).
_SHORT_STRING = (MAX_VALUE_BYTES - 2) // 6
_IMMUTABLE = (str, int, float, bool)


def _utf8_encodable(value: str) -> bool:
    """False for text holding a lone surrogate (it parses from JSON but cannot be stored as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_string(
    value: Any,
    path: str,
    label: str,
    max_chars: int | None,
    pattern: re.Pattern[str] | None,
    forbid_at_sign: bool,
) -> None:
    def bad(why: str) -> NoReturn:
        raise EventRejected(_E.INVALID_VALUE, path, f"'{label}' {why}")

    if not isinstance(value, str):
        bad("must be a string")
    if value == "":
        bad("must not be an empty string")
    if max_chars is not None and len(value) > max_chars:
        bad(f"must be at most {max_chars} characters")
    if pattern is not None and pattern.fullmatch(value) is None:
        bad(f"must match {pattern.pattern}")
    if forbid_at_sign and "@" in value:
        bad("must be an opaque reference, not an email address (contains '@')")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        bad("must be valid Unicode text")


def _check_int(value: Any, path: str, label: str, minimum: int | None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventRejected(_E.INVALID_VALUE, path, f"'{label}' must be an integer")
    if minimum is not None and value < minimum:
        raise EventRejected(_E.INVALID_VALUE, path, f"'{label}' must be at least {minimum}")


def _check_uuid(value: Any, path: str, label: str) -> None:
    if not isinstance(value, str) or UUID_PATTERN.fullmatch(value) is None:
        raise EventRejected(_E.INVALID_UUID, path, f"'{label}' must be a canonical lowercase 8-4-4-4-12 UUID")


def _check_code(codes: CodeLists, value: Any, list_names: tuple[str, ...], path: str, label: str) -> None:
    for list_name in list_names:
        if codes.is_code(list_name, value):
            return
    lists = " or ".join(f"'{n}'" for n in list_names)
    raise EventRejected(_E.UNKNOWN_CODE, path, f"'{label}' is not a code of list {lists}")
