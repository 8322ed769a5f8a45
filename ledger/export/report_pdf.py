"""The report as an A4 PDF (fpdf2): embedded DejaVu Sans with a CJK fallback, paged tables.

Table rows never split unless taller than a page; the header row repeats on every page a table spans.
The same report gives the same bytes: the creation date is the export's ``generated_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from ledger.domain.timeutil import canonical_timestamp
from ledger.export.report_model import (
    Block,
    Code,
    Facts,
    Kind,
    Line,
    Notice,
    Para,
    Report,
    Section,
    Span,
    Subheading,
    Table,
)
from ledger.export.report_pdf_canvas import (
    HEAD_FILL,
    HEADING,
    LEFT,
    MM_PER_PT,
    NOTICE,
    PAGE_ALIAS,
    RIGHT,
    RULE,
    TOP,
    ZEBRA,
    Placed,
    ReportPdf,
)

__all__ = ["pdf_report"]

# -- blocks ----------------------------------------------------------------------------------------------

_BODY: Final = 8.5
_SMALL: Final = 7.5


def _lh(size: float) -> float:
    return size * MM_PER_PT * 1.4


def _para(pdf: ReportPdf, line: Line, size: float = _BODY, gap: float = 2.0) -> None:
    lh = _lh(size)
    for placed in pdf.wrap(line, pdf.epw, size):
        pdf.need(lh)
        y = pdf.get_y()
        pdf.draw(placed, LEFT, y, size, lh)
        pdf.set_xy(LEFT, y + lh)
    pdf.set_y(pdf.get_y() + gap)


def _heading(pdf: ReportPdf, number: int, section: Section) -> None:
    if section.new_page and pdf.get_y() > TOP + 1:
        pdf.new_page()
    pdf.need(45)
    y = pdf.get_y() + 3
    pdf.style(Kind.STRONG, 13)
    pdf.set_text_color(*HEADING)
    pdf.set_xy(LEFT, y)
    pdf.start_section(f"{number}. {section.title}")
    pdf.cell(pdf.epw, 7, f"{number}. {section.title}")
    pdf.set_draw_color(*HEADING)
    pdf.set_line_width(0.5)
    pdf.line(LEFT, y + 7.5, pdf.w - RIGHT, y + 7.5)
    pdf.set_xy(LEFT, y + 10)


def _subheading(pdf: ReportPdf, sub: Subheading) -> None:
    pdf.need(25)
    y = pdf.get_y() + 1.5
    for placed in pdf.wrap((Span(sub.text, Kind.STRONG),), pdf.epw, 10):
        for run in placed:
            pdf.style(Kind.STRONG, 10)
            pdf.set_text_color(*HEADING)
            pdf.set_xy(LEFT + run.x, y)
            pdf.cell(None, _lh(10), run.text)
        y += _lh(10)
    pdf.set_xy(LEFT, y + 1)


def _facts(pdf: ReportPdf, facts: Facts, size: float = _BODY) -> None:
    label_w, gap = 36.0, 3.0
    value_w = pdf.epw - label_w - gap
    lh = _lh(size)
    for label, value in facts.rows:
        labels = pdf.wrap((Span(label, Kind.STRONG),), label_w, size)
        values = pdf.lines(value, value_w, size)
        height = max(len(labels), len(values)) * lh + 1.2
        pdf.need(min(height, pdf.bottom - TOP))
        y = pdf.get_y()
        for i, placed in enumerate(labels):
            pdf.draw(placed, LEFT, y + i * lh, size, lh)
        for i, placed in enumerate(values):
            if y + (i + 1) * lh > pdf.bottom:
                pdf.new_page()
                y = pdf.get_y() - i * lh
            pdf.draw(placed, LEFT + label_w + gap, y + i * lh, size, lh)
        pdf.set_xy(LEFT, y + height)
    pdf.set_y(pdf.get_y() + 2)


def _notice(pdf: ReportPdf, notice: Notice) -> None:
    bar, fill, title_ink = NOTICE.get(notice.kind, NOTICE[Kind.BAD])
    inner = pdf.epw - 10
    title = pdf.wrap((Span(notice.title, Kind.STRONG),), inner, 12)
    body = pdf.lines(notice.body, inner, _BODY)
    height = len(title) * _lh(12) + len(body) * _lh(_BODY) + 7
    pdf.need(height)
    y = pdf.get_y()
    pdf.set_fill_color(*fill)
    pdf.rect(LEFT, y, pdf.epw, height, style="F")
    pdf.set_fill_color(*bar)
    pdf.rect(LEFT, y, 2.2, height, style="F")
    cy = y + 3
    for placed in title:
        for run in placed:
            pdf.style(Kind.STRONG, 12)
            pdf.set_text_color(*title_ink)
            pdf.set_xy(LEFT + 6 + run.x, cy)
            pdf.cell(None, _lh(12), run.text)
        cy += _lh(12)
    cy += 1
    for placed in body:
        pdf.draw(placed, LEFT + 6, cy, _BODY, _lh(_BODY))
        cy += _lh(_BODY)
    pdf.set_xy(LEFT, y + height + 4)


def _code(pdf: ReportPdf, code: Code) -> None:
    size = _SMALL
    lh = _lh(size)
    placed = pdf.wrap((Span(code.text),), pdf.epw - 6, size)
    height = len(placed) * lh + 4
    pdf.need(min(height, pdf.bottom - TOP))
    y = pdf.get_y()
    pdf.set_fill_color(244, 245, 247)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.rect(LEFT, y, pdf.epw, height, style="DF")
    for i, row in enumerate(placed):
        pdf.draw(row, LEFT + 3, y + 2 + i * lh, size, lh)
    pdf.set_xy(LEFT, y + height + 3)


_PAD_X: Final = 1.5
_PAD_Y: Final = 1.2


def _table_widths(pdf: ReportPdf, table: Table) -> list[float]:
    total = sum(table.widths)
    return [pdf.epw * w / total for w in table.widths]


def _table_head(pdf: ReportPdf, table: Table, widths: list[float], size: float) -> None:
    lh = _lh(size)
    heads = [
        pdf.wrap((Span(h, Kind.STRONG),), w - 2 * _PAD_X, size)
        for h, w in zip(table.headers, widths, strict=True)
    ]
    height = max(len(h) for h in heads) * lh + 2 * _PAD_Y
    y = pdf.get_y()
    pdf.set_fill_color(*HEAD_FILL)
    pdf.rect(LEFT, y, pdf.epw, height, style="F")
    x = LEFT
    for head, w in zip(heads, widths, strict=True):
        for i, placed in enumerate(head):
            pdf.draw(placed, x + _PAD_X, y + _PAD_Y + i * lh, size, lh)
        x += w
    pdf.set_draw_color(154, 167, 180)
    pdf.set_line_width(0.4)
    pdf.line(LEFT, y + height, pdf.w - RIGHT, y + height)
    pdf.set_xy(LEFT, y + height)


def _table(pdf: ReportPdf, table: Table, size: float = _SMALL) -> None:
    if not table.rows:
        _para(pdf, (Span(table.empty, Kind.MUTED),))
        return
    widths = _table_widths(pdf, table)
    lh = _lh(size)
    first = [pdf.lines(c, w - 2 * _PAD_X, size) for c, w in zip(table.rows[0], widths, strict=True)]
    pdf.need(lh * 2 + 2 * _PAD_Y + min(max(len(c) for c in first) * lh + 2 * _PAD_Y, 60))
    pdf.repeat_header = lambda: _table_head(pdf, table, widths, size)
    _table_head(pdf, table, widths, size)
    for n, row in enumerate(table.rows):
        cells = (
            first
            if n == 0
            else [pdf.lines(c, w - 2 * _PAD_X, size) for c, w in zip(row, widths, strict=True)]
        )
        _table_row(pdf, cells, widths, size, lh, zebra=n % 2 == 1)
    pdf.repeat_header = None
    pdf.set_y(pdf.get_y() + 4)


def _table_row(
    pdf: ReportPdf, cells: list[list[Placed]], widths: list[float], size: float, lh: float, zebra: bool
) -> None:
    """One row, moved whole to the next page when it does not fit; split only if taller than a page."""
    height = max(len(c) for c in cells) * lh + 2 * _PAD_Y
    room = pdf.bottom - TOP - 12
    if pdf.get_y() + height > pdf.bottom and height <= room:
        pdf.new_page()
    while True:
        fit = int((pdf.bottom - pdf.get_y() - 2 * _PAD_Y) // lh)
        if fit < 1:
            pdf.new_page()
            continue
        chunk = [c[:fit] for c in cells]
        cells = [c[fit:] for c in cells]
        y = pdf.get_y()
        h = max(len(c) for c in chunk) * lh + 2 * _PAD_Y
        if zebra:
            pdf.set_fill_color(*ZEBRA)
            pdf.rect(LEFT, y, pdf.epw, h, style="F")
        x = LEFT
        for lines, w in zip(chunk, widths, strict=True):
            for i, placed in enumerate(lines):
                pdf.draw(placed, x + _PAD_X, y + _PAD_Y + i * lh, size, lh)
            x += w
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        pdf.line(LEFT, y + h, pdf.w - RIGHT, y + h)
        pdf.set_xy(LEFT, y + h)
        if not any(cells):
            return
        pdf.new_page()


def _block(pdf: ReportPdf, block: Block) -> None:
    if isinstance(block, Para):
        _para(pdf, block.line)
    elif isinstance(block, Subheading):
        _subheading(pdf, block)
    elif isinstance(block, Facts):
        _facts(pdf, block)
    elif isinstance(block, Notice):
        _notice(pdf, block)
    elif isinstance(block, Code):
        _code(pdf, block)
    else:
        _table(pdf, block)


def _creation_date(generated_at: str) -> datetime:
    try:
        return canonical_timestamp(generated_at)
    except ValueError:
        return datetime(2000, 1, 1, tzinfo=UTC)  # fixed, so that output stays reproducible


def pdf_report(report: Report) -> bytes:
    """The report as PDF bytes (A4, fonts embedded and subset)."""
    pdf = ReportPdf(report)
    pdf.set_title(pdf.clean(report.title))
    pdf.set_author(pdf.clean(report.author))
    pdf.set_subject("Privacy ledger export report")
    pdf.set_creator("privacy-ledger")
    pdf.set_lang("en")
    pdf.set_creation_date(_creation_date(report.generated_at))
    pdf.add_page()
    pdf.style(Kind.MUTED, 8)
    _para(pdf, (Span("PRIVACY LEDGER EXPORT", Kind.MUTED),), size=8, gap=0.5)
    for placed in pdf.wrap((Span(report.title, Kind.STRONG),), pdf.epw, 16):
        pdf.need(_lh(16))
        y = pdf.get_y()
        for run in placed:
            pdf.style(Kind.STRONG, 16)
            pdf.set_text_color(*HEADING)
            pdf.set_xy(LEFT + run.x, y)
            pdf.cell(None, _lh(16), run.text)
        pdf.set_xy(LEFT, y + _lh(16))
    pdf.set_y(pdf.get_y() + 2)
    for line in report.intro:
        _para(pdf, line)
    _notice(pdf, report.verdict)
    _facts(pdf, report.cover)
    for number, section in enumerate(report.sections, start=1):
        _heading(pdf, number, section)
        for block in section.blocks:
            _block(pdf, block)
    pdf.str_alias_nb_pages = PAGE_ALIAS  # the footers' "page X of Y" are the only aliases drawn
    return bytes(pdf.output())
