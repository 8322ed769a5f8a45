"""The ledger as a package: the wheel ``python -m build`` makes, installed in a clean virtualenv outside the
repository, runs ``make run``'s flow and the other commands from the files it ships (the Avro schemas,
code lists, calendars, controller file, DPV mapping and the standalone verifier), never from the
repository's working tree.

It needs PyPI (through pip's cache) for the build backend and the dependencies: without it the test is
skipped, unless ``LEDGER_REQUIRE_SERVICES=1``, which makes it fail."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, services_required

# What the build reads: the project file, its readme, the packages and what ledger/_data links to.
SOURCES = ("pyproject.toml", "README.md", "ledger", "projections", "consumers", "schemas", "tools")
PYPI = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/pip/"
# Where each loader finds its file, printed by the installed package itself.
WHERE = """
import json, sys
import ledger
from ledger.avro import DEFAULT_SCHEMA_DIR
from ledger.calendars import DEFAULT_CALENDARS_DIR
from ledger.codelists import DEFAULT_CODE_LISTS_PATH
from ledger.controller import DEFAULT_CONTROLLER_PATH
from ledger.export.verifier import VERIFIER_PATH
from projections.ropa import DEFAULT_DPV_MAPPING_PATH
paths = [DEFAULT_SCHEMA_DIR, DEFAULT_CALENDARS_DIR, DEFAULT_CODE_LISTS_PATH, DEFAULT_CONTROLLER_PATH,
         DEFAULT_DPV_MAPPING_PATH, VERIFIER_PATH]
print(json.dumps({"ledger": ledger.__file__, "sys_path": sys.path,
                  "paths": {str(p): [str(p.resolve()), p.exists()] for p in paths}}))
"""


def _pypi_problem() -> str | None:
    try:
        with urllib.request.urlopen(PYPI, timeout=15):
            return None
    except (OSError, ValueError) as exc:
        return type(exc).__name__


@pytest.fixture(scope="module")
def pypi() -> None:
    problem = _pypi_problem()
    if problem is not None:
        message = f"the package index {PYPI} is not reachable ({problem}): cannot install the wheel"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """No ledger settings, no PYTHONPATH, no active virtualenv: a user's shell on another machine."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_") and k not in drop}
    env.update(extra or {})
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{argv[:3]} exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw)


def _serve_and_ask(cli: Path, cwd: Path, env: dict[str, str], token: str) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)],
        cwd=cwd,
        env={**env, "LEDGER_WEB_ALLOW_HTTP": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if _get(f"{base}/livez")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        status, page = _get(
            f"{base}/api/v1/requests?include_closed=true&limit=5", {"Authorization": f"Bearer {token}"}
        )
        assert status == 200 and 0 < len(page["items"]) <= 5
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_the_wheel_installed_in_a_clean_virtualenv_runs_every_command_from_its_own_files(
    pypi: None, tmp_path: Path
) -> None:
    started = time.monotonic()
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    assert not tmp_path.resolve().is_relative_to(REPO)
    env = _clean_env()
    # The sdist, then the wheel built from it, from a fresh copy of the sources: no build/ or *.egg-info
    # left in the working tree by an earlier build can add files to them, and none is left there.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(REPO / name, source / name, symlinks=True, ignore=skip)
        else:
            shutil.copy2(REPO / name, source / name)
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)], tmp_path, env)
    (wheel,) = dist.glob("privacy_ledger-*.whl")
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python, cli = venv / "bin" / "python", venv / "bin" / "privacy-ledger"
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], tmp_path, env)
    installed = time.monotonic()

    # The installed package answers from the venv's site-packages, every data file from its own copy.
    where = json.loads(_run([str(python), "-c", WHERE], work, env))
    site = Path(where["ledger"]).resolve().parents[1]
    assert site.is_relative_to(venv.resolve()) and site.name == "site-packages"
    assert not any(p and Path(p).resolve().is_relative_to(REPO) for p in where["sys_path"])
    for default, (resolved, exists) in where["paths"].items():
        assert exists and Path(resolved).is_relative_to(site / "ledger" / "_data"), default
    shipped = site / "ledger" / "_data"
    for original in sorted((REPO / "schemas").rglob("*")):
        if original.is_file():
            copy = shipped / "schemas" / original.relative_to(REPO / "schemas")
            assert copy.is_file() and copy.read_bytes() == original.read_bytes(), f"{copy} is not shipped"
    tool = REPO / "tools" / "verify_export.py"
    assert (shipped / "verify_export.py").read_bytes() == tool.read_bytes()

    # make run: sample -> ingest -> verify -> checkpoint, then a user, a token and the service.
    demo = json.loads(_run([str(cli), "demo", "--subjects", "20"], work, env))
    assert demo["verify"]["valid"] is True and demo["checkpoint"]["status"] == "issued"
    assert demo["this_run"]["stored"] > 0 and demo["this_run"]["rejected"] == 0
    _run([str(cli), "users", "add", "demo-officer", "--role", "officer"], work, env)
    token = json.loads(
        _run([str(cli), "tokens", "create", "--user", "demo-officer", "--days", "1"], work, env)
    )
    _serve_and_ask(cli, work, env, token["token"])

    # The views that read the calendar and the DPV mapping, and an export checked by verify-export.
    requests = json.loads(_run([str(cli), "query", "requests", "--include-closed"], work, env))
    assert requests and all(r["due_date"] for r in requests)
    ropa = _run([str(cli), "query", "ropa"], work, env)
    assert '"dpv:' in ropa
    sample = work / demo["sample_file"]
    subject = json.loads(sample.read_text().splitlines()[0])["subject_id"]
    summary = json.loads(
        _run(
            [str(cli), "export", "--subject", subject, "--out", "out/", "--reason", "regulator_inquiry"],
            work,
            env,
        )
    )
    assert summary["chain_valid"] is True
    checked = _run(
        [str(cli), "verify-export", summary["bundle"], "--key", summary["verifier_key"]], work, env
    )
    assert "FAIL" not in checked
    _run([str(cli), "verify"], work, env)
    flow = time.monotonic() - installed
    print(f"wheel built and installed in {installed - started:.0f} s, flow run in {flow:.0f} s")
