"""Pages of a list view: the rows of one page and where the next one starts.

A page is asked with a position (``after``) and a size. Views whose order the database can follow read
only the page's rows (keyset pagination: ``WHERE key > after ORDER BY key LIMIT size + 1``) and do the
per-row work (resolving subjects, statuses at ``as_of``, Art 19 items, eligible items) for those rows
only; the other views compute their whole answer and slice it. A position is a short JSON-able list:
``["k", ...]`` the sort key of the last row shown (keyset), ``["o", n]`` the number of rows shown
(offset). The command line and the API wrap it, with the question and the instant, in an opaque cursor
(:func:`encode_cursor`), so a page followed answers the same question at the same ``as_of``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.base import ProjectionError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "CursorError",
    "Page",
    "Position",
    "decode_cursor",
    "encode_cursor",
    "filters_digest",
    "keyset_after",
    "offset_after",
]

# Rows per page of `privacy-ledger query` unless --limit or --all says otherwise.
DEFAULT_PAGE_SIZE = 100
_MAX_CURSOR_CHARS = 1024

Position = list[Any]


class CursorError(ProjectionError):
    """A cursor this query did not issue (another view, other filters, another instant, or garbled)."""


@dataclass(frozen=True)
class Page:
    """The rows of one page and the position after its last row (None: no row follows)."""

    rows: list[Any]
    after: Position | None


def keyset_after(after: Sequence[Any] | None, *types: type) -> list[Any] | None:
    """The sort key a keyset position holds (None for the first page), its values of ``types`` in
    order; ``CursorError`` if not one."""
    if after is None:
        return None
    key = list(after[1:])
    if (
        not after
        or after[0] != "k"
        or len(key) != len(types)
        or any(type(v) is not t for v, t in zip(key, types, strict=True))
    ):
        raise CursorError("the cursor does not continue this list")
    return key


def offset_after(after: Sequence[Any] | None) -> int:
    """The offset an offset position holds (0 for the first page); ``CursorError`` if not one."""
    if after is None:
        return 0
    if len(after) != 2 or after[0] != "o" or type(after[1]) is not int or after[1] < 0:
        raise CursorError("the cursor does not continue this list")
    return int(after[1])


def filters_digest(view: str, filters: Mapping[str, Any]) -> str:
    """A short digest of the question a cursor continues (view and filters, normalised)."""
    text = json.dumps([view, {k: v for k, v in sorted(filters.items()) if v is not None}], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(view: str, digest: str, as_of: datetime, after: Position) -> str:
    """The opaque text of a cursor: base64url of ``{v, f, a, p}``."""
    from ledger.domain.timeutil import format_instant

    doc = {"v": view, "f": digest, "a": format_instant(as_of), "p": after}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, view: str, digest: str) -> tuple[datetime, Position]:
    """The instant and position of a cursor this question issued; ``CursorError`` otherwise (never
    echoing the text)."""
    from ledger.domain.timeutil import canonical_timestamp

    bad = CursorError("--cursor: not a cursor of this query (use the one printed with its page)")
    if len(text) > _MAX_CURSOR_CHARS:
        raise bad
    try:
        doc = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        at = canonical_timestamp(str(doc["a"]))
        after = doc["p"]
        if not isinstance(after, list) or doc["v"] != view or doc["f"] != digest:
            raise ValueError("another question")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError, ProjectionError):
        raise bad from None
    return at, after
