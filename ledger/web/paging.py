"""Cursor pagination over a view's rows, and CSV rendering of a list view.

A cursor is opaque to clients (base64url of a small JSON document): the view, a digest of the filters,
the ``as_of`` instant of the first page and the position of the next row. Following it answers the
same question at the same instant, so pages never shift when events arrive between them; a cursor
used with other filters or another ``as_of`` is refused (``INVALID_CURSOR``).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.timeutil import canonical_timestamp, format_instant
from ledger.web.params import invalid

__all__ = ["Cursor", "csv_rows", "filters_digest", "page", "page_at", "page_of"]

_MAX_CURSOR_CHARS = 512
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): it gets a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def filters_digest(view: str, filters: Mapping[str, Any]) -> str:
    """A short digest of the question a cursor continues (view and filters, normalised)."""
    text = json.dumps([view, {k: v for k, v in sorted(filters.items()) if v is not None}], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts."""

    view: str
    digest: str
    as_of: datetime
    offset: int
    after: tuple[str, str] | None = None  # keyset position, for lists read page by page (dead letters)
    position: list[Any] | None = None  # a view's page position (projections.paging), when not an offset

    def encode(self) -> str:
        """The opaque text form."""
        doc: dict[str, Any] = {
            "v": self.view,
            "f": self.digest,
            "a": format_instant(self.as_of),
            "o": self.offset,
        }
        if self.after is not None:
            doc["k"] = list(self.after)
        if self.position is not None:
            doc["p"] = self.position
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, view: str, digest: str) -> Cursor:
        """A cursor this query issued; ``INVALID_CURSOR`` otherwise (never echoing it)."""
        bad = invalid(
            422, "INVALID_CURSOR", "query", "cursor", "use the next_cursor of a page of this same query"
        )
        if len(text) > _MAX_CURSOR_CHARS:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            doc = json.loads(raw)
            after = doc.get("k")
            if after is not None and not (isinstance(after, list) and len(after) == 2):
                raise ValueError("bad keyset")
            position = doc.get("p")
            if position is not None and not isinstance(position, list):
                raise ValueError("bad position")
            cursor = cls(
                str(doc["v"]),
                str(doc["f"]),
                canonical_timestamp(str(doc["a"])),
                int(doc["o"]),
                None if after is None else (str(after[0]), str(after[1])),
                position,
            )
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise bad from None
        if cursor.view != view or cursor.digest != digest or cursor.offset < 0:
            raise bad
        return cursor


def page(
    rows: Sequence[Any], *, view: str, digest: str, as_of: datetime, offset: int, limit: int
) -> dict[str, Any]:
    """One page of ``rows`` (the whole answer at ``as_of``) from ``offset``, and the next cursor."""
    chunk = list(rows[offset : offset + limit])
    return page_of(chunk, len(rows), view=view, digest=digest, as_of=as_of, offset=offset, limit=limit)


def page_of(
    chunk: list[Any], total: int, *, view: str, digest: str, as_of: datetime, offset: int, limit: int
) -> dict[str, Any]:
    """The page :func:`page` makes, from its rows (``offset`` on) and the number of rows in all."""
    more = offset + limit < total
    following = Cursor(view, digest, as_of, offset + limit).encode() if more else None
    return {
        "view": view,
        "as_of": format_instant(as_of),
        "limit": limit,
        "items": chunk,
        "next_cursor": following,
    }


def page_at(
    chunk: list[Any],
    following: list[Any] | None,
    *,
    view: str,
    digest: str,
    as_of: datetime,
    limit: int,
) -> dict[str, Any]:
    """The page of a view read from a position (``projections.paging``): its rows, and the cursor of the
    position after them (``following``; None on the last page)."""
    cursor = None if following is None else Cursor(view, digest, as_of, 0, position=following).encode()
    return {
        "view": view,
        "as_of": format_instant(as_of),
        "limit": limit,
        "items": chunk,
        "next_cursor": cursor,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """CSV text (header first), one chunk per row: nested values as JSON, formulas defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(columns)
    yield flush()
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
        yield flush()
