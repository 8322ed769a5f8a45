"""`privacy-ledger query` of a list prints one page (100 rows unless `--limit`), says on stderr when more
rows follow and with which `--cursor` to get them; `--all` prints every row. Followed to the end, the
pages are exactly the whole list."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

AS_OF = "2026-11-01T12:00:00Z"
_LISTS = ("alerts", "disclosures", "retention")
_MORE = re.compile(
    r"^privacy-ledger: (\d+) rows shown, more follow: the next page with --cursor (\S+) ", re.M
)


@pytest.fixture(scope="module")
def sample_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("pages")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update({"LEDGER_VAR_DIR": str(tmp / "var"), "LEDGER_DATABASE_URL": f"sqlite:///{tmp}/var/ledger.db"})
    assert run_cli(tmp, env, "sample", "--subjects", "60", "--out", str(tmp / "s.jsonl")).returncode == 0
    proc = run_cli(tmp, env, "ingest", str(tmp / "s.jsonl"))
    assert proc.returncode == 0, proc.stderr
    return env, tmp


def _query(ledger: tuple[dict[str, str], Path], *args: str) -> subprocess.CompletedProcess[str]:
    env, tmp = ledger
    return run_cli(tmp, env, "query", *args)


def _walk(ledger: tuple[dict[str, str], Path], *args: str) -> tuple[list[Any], int]:
    """Every row of the pages of ``query ARGS``, following the printed cursors; and the number of pages."""
    rows: list[Any] = []
    proc = _query(ledger, *args, "--as-of", AS_OF)
    for pages in range(1, 1000):
        assert proc.returncode == 0, proc.stderr
        page = json.loads(proc.stdout)
        rows.extend(page)
        more = _MORE.search(proc.stderr)
        if more is None:
            assert "more follow" not in proc.stderr
            return rows, pages
        assert int(more.group(1)) == len(page)
        proc = _query(ledger, *args, "--cursor", more.group(2))
    raise AssertionError("the pages never end")


@pytest.mark.parametrize(
    "question",
    [
        ("alerts",),
        ("alerts", "--status", "open"),
        ("disclosures",),
        ("requests", "--include-closed"),
        ("notices",),
    ],
    ids=lambda q: " ".join(q),
)
def test_the_pages_followed_by_their_cursors_are_the_whole_list(
    sample_ledger: Any, question: tuple[str, ...]
) -> None:
    every = _query(sample_ledger, *question, "--all", "--as-of", AS_OF)
    assert every.returncode == 0, every.stderr
    whole = json.loads(every.stdout)
    assert len(whole) > 7 and "more follow" not in every.stderr
    rows, pages = _walk(sample_ledger, *question, "--limit", "7")
    assert rows == whole
    assert pages == -(-len(whole) // 7)


def test_a_list_prints_100_rows_by_default_and_says_more_follow(sample_ledger: Any) -> None:
    answers = {v: json.loads(_query(sample_ledger, v, "--all", "--as-of", AS_OF).stdout) for v in _LISTS}
    view = max(_LISTS, key=lambda v: len(answers[v]))
    every = answers[view]
    assert len(every) > 100, "the sample holds a list longer than a page"
    first = _query(sample_ledger, view, "--as-of", AS_OF)
    assert first.returncode == 0
    assert json.loads(first.stdout) == every[:100]
    assert _MORE.search(first.stderr) is not None


def test_a_cursor_continues_only_its_own_question(sample_ledger: Any) -> None:
    first = _query(sample_ledger, "alerts", "--limit", "3", "--as-of", AS_OF)
    cursor = _MORE.search(first.stderr)
    assert cursor is not None
    for args in (
        ("disclosures", "--cursor", cursor.group(2)),
        ("alerts", "--status", "OPEN", "--cursor", cursor.group(2)),
        ("alerts", "--cursor", cursor.group(2), "--as-of", "2026-10-01T00:00:00Z"),
        ("alerts", "--cursor", "not-a-cursor"),
        ("alerts", "--all", "--limit", "3"),
    ):
        proc = _query(sample_ledger, *args)
        assert proc.returncode == 2, args
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
