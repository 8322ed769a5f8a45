"""Cursor pagination and CSV rendering of the staff API (no database)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from ledger.web.paging import Cursor, csv_rows, filters_digest, page
from ledger.web.problems import Problem

AS_OF = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_pages_cover_every_row_once_and_the_last_has_no_cursor() -> None:
    rows = [{"n": i} for i in range(23)]
    digest = filters_digest("alerts", {"status": "OPEN"})
    seen: list[dict[str, int]] = []
    offset = 0
    while True:
        answer = page(rows, view="alerts", digest=digest, as_of=AS_OF, offset=offset, limit=10)
        seen.extend(answer["items"])
        if answer["next_cursor"] is None:
            break
        cursor = Cursor.decode(answer["next_cursor"], "alerts", digest)
        assert cursor.as_of == AS_OF
        offset = cursor.offset
    assert seen == rows


@pytest.mark.parametrize("text", ["", "!!!", "e30", "x" * 600, "eyJ2IjoiYWxlcnRzIn0"])
def test_a_malformed_cursor_is_invalid_cursor_and_not_echoed(text: str) -> None:
    with pytest.raises(Problem) as info:
        Cursor.decode(text, "alerts", filters_digest("alerts", {}))
    assert info.value.code == "INVALID_CURSOR"
    assert text not in info.value.body().decode() or len(text) < 4


def test_a_cursor_is_tied_to_its_view_and_filters() -> None:
    text = Cursor("alerts", filters_digest("alerts", {"status": "OPEN"}), AS_OF, 10).encode()
    Cursor.decode(text, "alerts", filters_digest("alerts", {"status": "OPEN"}))
    for view, filters in (("alerts", {"status": "RESOLVED"}), ("requests", {"status": "OPEN"})):
        with pytest.raises(Problem):
            Cursor.decode(text, view, filters_digest(view, filters))


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_defused() -> None:
    rows = [
        {"a": '=HYPERLINK("http://x.example.com")', "b": "+1", "c": "-2", "d": "@SUM(A1)", "e": ["x", 1]},
        {"a": None, "b": True, "c": "plain", "d": 3, "e": {"k": "v"}},
    ]
    text = "".join(csv_rows(rows, ["a", "b", "c", "d", "e"]))
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["a", "b", "c", "d", "e"]
    assert parsed[1] == ['\'=HYPERLINK("http://x.example.com")', "'+1", "'-2", "'@SUM(A1)", '["x",1]']
    assert parsed[2] == ["", "true", "plain", "3", '{"k":"v"}']
