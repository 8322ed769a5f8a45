"""The standalone verifier names a malformed bundle's faults as failures instead of crashing (exit 1, every
failure named; never a traceback)."""

from __future__ import annotations

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
