"""The README tells the truth: its configuration table, exit codes and commands match the code, and
the `settings` command reports exactly the settings the README documents."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
from dataclasses import MISSING, fields
from pathlib import Path

from ledger import exit_codes
from ledger.cli import build_parser, main
from ledger.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start : end if end != -1 else len(README)]


def _configuration_rows() -> dict[str, str]:
    """env name -> default cell, from the README's configuration table."""
    rows: dict[str, str] = {}
    for line in _section("## Configuration").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`LEDGER_"):
            continue
        for name in re.findall(r"`(LEDGER_[A-Z0-9_]+)`", cells[0]):
            rows[name] = cells[1]
    return rows


def test_the_configuration_table_lists_exactly_the_settings_the_code_reads():
    documented = set(_configuration_rows())
    in_code = {f.metadata["env"] for f in fields(Settings)}
    assert documented == in_code, {
        "undocumented": in_code - documented,
        "not a setting": documented - in_code,
    }


def test_the_configuration_table_gives_the_codes_defaults():
    rows = _configuration_rows()
    for f in fields(Settings):
        if f.default is MISSING or f.default is None:
            continue
        cell = rows[f.metadata["env"]]
        shown = re.findall(r"`([^`]*)`", cell)
        if len(shown) != 1:  # a prose default ("unset: ..."), or a pair of variables in one row
            continue
        expected = str(f.default)
        if isinstance(f.default, bool):
            continue
        assert shown[0] == expected, (f.metadata["env"], shown[0], expected)


def test_the_exit_code_table_matches_the_codes_the_commands_use():
    table = _section("### Exit codes")
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    in_code = {exit_codes.OK, exit_codes.FAILURE, exit_codes.USAGE, exit_codes.DEAD_LETTERED}
    assert documented == in_code


def test_every_command_is_shown_in_the_readme():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in sub.choices if f"privacy-ledger {name}" not in README]
    assert not missing, f"commands the README never shows: {missing}"


def test_the_settings_command_reports_every_documented_setting_with_its_source(monkeypatch):
    for f in fields(Settings):
        monkeypatch.delenv(f.metadata["env"], raising=False)
    monkeypatch.setenv("LEDGER_BATCH_SIZE", "250")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["settings"]) == exit_codes.OK
    reported = {row["env"]: row for row in json.loads(out.getvalue())}
    assert set(reported) == set(_configuration_rows())
    assert reported["LEDGER_BATCH_SIZE"]["value"] == 250
    assert reported["LEDGER_BATCH_SIZE"]["source"] == "environment"
    assert reported["LEDGER_PARK_GRACE_SECONDS"]["source"] == "default"
