"""``LEDGER_DATABASE_URL`` for SQLite follows the SQLAlchemy convention, and never means in-memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import DEFAULT_DATABASE_URL
from ledger.store.database import ConfigurationError, persistence_env, sqlite_path


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/x.db", "var/x.db"),  # three slashes: relative to the working directory
        ("sqlite:///./var/x.db", "./var/x.db"),
        ("sqlite:////tmp/x.db", "/tmp/x.db"),  # four slashes: absolute
        ("sqlite:////srv/ledger%20data/x.db", "/srv/ledger data/x.db"),
    ],
)
def test_sqlite_url_path_is_relative_with_three_slashes_and_absolute_with_four(url: str, path: str):
    assert sqlite_path(url) == path


def test_the_default_database_url_is_the_relative_var_ledger_db():
    assert sqlite_path(DEFAULT_DATABASE_URL) == "./var/ledger.db"
    assert not Path(sqlite_path(DEFAULT_DATABASE_URL)).is_absolute()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite:////",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?cache=shared",
        "sqlite:///file:ledger?mode=memory&cache=shared",
        "sqlite:///x.db?mode=memory",
        "sqlite:///file:var/x.db",
        "sqlite://host/x.db",
    ],
)
def test_in_memory_and_uri_forms_of_sqlite_are_refused(url: str):
    with pytest.raises(ConfigurationError):
        persistence_env(url)


def test_a_relative_url_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    env, dialect = persistence_env("sqlite:///data/x.db")
    assert env["SQLITE_DBNAME"] == "data/x.db" and not dialect.is_postgres
