"""``privacy-ledger serve``, ``users`` and ``tokens`` as an operator runs them: the real process on a free
loopback port, spoken to over HTTP, on the embedded SQLite ledger and on the PostgreSQL ledger that
``project`` keeps current."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
from pathlib import Path
from typing import Any

from conftest import run_cli
from serve_support import http, serving

from ledger.sample import generate_events


def _env(backend: dict[str, Any], tmp: Path) -> dict[str, str]:
    key = tmp / "kek"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATABASE_URL": backend["url"],
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_VAR_DIR": str(tmp / "var"),
            "LEDGER_ALLOW_CLOCK_OVERRIDE": "1",
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(None, env, *args)


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_serve_answers_over_http_with_roles_tokens_and_the_read_audit(
    backend: dict[str, Any], tmp_path: Path
) -> None:
    env = _env(backend, tmp_path)
    events = generate_events(seed=3, subjects=12)
    sample = tmp_path / "sample.jsonl"
    sample.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert _cli(env, "ingest", "--clock", "2026-11-01T12:00:00Z", str(sample)).returncode == 0
    if backend["name"] == "postgres":
        assert _cli(env, "project", "--once").returncode == 0
    subject = next(e["subject_id"] for e in events if e["event_type"] == "DataCollected")

    admin = _json(_cli(env, "users", "add", "admin-one", "--role", "admin"))
    assert admin["role"] == "admin" and len(admin["password"]) >= 16
    dpo = _json(_cli(env, "users", "add", "dpo-one", "--role", "dpo"))
    listed = _cli(env, "users", "list")
    assert admin["password"] not in listed.stdout and dpo["password"] not in listed.stdout
    token = _json(_cli(env, "tokens", "create", "--user", "dpo-one"))["token"]
    spare = _json(_cli(env, "tokens", "create", "--user", "dpo-one", "--role", "viewer", "--days", "1"))
    assert _json(_cli(env, "tokens", "revoke", spare["token_id"]))["revoked_at"] is not None
    assert token not in _cli(env, "tokens", "list").stdout
    refused = _cli(env, "users", "add", "regulator-one", "--role", "regulator")
    assert (
        refused.returncode == 2 and "needs --expires" in refused.stderr and "Traceback" not in refused.stderr
    )

    with serving({**env, "LEDGER_LOG_LEVEL": "INFO"}) as served:
        base = served.base
        bearer = {"Authorization": f"Bearer {token}"}
        status, _, doc = http(f"{base}/openapi.json")
        assert status == 200 and doc["openapi"].startswith("3.1")
        status, _, page = http(f"{base}/api/v1/requests?include_closed=true&limit=2", headers=bearer)
        assert status == 200 and len(page["items"]) <= 2
        status, _, problem = http(f"{base}/api/v1/requests")
        assert (status, problem["code"]) == (401, "UNAUTHENTICATED")
        status, _, problem = http(
            f"{base}/api/v1/requests", headers={"Authorization": f"Bearer {spare['token']}"}
        )
        assert status == 401
        status, _, shown = http(
            f"{base}/api/v1/subjects/{subject}/inventory/plaintext?reason=rights_request", headers=bearer
        )
        assert status == 200 and shown["subject_id"] == subject
        login = json.dumps({"username": "admin-one", "password": admin["password"]}).encode()
        form = {"Content-Type": "application/json"}
        status, _, problem = http(f"{base}/login", headers=form, body=login)
        assert (status, problem["code"]) == (403, "HTTPS_REQUIRED")
        # Behind the proxy (127.0.0.1 is trusted by default) the request arrives as HTTPS.
        status, got, me = http(f"{base}/login", headers={**form, "X-Forwarded-Proto": "https"}, body=login)
        assert status == 200 and me["role"] == "admin"
        assert "Secure" in got["set-cookie"] and "HttpOnly" in got["set-cookie"]
    stderr = served.stderr
    assert served.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "subject_inventory_plaintext -> 200" in stderr  # the access log names the route...
    assert subject not in stderr and "reason=" not in stderr  # ...never the path or the query
    history = _json(_cli(env, "subject", subject, "--reason", "internal_audit"))  # shown before its own
    audit = [e for e in history if e["event_type"] == "PersonalDataViewed"]
    assert len(audit) == 1
    assert audit[0]["payload"]["reason"] == "rights_request" and audit[0]["payload"]["role"] == "dpo"


def test_serve_refuses_a_bad_port_setting_in_one_line(tmp_path: Path) -> None:
    env = _env({"url": f"sqlite:///{tmp_path}/l.db"}, tmp_path)
    proc = _cli({**env, "LEDGER_WEB_PORT": "70000"}, "serve")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "privacy-ledger: LEDGER_WEB_PORT must be an integer from 1 to 65535, got '70000'"
    )


def test_serve_on_a_port_in_use_is_a_configuration_error(tmp_path: Path) -> None:
    env = _env({"url": f"sqlite:///{tmp_path}/l.db"}, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _cli(env, "serve", "--port", str(taken.getsockname()[1]))
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("privacy-ledger: serve could not start on 127.0.0.1:")
    assert "Traceback" not in proc.stderr
