"""Every list view read page by page (``Projections.page``) gives exactly its whole answer (``query``): the
same rows in the same order, for every page size, filter and ``as_of``, merged subjects included.

The request queue asked for "now", the alerts and the disclosure register are read from their tables in
their sort order, a page at a time (keyset); the others, and the queue at a past instant, are cut from
the whole answer. Positions go through JSON between pages, as a cursor carries them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections import alerts_query, disclosures, requests
from projections.paging import CursorError
from projections.service import Projections

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # after every sample event: the queue's stored order holds
PAST = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)  # mid-sample: requests open then, closed or changed later


@pytest.fixture
def sample(ledger: Ledger) -> tuple[Ledger, Projections, dict[str, str]]:
    """A sample ledger with merges, its views current; a merged-away subject and its survivor."""
    events = generate_events(seed=3, subjects=90)
    result = ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])
    assert result.stored == len(events)
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    merge = next(e for e in events if e["event_type"] == "SubjectsMerged")
    merged = str(merge["payload"]["merged_subject_id"])
    survivor = str(merge["subject_id"])
    return ledger, projections, {"merged": merged, "survivor": survivor}


def _walk(projections: Projections, view: str, size: int, as_of: datetime, **filters: Any) -> list[Any]:
    """Every page of ``view`` from the first, following each page's position (as JSON)."""
    rows: list[Any] = []
    after = None
    for _ in range(10_000):
        page = projections.page(view, as_of=as_of, limit=size, after=after, **filters)
        assert len(page.rows) <= size
        rows.extend(page.rows)
        if page.after is None:
            return rows
        assert page.rows, "a page before the last is never empty"
        after = json.loads(json.dumps(page.after))
    raise AssertionError("the pages never end")


def _questions(subjects: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    merged, survivor = subjects["merged"], subjects["survivor"]
    return [
        ("requests", {}),
        ("requests", {"include_closed": True}),
        ("requests", {"subject": merged, "include_closed": True}),
        ("alerts", {}),
        ("alerts", {"status": "OPEN"}),
        ("alerts", {"severity": "high"}),
        ("alerts", {"code": "REQUEST_OVERDUE"}),
        ("alerts", {"code": "RETENTION_PERIOD_EXCEEDED"}),
        ("alerts", {"subject": merged}),
        ("disclosures", {}),
        ("disclosures", {"subject": merged}),
        ("disclosures", {"subject": survivor}),
        ("complaints", {}),
        ("notices", {}),
        ("notices", {"status": "OVERDUE"}),
        ("retention", {"subject": survivor}),
        ("retention", {}),
        ("reads", {}),
    ]


@pytest.mark.parametrize("as_of", [NOW, PAST], ids=["now", "past"])
def test_every_list_read_page_by_page_is_its_whole_answer_in_the_same_order(
    sample: tuple[Ledger, Projections, dict[str, str]], as_of: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, projections, subjects = sample
    monkeypatch.setattr(alerts_query, "_CHUNK", 3)  # stored alerts read in many chunks within a page
    for view, filters in _questions(subjects):
        whole = projections.query(view, as_of=as_of, **filters)
        sizes = (1, 3, 1000) if len(whole) <= 400 else (7, 64, 1000)
        for size in sizes:
            assert _walk(projections, view, size, as_of, **filters) == whole, (view, filters, size)
    # The sample gives these lists enough rows for several pages.
    for view in ("requests", "alerts", "disclosures"):
        assert len(projections.query(view, as_of=as_of)) > 3, view


def test_the_lists_kept_in_order_are_read_a_page_at_a_time_not_computed_whole(
    sample: tuple[Ledger, Projections, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, projections, _ = sample
    whole = {v: projections.query(v, as_of=NOW) for v in ("requests", "alerts", "disclosures")}

    def refused(*_: Any, **__: Any) -> Any:
        raise AssertionError("the whole list was computed for one page")

    monkeypatch.setattr(requests, "list_requests", refused)
    monkeypatch.setattr(disclosures, "list_disclosures", refused)
    monkeypatch.setattr(alerts_query, "as_of_alerts", refused)
    for view in ("requests", "disclosures"):
        assert _walk(projections, view, 5, NOW) == whole[view]
    # The first page of alerts holds the most severe ones: the as-of rules (high and medium) are not
    # computed while the page is filled by critical alerts.
    critical = [a for a in whole["alerts"] if a["severity"] == "critical"]
    assert len(critical) >= 2, "the sample raises critical alerts"
    first = projections.page("alerts", as_of=NOW, limit=len(critical) - 1)
    assert first.rows == critical[:-1] and first.after is not None


def test_a_position_of_another_list_is_refused(sample: tuple[Ledger, Projections, dict[str, str]]) -> None:
    _, projections, _ = sample
    after = projections.page("disclosures", as_of=NOW, limit=2).after
    assert after is not None
    with pytest.raises(CursorError):
        projections.page("alerts", as_of=NOW, limit=2, after=after)
    with pytest.raises(CursorError):
        projections.page("notices", as_of=NOW, limit=2, after=after)
    with pytest.raises(CursorError):
        projections.page("requests", as_of=NOW, limit=2, after=["k", "x", 1, 2, 3])
