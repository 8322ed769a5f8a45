"""The files the package ships (ledger/_data) are the repository's single sources, linked, never copies:
the top-level schemas/ that producers read, and the regulator's standalone tools/verify_export.py."""

from __future__ import annotations

from conftest import REPO

from ledger.avro import DEFAULT_SCHEMA_DIR
from ledger.export.verifier import VERIFIER_PATH

DATA = REPO / "ledger" / "_data"


def test_the_package_data_are_links_to_the_single_sources_in_the_repository() -> None:
    assert (DATA / "schemas").is_symlink() and (DATA / "schemas").resolve() == REPO / "schemas"
    tool = DATA / "verify_export.py"
    assert tool.is_symlink() and tool.resolve() == REPO / "tools" / "verify_export.py"


def test_the_editable_install_reads_the_repository_files_through_the_links() -> None:
    assert DEFAULT_SCHEMA_DIR == DATA / "schemas" / "avro"
    assert DEFAULT_SCHEMA_DIR.resolve() == REPO / "schemas" / "avro"
    assert VERIFIER_PATH == REPO / "tools" / "verify_export.py"
