"""``/readyz`` follows the database: 503 while PostgreSQL is down, 200 again once it is back, without
restarting ``serve`` or ``project`` (``/healthz`` stays 200 all along: the process is alive).

The test runs a PostgreSQL server of its own (initdb into a private folder, a free port on 127.0.0.1)
and stops and starts that one; the shared server on 5432 is never touched. PostgreSQL refuses to run
as root: as root (CI) its programs run as the ``postgres`` account, as ``deploy/local/postgres.sh``
does.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import env_without_ledger_settings, run_cli, services_required
from serve_support import free_port, http, serving

REPO = Path(__file__).resolve().parents[2]


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_owner(argv: list[str]) -> list[str]:
    """``argv`` run as the ``postgres`` account when we are root (initdb and postgres refuse root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PrivateServer:
    """A PostgreSQL server in a temporary folder of its own, on ``port``; stopped and removed at the end."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            raise RuntimeError("initdb/pg_ctl not found (PostgreSQL server programs)")
        # Not under pytest's tmp_path: as root that is 0700 root's, which the postgres account cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="ledger-readyz-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run([initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(_as_owner(argv), cwd="/", capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        log = self.folder / "server.log"
        assert self.pg_ctl is not None
        self._run(
            [self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"]
        )

    def stop(self) -> None:
        assert self.pg_ctl is not None
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"])

    def remove(self) -> None:
        assert self.pg_ctl is not None
        subprocess.run(
            _as_owner([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            cwd="/",
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivateServer]:
    try:
        server = PrivateServer()
    except (RuntimeError, AssertionError, OSError, KeyError) as exc:
        if services_required():
            pytest.fail(f"a private PostgreSQL server is required (LEDGER_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"cannot run a private PostgreSQL server: {exc}")
    try:
        server.start()
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE ledger")
        yield server
    finally:
        server.remove()


def _get(url: str) -> tuple[int, Any]:
    """(status, JSON body) of a GET; (0, None) when nothing answers."""
    try:
        status, _headers, body = http(url)
    except OSError:
        return 0, None
    return status, json.loads(body) if isinstance(body, str) and body.startswith("{") else body


def _wait(url: str, status: int, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    seen: tuple[int, Any] = (0, None)
    while time.monotonic() < deadline:
        seen = _get(url)
        if seen[0] == status:
            return seen[1]
        time.sleep(0.5)
    raise AssertionError(f"{what}: {url} answered {seen} for {timeout} s, never {status}")


@pytest.mark.postgres
def test_readyz_flips_when_postgresql_stops_and_back_when_it_returns(
    private_pg: PrivateServer, tmp_path: Path
):
    key = tmp_path / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    ops = free_port()
    env = env_without_ledger_settings(
        {
            "LEDGER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{private_pg.port}/ledger",
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_VAR_DIR": str(tmp_path / "var"),
            "LEDGER_METRICS_PORT": str(ops),
        }
    )
    made = run_cli(None, {k: v for k, v in env.items() if k != "LEDGER_METRICS_PORT"}, "users", "list")
    assert made.returncode == 0, made.stderr  # creates the ledger's tables
    project_log = (tmp_path / "project.log").open("ab")
    project = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "project"],
        cwd=REPO,
        env=env,
        stdout=project_log,
        stderr=project_log,
    )
    serve_env = {k: v for k, v in env.items() if k != "LEDGER_METRICS_PORT"}
    try:
        with serving(serve_env) as served:
            probes = {"serve": f"{served.base}", "project": f"http://127.0.0.1:{ops}"}
            for name, base in probes.items():
                assert _wait(f"{base}/readyz", 200, f"{name} ready")["checks"]["database"] == "ok"

            private_pg.stop()
            for name, base in probes.items():
                body = _wait(f"{base}/readyz", 503, f"{name} not ready while PostgreSQL is down")
                assert body["status"] == "not ready" and body["checks"]["database"] != "ok", body
                assert _get(f"{base}/healthz") == (200, {"status": "alive"}), name
            assert served.process.poll() is None and project.poll() is None  # still running

            private_pg.start()
            for name, base in probes.items():
                body = _wait(f"{base}/readyz", 200, f"{name} ready again once PostgreSQL is back")
                assert body["checks"]["database"] == "ok"
            assert served.process.poll() is None and project.poll() is None  # never restarted
        assert served.returncode == 0, served.stderr[-3000:]
    finally:
        project.send_signal(signal.SIGTERM)
        code = project.wait(90)
        project_log.close()
    assert code == 0, (tmp_path / "project.log").read_text(errors="replace")[-3000:]
