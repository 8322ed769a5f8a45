"""Shared fixtures: one ledger per test on each storage backend (SQLite file, real PostgreSQL)."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

from ledger.bootstrap import Ledger
from ledger.config import Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PG_URL = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
FIXED_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def pg_base_url() -> str:
    """The test database URL (the server is started by deploy/local/postgres.sh)."""
    return os.environ.get("LEDGER_TEST_DATABASE_URL", DEFAULT_PG_URL)


def services_required() -> bool:
    """True when missing services must fail the run instead of skipping (the README test command)."""
    return os.environ.get("LEDGER_REQUIRE_SERVICES") == "1"


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(pg_base_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return type(exc).__name__
    return None


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The base URL of a reachable PostgreSQL server, or skip/fail."""
    problem = _pg_available()
    if problem is not None:
        message = f"PostgreSQL not reachable at the test URL ({problem}); run deploy/local/postgres.sh start"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return pg_base_url()


class Clock:
    """A settable ledger clock for deterministic tests."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A fixed, settable clock."""
    return Clock()


LedgerFactory = Callable[[], Ledger]


@contextlib.contextmanager
def ledger_at(url: str, tmp: Path) -> Iterator[Ledger]:
    """A ledger on ``url`` with a fresh master key in the new folder ``tmp`` and a fixed clock."""
    tmp.mkdir()
    key_file = tmp / "master.key"
    key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key_file.chmod(0o600)  # the ledger refuses a key file open to others
    ledger = Ledger.open(
        Settings(database_url=url, var_dir=tmp / "var", master_key_file=key_file), clock=Clock()
    )
    try:
        yield ledger
    finally:
        ledger.close()


def view_tables(ledger: Ledger, projections: Any) -> dict[str, list[str]]:
    """Every row of every table of ``projections``' views, as sorted JSON texts per table (to compare
    two ways of building the same views)."""
    out: dict[str, list[str]] = {}
    with ledger.store.read() as cur:
        for view in projections.runner.views:
            for table in view.tables:
                rows = cur.execute(f"SELECT * FROM {{t:{table}}}").all()
                out[table] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return out


def on_both_backends(pg_url: str, tmp: Path, run: Callable[[Ledger], T]) -> tuple[T, T]:
    """``run`` on a fresh SQLite ledger and on a fresh PostgreSQL schema (dropped after): both results."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with ledger_at(f"sqlite:///{tmp / 'sample.db'}", tmp / "lite") as lite:
            on_sqlite = run(lite)
        with ledger_at(f"{pg_url}?schema={schema}", tmp / "pg") as pg:
            on_postgres = run(pg)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return on_sqlite, on_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Where one test's ledger lives: a fresh SQLite file, or a fresh schema on real PostgreSQL."""
    if request.param == "sqlite":
        db = tmp_path / "ledger.db"
        yield {"name": "sqlite", "url": f"sqlite:///{db}", "path": db}
        return
    base = request.getfixturevalue("pg_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield {"name": "postgres", "url": f"{base}?schema={schema}", "schema": schema, "base": base}
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def open_ledger(backend: dict[str, Any], tmp_path: Path, clock: Clock) -> Iterator[LedgerFactory]:
    """Opens (and reopens, as a restarted process would) the test's ledger; closes them all."""
    opened: list[Ledger] = []
    key_file = tmp_path / "master.key"
    key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key_file.chmod(0o600)  # the ledger refuses a key file open to others

    def factory() -> Ledger:
        settings = Settings(database_url=backend["url"], var_dir=tmp_path / "var", master_key_file=key_file)
        ledger = Ledger.open(settings, clock=clock)
        opened.append(ledger)
        return ledger

    yield factory
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: LedgerFactory) -> Ledger:
    """A ledger on the parametrised backend."""
    return open_ledger()


def database_bytes(ledger: Ledger, backend: dict[str, Any]) -> bytes:
    """Everything the database holds, as bytes, for searching plaintext.

    SQLite: the database file and its WAL as they are on disk. PostgreSQL: every column of every
    row of every table in the test's schema (bytea raw, text as UTF-8).
    """
    if backend["name"] == "sqlite":
        path: Path = backend["path"]
        blobs = [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
        return b"\n".join(blobs)
    import psycopg

    out: list[bytes] = []
    with psycopg.connect(backend["base"]) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (backend["schema"],),
        ).fetchall()
        assert tables, "the test schema has no tables"
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{backend["schema"]}"."{table}"'):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        out.append(bytes(value))
                    elif value is not None:
                        out.append(str(value).encode())
    return b"\n".join(out)


# -- the standalone verifier and the command line, as a user runs them ------------------------------


def load_standalone_verifier() -> ModuleType:
    """tools/verify_export.py, imported by file path as the regulator would run it."""
    name = "verify_export_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tools" / "verify_export.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def env_without_ledger_settings(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with every LEDGER_ variable removed, then EXTRA added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(extra or {})
    return env


def sqlite_cli_env(tmp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a ledger in TMP/l.db with a master key file TMP/kek (made once), plus EXTRA."""
    key = tmp / "kek"
    if not key.exists():
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key.chmod(0o600)
    env = env_without_ledger_settings(
        {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{tmp}/l.db"}
    )
    env.update(extra or {})
    return env


def run_cli(
    cwd: Path | None, env: Mapping[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m ledger.cli ARGS`` in CWD with exactly the environment ENV, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
