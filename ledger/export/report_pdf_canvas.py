"""The PDF canvas of the report: fonts, running header, page footer and a small text layout engine.

Text is laid out here, word by word, rather than by fpdf2's markdown or table helpers: values from
upstream systems must never be read as markup (fpdf2 markdown would turn ``[x](y)`` into a link) or as
the page-count alias, and one line mixes styles (plain text, personal values, badges).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import as_file, files
from typing import Final

from fpdf import FPDF

from ledger.export.report_model import Cell, Kind, Line, Report
from ledger.export.wording import instant_texts

__all__ = [
    "BOTTOM",
    "HEADING",
    "HEAD_FILL",
    "LEFT",
    "MM_PER_PT",
    "NOTICE",
    "PAGE_ALIAS",
    "RIGHT",
    "RULE",
    "TOP",
    "ZEBRA",
    "Placed",
    "ReportPdf",
    "Run",
]

RGB = tuple[int, int, int]

_FAMILY: Final = "dejavu"
_FALLBACK: Final = "droidfallback"
MM_PER_PT: Final = 25.4 / 72
LEFT: Final = 15.0
RIGHT: Final = 15.0
TOP: Final = 19.0
BOTTOM: Final = 14.0  # space kept for the footer
PAGE_ALIAS: Final = "{nb}"
INK: Final[RGB] = (27, 31, 36)
MUTED: Final[RGB] = (77, 87, 97)
HEADING: Final[RGB] = (15, 42, 68)
PERSONAL: Final[RGB] = (11, 61, 110)
RULE: Final[RGB] = (213, 219, 225)
HEAD_FILL: Final[RGB] = (233, 237, 241)
ZEBRA: Final[RGB] = (247, 249, 250)
# (text, background, border) per badge kind; text on background keeps at least 4.5:1 contrast.
_BADGE: Final[dict[Kind, tuple[RGB, RGB, RGB]]] = {
    Kind.ERASED: ((127, 29, 29), (253, 232, 232), (201, 139, 139)),
    Kind.BAD: ((139, 26, 26), (253, 236, 236), (214, 154, 154)),
    Kind.WARN: ((107, 69, 0), (255, 243, 214), (217, 178, 98)),
    Kind.GOOD: ((23, 85, 42), (228, 244, 232), (140, 194, 155)),
    Kind.INFO: ((13, 63, 107), (227, 238, 250), (143, 179, 217)),
    Kind.QUIET: ((61, 61, 61), (238, 238, 238), (181, 181, 181)),
}
NOTICE: Final[dict[Kind, tuple[RGB, RGB, RGB]]] = {  # (bar, background, title)
    Kind.GOOD: ((46, 125, 50), (241, 248, 242), (27, 94, 32)),
    Kind.BAD: ((183, 28, 28), (253, 240, 240), (142, 20, 20)),
}
_BADGE_PAD: Final = 0.8
_BADGE_SHRINK: Final = 0.5  # badge text is this many points smaller than the text around it
_TOKEN: Final = re.compile(r"[^ ]+ *| +")  # words break at spaces only (not at no-break spaces)
_BREAK_AFTER: Final = "-_/.:,;@"


# fontTools logs the glyph names of each font subset at INFO ("uni674E" ...): the characters of the
# personal values drawn. Neither library says anything an operator needs below a warning.
_QUIET_LOGGERS: Final = ("fontTools", "fpdf")


def _quiet_font_logs() -> None:
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.WARNING))


@dataclass(frozen=True)
class Run:
    """A piece of text placed on a line: ``x`` from the line start, ``w`` its drawn width."""

    kind: Kind
    text: str
    x: float
    w: float


Placed = list[Run]


class ReportPdf(FPDF):
    """FPDF with the report's fonts, running header, page footer and a small text layout engine."""

    def __init__(self, report: Report) -> None:
        _quiet_font_logs()
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.set_margins(LEFT, TOP, RIGHT)
        self.set_auto_page_break(False)
        self.c_margin = 0
        fonts = files("ledger.export") / "fonts"
        for style, name, family in (
            ("", "DejaVuSans.ttf", _FAMILY),
            ("B", "DejaVuSans-Bold.ttf", _FAMILY),
            ("", "DroidSansFallbackFull.ttf", _FALLBACK),
        ):
            with as_file(fonts / name) as path:
                self.add_font(family, style, path)
        self.set_fallback_fonts([_FALLBACK], exact_match=False)
        self.str_alias_nb_pages = ""  # report text is never the page-count alias; only the footer's
        regular, bold, fallback = (self.fonts[k].cmap for k in (_FAMILY, _FAMILY + "B", _FALLBACK))  # type: ignore[union-attr]
        self.covered = frozenset((set(regular) & set(bold)) | set(fallback))
        self.widths: dict[tuple[bool, float, str], float] = {}
        self.repeat_header: Callable[[], None] | None = None  # redraws a table's header row
        self.generated = instant_texts(report.generated_at)[0]

    # -- page furniture ------------------------------------------------------------------------

    def header(self) -> None:
        """The running header: the export's kind and id, and the controller."""
        self.style(Kind.MUTED, 7)
        right = self.clean(self.report.author)
        right_w = min(self.get_string_width(right), 60.0)
        left = self._fit(
            "Privacy ledger export · " + self.clean(self.report.running_header), self.epw - right_w - 6
        )
        self.set_xy(LEFT, 8)
        self.cell(self.epw - right_w, 4, left)
        self.set_xy(self.w - RIGHT - right_w, 8)
        self.cell(right_w, 4, self._fit(right, right_w), align="R")
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.line(LEFT, 13, self.w - RIGHT, 13)
        self.set_xy(LEFT, TOP)

    def footer(self) -> None:
        """Generation time and "page X of Y"."""
        self.style(Kind.MUTED, 7)
        self.set_draw_color(*RULE)
        self.line(LEFT, self.h - 11, self.w - RIGHT, self.h - 11)
        self.set_xy(LEFT, self.h - 10)
        self.cell(
            self.epw / 2,
            4,
            self._fit(f"Contains personal data · generated {self.clean(self.generated)}", 120),
        )
        saved, self.str_alias_nb_pages = self.str_alias_nb_pages, PAGE_ALIAS
        self.set_xy(self.w - RIGHT - 40, self.h - 10)
        self.cell(40, 4, f"page {self.page_no()} of {PAGE_ALIAS}", align="R")
        self.str_alias_nb_pages = saved

    # -- text --------------------------------------------------------------------------------------

    def clean(self, value: str) -> str:
        """Text the fonts can draw: NFC, tabs as spaces, other control or unknown characters as ``[U+XXXX]``.

        Drawing a character no font has would log it (fpdf2 lists missing glyphs): a personal value
        must never reach a log, so it is replaced by its code point before it gets there.
        """
        out = []
        for ch in unicodedata.normalize("NFC", value.replace("\t", " ")):
            code = ord(ch)
            if (code >= 32 and code not in range(0x7F, 0xA0) and code in self.covered) or ch == "\n":
                out.append(ch)
            else:
                out.append(f"[U+{code:04X}]")
        return "".join(out)

    def style(self, kind: Kind, size: float) -> None:
        bold = kind in (Kind.STRONG, Kind.PERSONAL) or kind.is_badge
        self.set_font(_FAMILY, "B" if bold else "", size)
        if kind.is_badge:
            self.set_text_color(*_BADGE[kind][0])
        else:
            self.set_text_color(*{Kind.MUTED: MUTED, Kind.PERSONAL: PERSONAL}.get(kind, INK))

    def _width(self, kind: Kind, size: float, value: str) -> float:
        bold = kind in (Kind.STRONG, Kind.PERSONAL) or kind.is_badge
        size = size - _BADGE_SHRINK if kind.is_badge else size
        key = (bold, size, value)
        if key not in self.widths:
            self.set_font(_FAMILY, "B" if bold else "", size)
            self.widths[key] = self.get_string_width(value)
        return self.widths[key]

    def _fit(self, value: str, width: float) -> str:
        """``value`` cut with an ellipsis to fit ``width`` in the current font."""
        if self.get_string_width(value) <= width:
            return value
        while value and self.get_string_width(value + "…") > width:
            value = value[:-1]
        return value + "…"

    def wrap(self, line: Line, width: float, size: float) -> list[Placed]:
        """Lay out a line of spans in ``width``: break between words, inside words only when too long."""
        rows: list[Placed] = [[]]
        x = 0.0
        for span in line:
            pad = _BADGE_PAD if span.kind.is_badge else 0.0
            parts = self.clean(span.text).split("\n")
            for n, part in enumerate(parts):
                if n:
                    rows.append([])
                    x = 0.0
                tokens = [part] if span.kind.is_badge else _TOKEN.findall(part)
                for token in tokens:
                    x = self._place(rows, x, span.kind, token, width, size, pad)
        return [_merge(r) for r in rows]

    def _place(
        self, rows: list[Placed], x: float, kind: Kind, token: str, width: float, size: float, pad: float
    ) -> float:
        drawn = self._width(kind, size, token.rstrip()) + 2 * pad
        if x > 0 and x + drawn > width and drawn <= width:
            rows.append([])
            x = 0.0
            token = token.lstrip()
            drawn = self._width(kind, size, token.rstrip()) + 2 * pad
        if not token:
            return x
        if drawn <= width - x:
            rows[-1].append(Run(kind, token, x, drawn))
            return x + self._width(kind, size, token) + 2 * pad
        # A token wider than the column (a hash, an id, a long value): break it between characters,
        # after a hyphen, underscore or similar when there is one past the first third of the piece.
        piece = ""
        for ch in token:
            if piece and x + self._width(kind, size, piece + ch) + 2 * pad > width:
                cut = max(piece.rfind(c) for c in _BREAK_AFTER) + 1
                keep = piece[cut:] if cut > len(piece) // 3 else ""
                piece = piece[: len(piece) - len(keep)]
                rows[-1].append(Run(kind, piece, x, self._width(kind, size, piece) + 2 * pad))
                rows.append([])
                x, piece = 0.0, keep
            piece += ch
        if piece:
            rows[-1].append(Run(kind, piece, x, self._width(kind, size, piece) + 2 * pad))
            x += self._width(kind, size, piece) + 2 * pad
        return x

    def draw(self, placed: Placed, x0: float, y: float, size: float, lh: float) -> None:
        """Draw one laid-out line at (``x0``, ``y``)."""
        for run in placed:
            text = run.text.rstrip() if run.kind.is_badge else run.text
            if run.kind.is_badge:
                _, fill, border = _BADGE[run.kind]
                self.set_fill_color(*fill)
                self.set_draw_color(*border)
                self.set_line_width(0.2)
                self.rect(
                    x0 + run.x, y + 0.35, run.w, lh - 0.7, style="DF", round_corners=True, corner_radius=0.6
                )
            self.style(run.kind, size - _BADGE_SHRINK if run.kind.is_badge else size)
            self.set_xy(x0 + run.x + (_BADGE_PAD if run.kind.is_badge else 0), y)
            self.cell(None, lh, text)

    def lines(self, cell: Cell, width: float, size: float) -> list[Placed]:
        """Every laid-out line of a cell."""
        out: list[Placed] = []
        for line in cell:
            out += self.wrap(line, width, size)
        return out

    # -- page flow --------------------------------------------------------------------------------------

    @property
    def bottom(self) -> float:
        """The lowest y body content may reach."""
        return self.h - BOTTOM

    def new_page(self) -> None:
        """A new page; a table in progress repeats its header row."""
        self.add_page()
        if self.repeat_header is not None:
            self.repeat_header()

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` fits below the current position."""
        if self.get_y() + height > self.bottom:
            self.new_page()


def _merge(placed: Placed) -> Placed:
    """Join adjacent runs of one non-badge kind (fewer text objects, same look)."""
    out: Placed = []
    for run in placed:
        last = out[-1] if out else None
        if last and last.kind is run.kind and not run.kind.is_badge and abs(last.x + last.w - run.x) < 2:
            out[-1] = Run(run.kind, last.text + run.text, last.x, run.x + run.w - last.x)
        else:
            out.append(run)
    return out
