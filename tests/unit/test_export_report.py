"""The human-readable report of an export bundle (spec 6.8, 6.12): self-contained HTML and a PDF of it."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
from functools import cache
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import services_required
from export_fixtures import (
    ERASED_VALUES,
    FIXTURE_SIGNER,
    LOG_SIZE,
    NAME,
    SPOUSE,
    SUBJECT,
    export_sha256,
    synthetic_export,
)

from ledger.export.bundle import MANIFEST, signed_manifest
from ledger.export.report import build_report, render_html, render_pdf
from ledger.export.report_model import Code
from ledger.log.checkpoint import open_checkpoint
from ledger.log.merkle import leaf_hash, verify_inclusion
from ledger.log.note import VerifierKey

SECTIONS = ("summary", "held", "recipients", "requests", "alerts", "erasures", "timeline", "verify")
SECTION_TITLES = (
    "Summary",
    "What is held",
    "Who received it",
    "Rights requests",
    "Alerts",
    "Erasures",
    "Timeline",
    "How to verify",
)
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "[click](https://evil.example.com)")


@cache
def _doc() -> dict[str, Any]:
    return synthetic_export()


def doc() -> dict[str, Any]:
    """A fresh copy of the synthetic export (tests may change it)."""
    return copy.deepcopy(_doc())


@cache
def html_of_synthetic() -> str:
    return render_html(_doc())


@cache
def pdf_of_synthetic() -> bytes:
    return render_pdf(_doc())


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text by poppler's pdftotext (scripts/test.sh installs poppler-utils)."""
    if shutil.which("pdftotext") is None:
        message = "pdftotext not installed (apt-get install poppler-utils)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout.decode()


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def with_hostile_values(base: dict[str, Any]) -> dict[str, Any]:
    """The export with markup and link syntax in every kind of upstream-supplied text."""
    script, img, link = HOSTILE
    d = copy.deepcopy(base)
    d["controller"]["name"] = f"Example {img} Ltd"
    d["scope"]["id"] = script
    for e in d["entries"]:
        e["producer"]["system"] = img
        e["anomalies"] = [script]
        if e["event_type"] == "DataCollected":
            e["payload"]["data_items"][-1]["value"] = f"{script} {link}"
            e["payload"][img] = script  # an unknown payload key from upstream
    d["entries"][0]["event_type"] = script
    d["alerts"][0]["message"] = img
    d["alerts"][0]["code"] = script
    d["recipients"][0]["recipient_name"] = img
    d["requests"][0]["request_type"] = script
    d["holdings"]["items"][3]["value"] = f"{img} {link}"
    d["footer"]["export_sha256"] = img
    d["checkpoint"] = f"{script}\n{img}\n{link}\n"
    return d


# -- HTML ----------------------------------------------------------------------------------------------


def test_html_report_has_the_cover_and_every_section_in_order() -> None:
    html = html_of_synthetic()
    text = " ".join(parse(html).text)
    positions = [html.index(f'<section id="{anchor}"') for anchor in SECTIONS]
    assert positions == sorted(positions)
    for number, title in enumerate(SECTION_TITLES, start=1):
        assert f"{number}. {title}" in text
    d = _doc()
    for fact in (
        "ClientTree Group Ltd",
        "Subject timeline",
        SUBJECT,
        "Mon 20 Jul 2026 10:30:00 BST",
        "2026-07-20 09:30:00 UTC",
        f"tree size {LOG_SIZE}",
        "ledger.example.com/privacy-ledger",
        d["footer"]["export_sha256"],
        f"all {LOG_SIZE} records are present, unaltered and correctly linked",
        d["footer"]["chain_verification"]["head_hash"],
    ):
        assert fact in text, fact


def test_html_report_is_self_contained_without_scripts_or_external_references() -> None:
    html = html_of_synthetic()
    tags = parse(html).tags
    assert not {t for t, _ in tags} & {"script", "link", "img", "iframe", "object", "embed", "form", "base"}
    for _, attrs in tags:
        for name, value in attrs:
            assert name not in ("src", "srcset", "action") and not name.startswith("on"), name
            if name == "href":
                assert value is not None and value.startswith("#")
    lowered = html.lower()
    for forbidden in ("http://", "https://", "@import", "url(", "@font-face", "javascript:"):
        assert forbidden not in lowered, forbidden
    assert html.count("<style>") == 1


def test_html_report_is_accessible_lang_headings_in_order_and_scoped_headers() -> None:
    html = html_of_synthetic()
    tags = parse(html).tags
    assert ("html", [("lang", "en")]) in tags
    levels = [int(t[1]) for t, _ in tags if re.fullmatch(r"h[1-6]", t)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), "a heading level is skipped"
    headers = [dict(attrs) for t, attrs in tags if t == "th"]
    assert headers and all(h.get("scope") in ("col", "row") for h in headers)
    assert any(h.get("scope") == "row" for h in headers)  # the timeline's seq column
    assert all((dict(attrs).get("style") or "").startswith("width:") for t, attrs in tags if t == "col")
    assert all("style" not in dict(attrs) for t, attrs in tags if t != "col")


def test_html_report_escapes_markup_in_every_upstream_value() -> None:
    html = render_html(with_hostile_values(_doc()))
    tags = parse(html)
    allowed = {
        "html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2", "h3", "div", "dl", "dt",
        "dd", "nav", "strong", "ol", "li", "a", "main", "section", "table", "caption", "colgroup", "col",
        "thead", "tbody", "tr", "th", "td", "span", "pre", "code", "footer",
    }  # fmt: skip
    assert {t for t, _ in tags.tags} <= allowed
    for _, attrs in tags.tags:
        assert all(not name.startswith("on") and name not in ("src", "srcset") for name, _ in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    text = "".join(tags.text)
    assert HOSTILE[0] in text and HOSTILE[1] in text  # shown as text, not dropped


def test_erased_values_are_shown_as_erased_and_never_in_plaintext(tmp_path: Path) -> None:
    d = doc()
    # A value the inventory still carries although its key is gone must not leak either.
    d["holdings"]["items"][1]["value"] = ERASED_VALUES[0]
    html = render_html(d)
    text = pdf_text(render_pdf(d), tmp_path)
    for value in ERASED_VALUES:
        assert value not in html and value not in text, value
    held = html[html.index('<section id="held"') : html.index('<section id="recipients"')]
    items = held[held.index("<tbody>") :]
    assert items.count('<span class="b b-erased">ERASED</span>') == 4  # email, phone, address, evidence
    assert "ERASED" in text
    assert NAME in html and SPOUSE in html and "Head of Procurement" in html


def test_values_logged_before_binding_are_marked_not_bound() -> None:
    html = html_of_synthetic()
    assert f'<span class="pv">{NAME}</span> <span class="b b-info">not bound</span>' in html


def test_requests_show_deadlines_met_or_missed_and_days_late() -> None:
    html = html_of_synthetic()
    rows = re.findall(r"<tr>(.*?)</tr>", html[html.index('<section id="requests"') :], re.S)
    by_type = {re.search(r"<strong>(\w+)</strong>", r).group(1): r for r in rows[1:4]}  # type: ignore[union-attr]
    assert 'b-bad">missed<' in by_type["access"] and "13 days" in by_type["access"]
    assert "Tue 7 Apr 2026" in by_type["access"] and "Mon 20 Apr 2026" in by_type["access"]
    assert 'b-good">met<' in by_type["erasure"]
    assert 'b-bad">overdue<' in by_type["rectification"] and "14 days" in by_type["rectification"]


def test_alerts_include_retracted_ones_marked_as_retracted() -> None:
    html = html_of_synthetic()
    alerts = html[html.index('<section id="alerts"') : html.index('<section id="erasures"')]
    assert alerts.count("<tr>") == 6
    assert "NO_VALID_CONSENT" in alerts and '<span class="b b-quiet">retracted</span>' in alerts
    timeline = html[html.index('<section id="timeline"') :]
    assert "NO_VALID_CONSENT (retracted)" in timeline  # on the event that raised it


def test_timeline_shows_london_and_utc_times_one_row_per_entry() -> None:
    html = html_of_synthetic()
    timeline = html[html.index('<section id="timeline"') : html.index('<section id="verify"')]
    assert timeline.count('<th scope="row">') == 40
    assert 'Mon 20 Apr 2026</div><div>16:00:00 BST</div><div><span class="m">15:00:00 UTC' in timeline
    assert 'Sat 3 Jan 2026</div><div>16:40:00 GMT</div><div><span class="m">16:40:00 UTC' in timeline
    assert "Erasure deferred by legal hold" in timeline and "CONSENT_ID_MISMATCH" in timeline


def test_failed_integrity_check_is_stated_first_and_plainly() -> None:
    d = doc()
    d["footer"]["chain_verification"] = {
        "valid": False,
        "length": 57,
        "head_hash": "ab" * 32,
        "first_invalid_seq": 57,
    }
    html = render_html(d)
    notice = html.index('<div class="notice bad"><p class="title">Integrity check failed</p>')
    assert notice < html.index('<dl class="facts">')
    assert "the first record that does not verify is seq 57" in html


def test_access_pack_report_shows_every_article_15_part() -> None:
    html = render_html(synthetic_export(kind="access_pack"))
    text = " ".join(parse(html).text)
    assert "Access pack (Article 15)" in text
    for part in (
        "Why the data is used (purposes)",
        "What kinds of data are held (categories)",
        "Who it is shared with (recipients)",
        "How long it is kept (retention)",
        "Where the data came from (sources)",
        "Automated decision-making",
        "Transfers outside the UK and their safeguards",
        "The rights available",
        "The right to complain to the ICO",
    ):
        assert f"<h3>{part}</h3>" in html, part
    assert "Information Commissioner" in text and "credit check" in text


def test_how_to_verify_hash_command_reproduces_the_export_sha256(tmp_path: Path) -> None:
    d = _doc()
    (tmp_path / "export.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    codes = [b for s in build_report(d).sections for b in s.blocks if isinstance(b, Code)]
    assert codes[0].text == f"python3 verify_export.py subject-{SUBJECT}-{LOG_SIZE}.zip --key verifier.key"
    command = codes[1].text.removeprefix("python3 -c ").strip('"')
    out = subprocess.run(
        [sys.executable, "-c", command], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == d["footer"]["export_sha256"]


def test_bundle_name_in_the_verify_command_is_never_upstream_text() -> None:
    d = doc()
    d["scope"]["id"] = "x; rm -rf ~"
    codes = [b for s in build_report(d).sections for b in s.blocks if isinstance(b, Code)]
    assert codes[0].text == "python3 verify_export.py BUNDLE.zip --key verifier.key"


# -- PDF -----------------------------------------------------------------------------------------------


def test_pdf_report_is_a4_with_several_pages_sections_and_non_latin_names(tmp_path: Path) -> None:
    pdf = pdf_of_synthetic()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = page_count(pdf)
    assert pages > 1
    assert b"/MediaBox [0 0 595.28 841.89]" in pdf
    text = pdf_text(pdf, tmp_path)
    for number, title in enumerate(SECTION_TITLES, start=1):
        assert f"{number}. {title}" in text
    assert NAME in text and SPOUSE in text
    assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text
    assert text.count(f"Subject timeline · {SUBJECT}") == pages  # the running header on every page
    assert "Integrity verified" in text


def test_pdf_report_tables_repeat_their_header_row_on_every_page(tmp_path: Path) -> None:
    pages = pdf_text(pdf_of_synthetic(), tmp_path).split("\f")
    timeline = [p for p in pages if "Proof of identity" in p or "Key destroyed" in p]
    assert len(timeline) >= 2
    assert all(re.search(r"Seq\s+When\s+(Event|What)\s+Details", p) for p in timeline)


def test_pdf_report_is_byte_identical_for_the_same_document_and_dated_by_it() -> None:
    first = render_pdf(_doc())
    assert render_pdf(copy.deepcopy(_doc())) == first
    assert b"/CreationDate (D:20260720093000Z" in first


def test_pdf_report_draws_upstream_text_literally_no_links_no_page_alias(tmp_path: Path) -> None:
    d = with_hostile_values(_doc())
    d["entries"][3]["payload"]["data_items"][-1]["value"] = "{nb} [click](https://evil.example.com)"
    pdf = render_pdf(d)
    assert b"/URI" not in pdf and b"/Annots" not in pdf
    text = " ".join(pdf_text(pdf, tmp_path).split())
    assert "{nb} [click](https://evil.example.com)" in text
    assert HOSTILE[0] in text


def test_pdf_report_logs_no_character_of_personal_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = doc()
    d["entries"][3]["payload"]["data_items"][-1]["value"] = "Zoë 🧬 \x07"  # no shipped font has U+1F9EC
    with caplog.at_level(logging.DEBUG):
        pdf = render_pdf(d)
    # Font libraries would list missing glyphs (WARNING) and every subset's glyph names (INFO).
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "🧬" in m or "uni674E" in m or "glyph" in m.lower()]
    assert "Zoë [U+1F9EC] [U+0007]" in " ".join(pdf_text(pdf, tmp_path).split())


def test_pdf_report_handles_a_value_taller_than_a_page(tmp_path: Path) -> None:
    d = doc()
    d["entries"][3]["payload"]["data_items"][-1]["value"] = "\n".join(f"line {i}" for i in range(150))
    text = pdf_text(render_pdf(d), tmp_path)
    assert "line 0" in text and "line 149" in text


# -- the fixture is a faithful export -------------------------------------------------------------------


def test_synthetic_export_entries_are_provable_against_its_signed_checkpoint() -> None:
    d = _doc()
    checkpoint = open_checkpoint(d["checkpoint"], VerifierKey.parse(d["verifier_key"]))
    assert checkpoint.size == LOG_SIZE and len(d["entries"]) == 40
    for e in d["entries"]:
        leaf = base64.b64decode(e["leaf"])
        proof = [base64.b64decode(p) for p in e["inclusion_proof"]]
        verify_inclusion(e["leaf_index"], checkpoint.size, leaf_hash(leaf), proof, checkpoint.root_hash)
        assert hashlib.sha256(leaf).hexdigest() == e["hash"]
    assert export_sha256(d) == d["footer"]["export_sha256"]


def test_synthetic_export_passes_the_standalone_verifier(tmp_path: Path) -> None:
    d = _doc()
    (tmp_path / "export.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "checkpoint.txt").write_text(d["checkpoint"], encoding="utf-8")
    (tmp_path / "verifier.key").write_text(d["verifier_key"] + "\n", encoding="utf-8")
    members = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    (tmp_path / MANIFEST).write_bytes(signed_manifest(members, FIXTURE_SIGNER))
    verifier = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"
    out = subprocess.run(
        [sys.executable, str(verifier), str(tmp_path), "--key", str(tmp_path / "verifier.key")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
