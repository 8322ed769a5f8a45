"""The standalone verifier names a malformed bundle's faults as failures instead of crashing (exit 1, every
failure named; never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import load_standalone_verifier
from export_fixtures import synthetic_export


def _failures(doc: dict[str, Any]) -> list[str]:
    verifier = load_standalone_verifier()
    checks = verifier.verify_bundle(doc, {}, doc["verifier_key"])
    return [failure for check in checks for failure in check.failures]


def test_an_entry_that_is_not_an_object_is_a_named_failure_in_a_whole_subject_export() -> None:
    doc = synthetic_export()
    doc["entries"].append("not an entry")
    assert "entry #41 is not an object" in _failures(doc)


def test_a_lone_surrogate_in_export_json_makes_the_bundle_unreadable_not_a_crash(tmp_path: Path) -> None:
    doc = synthetic_export()
    doc["entries"][0]["event_id"] = "\ud800"
    (tmp_path / "export.json").write_text(json.dumps(doc), encoding="utf-8")  # ASCII: "\ud800" escaped
    (tmp_path / "checkpoint.txt").write_text(doc["checkpoint"], encoding="utf-8")
    (tmp_path / "verifier.key").write_text(doc["verifier_key"] + "\n", encoding="utf-8")
    verifier = load_standalone_verifier()
    assert verifier.main([str(tmp_path), "--key", doc["verifier_key"]]) == 2
