"""The report as one self-contained HTML page: inline CSS, no scripts, no external references.

Every piece of text goes through ``html.escape``; the only markup is this module's own.
"""

from __future__ import annotations

from html import escape
from typing import Final

from ledger.export.report_model import (
    Block,
    Cell,
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

__all__ = ["html_report"]

# Colours keep a contrast ratio of at least 7:1 for text and 4.5:1 for badges on their backgrounds.
_CSS: Final = """
*{box-sizing:border-box}
html{font-family:"DejaVu Sans",Verdana,"Segoe UI",Arial,"Noto Sans","Noto Sans CJK SC",sans-serif;
 color:#1b1f24;background:#fff;line-height:1.45}
body{margin:0 auto;max-width:72rem;padding:1.5rem 2rem 3rem}
h1{font-size:1.6rem;margin:.2rem 0 .6rem;color:#0f2a44}
h2{font-size:1.25rem;margin:2.2rem 0 .7rem;padding-bottom:.25rem;border-bottom:2px solid #0f2a44;
 color:#0f2a44}
h3{font-size:1.02rem;margin:1.4rem 0 .5rem;color:#0f2a44}
p{margin:.4rem 0 .8rem;max-width:60rem}
.eyebrow{margin:0;font-size:.85rem;letter-spacing:.02em;color:#4d5761}
.notice{border:1px solid;border-left-width:.45rem;border-radius:.25rem;padding:.8rem 1rem;
 margin:1rem 0 1.2rem}
.notice.good{border-color:#2e7d32;background:#f1f8f2}
.notice.bad{border-color:#b71c1c;background:#fdf0f0}
.notice .title{font-size:1.15rem;font-weight:700;margin:0 0 .3rem}
.notice.good .title{color:#1b5e20}
.notice.bad .title{color:#8e1414}
.notice div{margin:.15rem 0}
dl.facts{margin:.6rem 0 1rem}
dl.facts>div{display:grid;grid-template-columns:13rem 1fr;gap:1rem;padding:.15rem 0}
dl.facts dt{font-weight:700;color:#33404d}
dl.facts dd{margin:0}
.m{color:#4d5761}
.pv{color:#0b3d6e;font-weight:600;background:#eef4fb;border-radius:.2rem;padding:0 .15rem}
.b{display:inline-block;font-size:.78rem;font-weight:700;line-height:1.3;padding:.05rem .4rem;
 border:1px solid;border-radius:.25rem;letter-spacing:.02em}
.b-erased{color:#7f1d1d;background:#fde8e8;border-color:#c98b8b}
.b-bad{color:#8b1a1a;background:#fdecec;border-color:#d69a9a}
.b-warn{color:#6b4500;background:#fff3d6;border-color:#d9b262}
.b-good{color:#17552a;background:#e4f4e8;border-color:#8cc29b}
.b-info{color:#0d3f6b;background:#e3eefa;border-color:#8fb3d9}
.b-quiet{color:#3d3d3d;background:#eeeeee;border-color:#b5b5b5}
table{width:100%;table-layout:fixed;border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.88rem}
caption{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #d5dbe1}
thead th{background:#e9edf1;color:#1b2733;border-bottom:2px solid #9aa7b4}
tbody tr:nth-child(even){background:#f7f9fa}
tbody th{font-weight:700}
td,th,dd{overflow-wrap:anywhere}
pre{background:#f4f5f7;border:1px solid #d5dbe1;border-radius:.25rem;padding:.6rem .8rem;
 white-space:pre-wrap;word-break:break-all;font-size:.85rem}
nav ol{margin:.3rem 0 0;padding-left:1.4rem;columns:2}
nav a{color:#0b4a8b}
footer{margin-top:2.5rem;padding-top:.6rem;border-top:1px solid #d5dbe1;font-size:.82rem;color:#4d5761}
.empty{color:#4d5761;font-style:italic}
@media (max-width:40rem){dl.facts>div{grid-template-columns:1fr;gap:0}body{padding:1rem}}
@page{size:A4;margin:14mm 12mm}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 table{font-size:8.5pt}
 th,td{padding:.25rem .35rem}
 nav{display:none}
 dl.facts>div{grid-template-columns:38mm 1fr}
 section.new-page{break-before:page}
 thead{display:table-header-group}
 tr,dl.facts>div,.notice{break-inside:avoid}
 h2,h3{break-after:avoid}
 tbody tr:nth-child(even){background:none}
 .b,.notice,thead th,.pv{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

_BADGE_CLASS: Final = {
    Kind.ERASED: "b b-erased",
    Kind.BAD: "b b-bad",
    Kind.WARN: "b b-warn",
    Kind.GOOD: "b b-good",
    Kind.INFO: "b b-info",
    Kind.QUIET: "b b-quiet",
}


def _e(text: str) -> str:
    return escape(text, quote=True)


def _span(span: Span) -> str:
    body = _e(span.text)
    if span.kind is Kind.TEXT:
        return body
    if span.kind is Kind.STRONG:
        return f"<strong>{body}</strong>"
    if span.kind is Kind.MUTED:
        return f'<span class="m">{body}</span>'
    if span.kind is Kind.PERSONAL:
        return f'<span class="pv">{body}</span>'
    return f'<span class="{_BADGE_CLASS[span.kind]}">{body}</span>'


def _line(line: Line) -> str:
    return "".join(_span(s) for s in line)


def _cell(cell: Cell) -> str:
    if len(cell) == 1:
        return _line(cell[0])
    return "".join(f"<div>{_line(line)}</div>" for line in cell)


def _facts(facts: Facts) -> str:
    rows = "".join(f"<div><dt>{_e(label)}</dt><dd>{_cell(value)}</dd></div>" for label, value in facts.rows)
    return f'<dl class="facts">{rows}</dl>'


def _table(table: Table) -> str:
    if not table.rows:
        return f'<p class="empty">{_e(table.empty)}</p>'
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in table.headers)
    body = []
    for row in table.rows:
        cells = []
        for i, c in enumerate(row):
            tag = "th" if i == 0 and table.row_headers else "td"
            scope = ' scope="row"' if tag == "th" else ""
            cells.append(f"<{tag}{scope}>{_cell(c)}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    total = sum(table.widths)
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in table.widths)
    return (
        f"<table><caption>{_e(table.caption)}</caption><colgroup>{cols}</colgroup>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _notice(notice: Notice) -> str:
    tone = "good" if notice.kind is Kind.GOOD else "bad"
    lines = "".join(f"<div>{_line(line)}</div>" for line in notice.body)
    return f'<div class="notice {tone}"><p class="title">{_e(notice.title)}</p>{lines}</div>'


def _block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{_line(block.line)}</p>"
    if isinstance(block, Subheading):
        return f"<h3>{_e(block.text)}</h3>"
    if isinstance(block, Facts):
        return _facts(block)
    if isinstance(block, Notice):
        return _notice(block)
    if isinstance(block, Code):
        return f"<pre><code>{_e(block.text)}</code></pre>"
    return _table(block)


def _section(number: int, section: Section) -> str:
    css = ' class="new-page"' if section.new_page else ""
    body = "\n".join(_block(b) for b in section.blocks)
    return (
        f'<section id="{section.anchor}"{css} aria-labelledby="h-{section.anchor}">\n'
        f'<h2 id="h-{section.anchor}">{number}. {_e(section.title)}</h2>\n{body}\n</section>'
    )


def html_report(report: Report) -> str:
    """The report as an HTML document (UTF-8 text)."""
    nav = "".join(f'<li><a href="#{s.anchor}">{_e(s.title)}</a></li>' for s in report.sections)
    intro = "".join(f"<p>{_line(line)}</p>" for line in report.intro)
    sections = "\n".join(_section(i, s) for i, s in enumerate(report.sections, start=1))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(report.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header>\n<p class="eyebrow">Privacy ledger export · {_e(report.running_header)}</p>\n'
        f"<h1>{_e(report.title)}</h1>\n{intro}\n{_notice(report.verdict)}\n{_facts(report.cover)}\n"
        f'<nav aria-label="Contents"><strong>Contents</strong><ol>{nav}</ol></nav>\n</header>\n'
        f"<main>\n{sections}\n</main>\n"
        f"<footer>Report generated from export.json · {_e(report.running_header)}</footer>\n"
        "</body>\n</html>\n"
    )
