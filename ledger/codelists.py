"""Loading the code-list configuration (``schemas/codelists.json``) into a ``CodeLists`` value."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ledger._data import data_path
from ledger.domain.codes import CodeLists
from ledger.errors import CodeListError

__all__ = ["DEFAULT_CODE_LISTS_PATH", "load_code_lists"]

DEFAULT_CODE_LISTS_PATH = data_path("schemas", "codelists.json")


def load_code_lists(path: Path | None = None) -> CodeLists:
    """Read and check the code lists (default ``schemas/codelists.json``); cached per path."""
    return _load((path or DEFAULT_CODE_LISTS_PATH).resolve())


@lru_cache(maxsize=8)
def _load(path: Path) -> CodeLists:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodeListError(f"cannot read code lists {path}: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise CodeListError(f"code lists {path}: top level must be an object")
    try:
        return CodeLists.from_data(data)
    except ValueError as exc:
        raise CodeListError(f"code lists {path}: {exc}") from exc
