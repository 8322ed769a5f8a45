"""The browser tests' world: a sample ledger with fresh cases, its staff (made with `privacy-ledger users
add`), the real `privacy-ledger serve` (and on PostgreSQL `privacy-ledger project`) on a free port, and
headless Chromium driven by Playwright.

Playwright drives Debian's chromium (``/usr/bin/chromium``, installed by scripts/test.sh); its own
browser download is never used. Without Playwright or Chromium the tests skip, unless
LEDGER_REQUIRE_SERVICES=1, where they fail.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from serve_support import free_port

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.domain.timeutil import format_instant
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from projections.service import Projections

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parent / "output"  # screenshots (ignored by git)
SAMPLE_CLOCK = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the fictional sample is ingested as of then
# Fictional values of the fresh subjects: none may show on a page unless a reason was given.
ERIN_EMAIL = "erin.browser-test@example.com"
ERIN_NAME = "Erin Browserfield"
ALFIE_EMAIL = "alfie.queue@example.org"


def require_browser() -> None:
    """Skip (or, with LEDGER_REQUIRE_SERVICES=1, fail) when Playwright or Chromium is missing."""
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed (.venv/bin/pip install -e '.[dev]')")
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        problems.append(f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/test.sh does)")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("LEDGER_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class World:
    """What the tests know about the served ledger."""

    base: str
    backend: str
    env: dict[str, str]
    passwords: dict[str, str]  # role label -> password (user name = label)
    erin: str  # a fresh subject with values and an open erasure request: the erasure flow erases it
    alfie: str  # a fresh subject with a request due within a week and a complaint to acknowledge
    bea: str  # a fresh subject with an overdue request (its clock history has a pause)
    other: str  # a sample subject no regulator is granted
    alfie_request: str = ""
    bea_request: str = ""
    alfie_complaint: str = ""
    values: list[str] = field(default_factory=list)
    shots: Path = OUTPUT


def _fresh_events(now: datetime) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Fresh cases relative to now: an erasure request, a request due within a week, an overdue request
    paused once for clarification, and a complaint whose acknowledgement is overdue."""
    ids = {k: new_id() for k in ("erin", "alfie", "bea", "erin_req", "alfie_req", "bea_req", "alfie_cmp")}

    def at(days: float) -> str:
        return format_instant(now - timedelta(days=days))

    def registered(subject: str, days: float) -> dict[str, Any]:
        return event("SubjectRegistered", subject, {"roles": ["client_contact"]}, occurred_at=at(days))

    def received(subject: str, request: str, kind: str, days: float) -> dict[str, Any]:
        payload = {"request_id": request, "request_type": kind, "channel": "email", "via_third_party": False}
        return event("RightsRequestReceived", subject, payload, occurred_at=at(days))

    events = [
        registered(ids["erin"], 40),
        collected(
            ids["erin"],
            [("name", "full_name", ERIN_NAME), ("contact_details", "email", ERIN_EMAIL)],
            occurred_at=at(40),
        ),
        received(ids["erin"], ids["erin_req"], "erasure", 3),
        registered(ids["alfie"], 60),
        collected(ids["alfie"], [("contact_details", "email", ALFIE_EMAIL)], occurred_at=at(60)),
        received(ids["alfie"], ids["alfie_req"], "access", 26),
        event(
            "ComplaintReceived",
            ids["alfie"],
            {"complaint_id": ids["alfie_cmp"], "channel": "email"},
            occurred_at=at(40),
        ),
        registered(ids["bea"], 90),
        received(ids["bea"], ids["bea_req"], "access", 55),
        event("ClarificationRequested", ids["bea"], {"request_id": ids["bea_req"]}, occurred_at=at(50)),
        event("ClarificationReceived", ids["bea"], {"request_id": ids["bea_req"]}, occurred_at=at(48)),
    ]
    return events, ids


def build_ledger(settings: Settings) -> tuple[list[str], dict[str, str], str]:
    """The fictional sample (as of 2026-11-01) plus fresh cases (as of now), a rejected message, the views
    built and a checkpoint signed: the values of the fresh subjects, their ids, and a sample subject."""
    ledger = Ledger.open(settings, clock=lambda: SAMPLE_CLOCK)
    try:
        sample = generate_events(seed=7, subjects=24)
        stored = ledger.ingest_messages([Message("sample", None, None, event=e) for e in sample])
        assert not stored.dead_letters
    finally:
        ledger.close()
    ledger = Ledger.open(settings)  # the real clock, as `serve` has it
    try:
        now = ledger.clock()
        fresh, ids = _fresh_events(now)
        stored = ledger.ingest_messages([Message("fresh", None, None, event=e) for e in fresh])
        assert not stored.dead_letters, [d.error_code for d in stored.dead_letters]
        bad = event(
            "DataUsed",
            ids["bea"],
            {"purpose": "not-a-purpose", "lawful_basis": "contract", "categories": ["name"]},
        )
        ledger.ingest_messages([Message("fresh", None, None, event=bad, raw=json.dumps(bad).encode())])
        Projections(ledger.store, ledger.keys, ledger.codes).catch_up()
        ledger.issue_checkpoint()
    finally:
        ledger.close()
    other = next(e["subject_id"] for e in sample if e["event_type"] == "DataCollected")
    return [ERIN_NAME, ERIN_EMAIL, ALFIE_EMAIL], ids, other


def cli(env: dict[str, str], *args: str) -> Any:
    """Run `privacy-ledger ARGS` as an operator does; its JSON answer."""
    proc = subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ledger_env(url: str, tmp: Path) -> tuple[dict[str, str], Settings]:
    """The environment of the ledger's commands (a fresh master key; plain HTTP for development)."""
    key = tmp / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATABASE_URL": url,
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_VAR_DIR": str(tmp / "var"),
            "LEDGER_WEB_ALLOW_HTTP": "1",
            "LEDGER_WEB_PAGE_SIZE": "25",
            "LEDGER_LOG_LEVEL": "INFO",
        }
    )
    settings = Settings(database_url=url, var_dir=tmp / "var", master_key_file=key)
    return env, settings


def add_staff(env: dict[str, str], ids: dict[str, str]) -> dict[str, str]:
    """One user per role through `privacy-ledger users add` (the regulator granted Alfie's case)."""
    soon = format_instant(datetime.now(UTC) + timedelta(hours=4))
    later = format_instant(datetime.now(UTC) + timedelta(days=60))
    passwords = {}
    for label, extra in (
        ("viewer", ()),
        ("officer", ()),
        ("dpo", ()),
        ("admin", ()),
        ("break_glass", ("--expires", soon)),
        ("regulator", ("--expires", later, "--subject", ids["alfie"], "--request", ids["alfie_req"])),
    ):
        name = f"{label.replace('_', '-')}-one"
        answer = cli(env, "users", "add", name, "--role", label, *extra)
        passwords[label] = answer["password"]
    return passwords


class Service:
    """`privacy-ledger serve` (and, on PostgreSQL, `privacy-ledger project`) as subprocesses."""

    def __init__(self, env: dict[str, str], backend: str, log_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = {name: log_dir / f"{name}.log" for name in ("serve", "project")}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._start("serve", env, "serve", "--port", str(self.port))
        if backend == "postgres":
            self._start("project", env, "project")  # keeps the views current, as in production
        self._wait()

    def _start(self, name: str, env: dict[str, str], *args: str) -> None:
        with self.logs[name].open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                assert proc.poll() is None, f"{name} stopped: {self.logs[name].read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{self.base}/livez", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise AssertionError("serve did not answer within 60 s")

    def stop(self) -> str:
        """Stop both (SIGTERM, as an operator does) and return serve's log."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.processes.items():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            assert proc.returncode == 0, (
                f"{name} exited {proc.returncode}: {self.logs[name].read_text()[-2000:]}"
            )
        return self.logs["serve"].read_text()
