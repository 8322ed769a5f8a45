"""RFC 8785 JSON Canonicalization (JCS) for the values the ledger hashes and fingerprints."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["canonical_bytes", "canonical_json", "canonical_members", "join_members"]


# No circular-reference check: the values hashed are trees decoded from JSON (a cycle would end in
# RecursionError rather than ValueError), and the check costs a dict insert per container.
_FAST = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
).encode


def canonical_json(value: Any) -> str:
    """Return the JCS text of ``value`` (objects sorted by UTF-16 code units, no whitespace)."""
    if _plain(value):
        # Without floats and with ASCII keys, Python's encoder already writes exactly JCS: same
        # escapes, same key order, integers as digits. It is ~10x faster than the general path.
        return _FAST(value)
    parts: list[str] = []
    _emit(value, parts)
    return "".join(parts)


_SCALARS = (str, int, bool, type(None))


def _plain(value: Any) -> bool:
    """True if ``value`` holds no float, no non-ASCII object key and nothing but JSON types."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    try:
        return _plain_container(value)
    except RecursionError:
        return False  # the general path reports it


def _plain_container(node: Any) -> bool:
    kind = type(node)
    if kind is dict:
        for key, item in node.items():
            if type(key) is not str or not key.isascii():
                return False
            sub = type(item)
            if not (sub is str or sub is int or sub is bool or item is None or _plain_container(item)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in node:
            sub = type(item)
            if not (sub is str or sub is int or sub is bool or item is None or _plain_container(item)):
                return False
        return True
    return False  # floats need ECMAScript formatting; other types go to the general path


def canonical_bytes(value: Any) -> bytes:
    """Return the JCS form of ``value`` as UTF-8 bytes."""
    return canonical_json(value).encode("utf-8")


_encode_string = json.encoder.encode_basestring


def canonical_members(value: dict[str, Any], *, around: tuple[str, ...] = ()) -> list[str] | None:
    """The JCS text of a plain object cut into pieces where members named ``around`` would go, or None.

    ``around`` holds key names in JCS order that ``value`` does not have. The result has one more piece
    than ``around``: piece ``i`` holds, comma-separated and without braces, the members whose keys sort
    between ``around[i - 1]`` and ``around[i]`` (empty if none). Joining the non-empty pieces with
    commas inside braces gives JCS of ``value``; putting the members named ``around`` between them
    gives JCS of the object with those members too (:func:`join_members`), without encoding the values
    again. None unless ``value`` is plain (no float, ASCII keys only: see ``canonical_json``).
    """
    if not _plain(value) or any(key in value for key in around):
        return None
    groups: list[dict[str, Any]] = [{} for _ in range(len(around) + 1)]
    for key, item in value.items():
        index = 0
        while index < len(around) and key > around[index]:
            index += 1
        groups[index][key] = item
    return [_FAST(group)[1:-1] for group in groups]


def join_members(pieces: list[str]) -> str:
    """``{`` + the non-empty pieces joined by commas + ``}``: JCS text from canonically ordered pieces."""
    return "{" + ",".join([piece for piece in pieces if piece]) + "}"


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be")


def _emit(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if not isinstance(key, str):
                raise TypeError("JCS object keys must be strings")
            if i:
                out.append(",")
            out.append(_encode_string(key))
            out.append(":")
            _emit(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    else:
        raise TypeError(f"JCS cannot encode a value of type {type(value).__name__}")


def _number(value: float) -> str:
    """Format a float as ECMAScript's Number.prototype.toString does (RFC 8785 section 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("JCS cannot encode NaN or Infinity")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exp = int(exponent)
    if -7 < exp < 21:
        return format(value, "f").rstrip("0").rstrip(".")
    return f"{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"
