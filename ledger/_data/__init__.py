"""The files the ledger reads at run time, shipped inside the package.

In the repository ``schemas`` and ``verify_export.py`` here are symbolic links to the single sources,
the top-level ``schemas/`` (Avro schemas, code lists, DPV mapping, calendars, controller file) and the
regulator's standalone ``tools/verify_export.py``; a wheel holds copies of them (``pyproject.toml``
lists them as package data). Code finds them through ``importlib.resources``, never through the working
tree, so an editable install and an installed wheel read the same names.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ledger.errors import LedgerError

__all__ = ["data_path"]


def data_path(*parts: str) -> Path:
    """The file or directory ``parts`` (e.g. ``"schemas", "avro"``) of the package data, on disk."""
    resource = files(__name__).joinpath(*parts)
    if not isinstance(resource, Path):  # a zipped install: every loader here reads real files
        raise LedgerError(
            f"the package data {'/'.join(parts)} is not a file on disk: install the ledger unzipped"
        )
    return resource
