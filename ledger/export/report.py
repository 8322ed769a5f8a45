"""The human-readable report of an export bundle: one self-contained HTML file and a PDF of the same.

Both are rendered from one ``Report`` built from the export document (``export.json``), so they say the
same thing. Personal values appear as held (plaintext) or as an ERASED badge, never otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.export.report_cover import (
    access_pack_section,
    cover_facts,
    intro_lines,
    summary_section,
    verdict,
    verify_section,
)
from ledger.export.report_doc import ExportDoc
from ledger.export.report_held import held_section, recipients_section
from ledger.export.report_html import html_report
from ledger.export.report_model import Report, Section
from ledger.export.report_pdf import pdf_report
from ledger.export.report_sections import alerts_section, erasures_section, requests_section, timeline_section
from ledger.export.wording import KIND_WORDS

__all__ = ["build_report", "render_html", "render_pdf"]


def build_report(doc: Mapping[str, Any]) -> Report:
    """The report's content for an export document (design issue 9 format)."""
    export = ExportDoc(doc)
    sections: list[Section] = [summary_section(export)]
    if export.kind == "access_pack" or "access_pack" in doc:
        sections.append(access_pack_section(export))
    sections += [
        held_section(export),
        recipients_section(export),
        requests_section(export),
        alerts_section(export),
        erasures_section(export),
        timeline_section(export),
        verify_section(export),
    ]
    kind = KIND_WORDS.get(export.kind, export.kind)
    return Report(
        title=f"{kind}: {export.controller_name}",
        running_header=f"{kind} · {export.scope_id}",
        author=export.controller_name,
        cover=cover_facts(export),
        verdict=verdict(export),
        sections=tuple(sections),
        generated_at=export.generated_at,
        intro=intro_lines(export),
    )


def render_html(doc: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page: inline CSS, no scripts, no external references."""
    return html_report(build_report(doc))


def render_pdf(doc: Mapping[str, Any]) -> bytes:
    """The report as an A4 PDF with embedded fonts; the same document gives the same bytes."""
    return pdf_report(build_report(doc))
