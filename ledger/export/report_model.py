"""The report as neutral blocks (headings, facts, tables of styled text) that HTML and PDF both render.

Building the content once and rendering it twice keeps the HTML and the PDF saying the same thing.
Every string here is plain text (never markup): the renderers escape or draw it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "Block",
    "Cell",
    "Code",
    "Facts",
    "Kind",
    "Line",
    "Notice",
    "Para",
    "Report",
    "Section",
    "Span",
    "Subheading",
    "Table",
    "badge",
    "cell",
    "line",
    "muted",
    "strong",
    "text",
]


class Kind(Enum):
    """How a piece of text is shown: plain, de-emphasised, a personal value, or a badge of some tone."""

    TEXT = "text"
    MUTED = "muted"
    STRONG = "strong"
    PERSONAL = "personal"  # a personal value shown in plaintext
    ERASED = "erased"  # badge: the value's key was destroyed
    BAD = "bad"  # badge: missed, failed, open alert of high severity
    WARN = "warn"  # badge: anomaly, medium alert, deferred
    GOOD = "good"  # badge: met, verified
    INFO = "info"  # badge: neutral information (low/info alerts, not bound)
    QUIET = "quiet"  # badge: retracted, resolved

    @property
    def is_badge(self) -> bool:
        """Whether the text is drawn as a badge."""
        return self in _BADGES


_BADGES = frozenset({Kind.ERASED, Kind.BAD, Kind.WARN, Kind.GOOD, Kind.INFO, Kind.QUIET})


@dataclass(frozen=True)
class Span:
    """A run of text in one style."""

    text: str
    kind: Kind = Kind.TEXT


Line = tuple[Span, ...]
Cell = tuple[Line, ...]


def text(value: str) -> Span:
    """Plain text."""
    return Span(value)


def muted(value: str) -> Span:
    """De-emphasised text (ids, UTC times, explanations)."""
    return Span(value, Kind.MUTED)


def strong(value: str) -> Span:
    """Bold text."""
    return Span(value, Kind.STRONG)


def badge(value: str, kind: Kind) -> Span:
    """A badge (``kind`` must be a badge kind)."""
    if not kind.is_badge:
        raise ValueError("not a badge kind")
    return Span(value, kind)


def line(*spans: Span | str) -> Line:
    """A line of spans; bare strings are plain text."""
    return tuple(s if isinstance(s, Span) else Span(s) for s in spans)


def cell(*lines: Line | Span | str) -> Cell:
    """A table cell of lines; a bare span or string is a one-span line."""
    out: list[Line] = []
    for item in lines:
        if isinstance(item, tuple):
            out.append(item)
        else:
            out.append(line(item))
    return tuple(out)


@dataclass(frozen=True)
class Para:
    """A paragraph."""

    line: Line


@dataclass(frozen=True)
class Subheading:
    """A third-level heading inside a section."""

    text: str


@dataclass(frozen=True)
class Facts:
    """Label and value pairs (a definition list)."""

    rows: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class Notice:
    """A framed statement: the verification result."""

    kind: Kind  # GOOD or BAD
    title: str
    body: tuple[Line, ...]


@dataclass(frozen=True)
class Code:
    """A command to type, shown verbatim."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table with column headers; ``widths`` are relative column widths for paged output.

    ``row_headers`` makes the first column a row header (the timeline's seq).
    """

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...]
    row_headers: bool = False
    empty: str = "None."

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.headers):
            raise ValueError("one width per column")
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError("one cell per column")


Block = Para | Subheading | Facts | Notice | Code | Table


@dataclass(frozen=True)
class Section:
    """A numbered part of the report with an anchor id (``summary``, ``timeline`` ...)."""

    anchor: str
    title: str
    blocks: tuple[Block, ...]
    new_page: bool = False


@dataclass(frozen=True)
class Report:
    """The whole report: title, cover facts, verification notice and sections."""

    title: str
    running_header: str
    author: str
    cover: Facts
    verdict: Notice
    sections: tuple[Section, ...]
    generated_at: str  # RFC 3339, the PDF creation date
    intro: tuple[Line, ...] = field(default=())


def lines_of(items: Iterable[Line]) -> Cell:
    """A cell made of the given lines (an empty cell for none)."""
    return tuple(items)


def joined(parts: Sequence[Span], sep: str = ", ") -> Line:
    """Spans separated by ``sep`` (plain text)."""
    out: list[Span] = []
    for i, part in enumerate(parts):
        if i:
            out.append(Span(sep))
        out.append(part)
    return tuple(out)
