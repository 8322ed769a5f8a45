"""Helpers of the staff-service tests: a sample ledger, the app over it, and a user and token per role."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import event
from ledger.web.app import create_app
from ledger.web.identity import Scope, User
from ledger.web.roles import Role
from projections.service import Projections

HTTPS = "https://testserver"
# Fictional values the sample's subjects may hold; none may appear in an answer that is not audited.
PLAINTEXT_MARKERS = ("@example.com", "@example.org", "@example.net")


@dataclass
class Sample:
    """What the tests need to know about the sample ledger."""

    subject: str  # a subject with personal values, a request and a complaint
    other_subject: str
    request: str
    complaint: str
    dead_letter: str  # a dead letter whose raw bytes are kept (under ``subject``'s key)
    values: list[str] = field(default_factory=list)  # plaintext values of ``subject``


def fill(ledger: Ledger, subjects: int = 24) -> Sample:
    """Ingest the fictional sample and one rejected message; pick a subject with a request and complaint."""
    events = generate_events(seed=7, subjects=subjects)
    result = ledger.ingest_messages([Message("sample", None, None, event=e) for e in events])
    assert not result.dead_letters
    # What `privacy-ledger project` does on PostgreSQL (serve reads the views as they are there).
    Projections(ledger.store, ledger.keys, ledger.codes).catch_up()
    complaints = [
        e for e in events if e["event_type"] == "ComplaintReceived" and e["payload"].get("about_request_id")
    ]
    chosen = complaints[0]
    subject = chosen["subject_id"]
    other = next(e["subject_id"] for e in events if e["subject_id"] not in (None, subject))
    values = [
        item["value"]
        for e in events
        if e["subject_id"] == subject and e["event_type"] == "DataCollected"
        for item in e["payload"]["data_items"]
        if isinstance(item["value"], str) and len(item["value"]) > 5
    ]
    bad = event(
        "DataUsed", subject, {"purpose": "not-a-purpose", "lawful_basis": "contract", "categories": ["name"]}
    )
    rejected = ledger.ingest_messages(
        [Message("sample", None, None, event=bad, raw=json.dumps(bad).encode())]
    ).dead_letters
    return Sample(
        subject=subject,
        other_subject=other,
        request=chosen["payload"]["about_request_id"],
        complaint=chosen["payload"]["complaint_id"],
        dead_letter=rejected[0].dlq_id,
        values=values,
    )


def app_for(ledger: Ledger, **settings: Any) -> FastAPI:
    """The staff service over ``ledger`` (settings replaced as given)."""
    return create_app(ledger, dataclasses.replace(ledger.settings, **settings))


def client(app: FastAPI, **kw: Any) -> TestClient:
    """A client speaking HTTPS, as the proxy reports it (raise_server_exceptions off: what a user sees)."""
    return TestClient(app, base_url=kw.pop("base_url", HTTPS), raise_server_exceptions=False, **kw)


@dataclass
class Staff:
    """One user and token per role, two regulators with different cases, and spoilt credentials."""

    users: dict[str, User]
    tokens: dict[str, str]

    def auth(self, label: str) -> dict[str, str]:
        """The Authorization header of a token label (``none``: no header)."""
        return {} if label == "none" else {"Authorization": f"Bearer {self.tokens[label]}"}


def staff(app: FastAPI, sample: Sample) -> Staff:
    """Users and tokens: one per role, ``regulator`` (granted the sample's cases), ``other_regulator``
    (granted another subject), ``expired``, ``revoked`` and ``disabled`` tokens of an officer."""
    web = app.state.web
    directory = web.directory
    now = web.now()
    users: dict[str, User] = {}
    tokens: dict[str, str] = {}
    for role in Role:
        expires = None
        scope = None
        if role is Role.REGULATOR:
            expires = now.replace(year=now.year + 1)
            scope = Scope.of(
                {"subjects": [sample.subject], "requests": [sample.request], "complaints": [sample.complaint]}
            )
        if role is Role.BREAK_GLASS:
            expires = now + timedelta(hours=2)
        name = f"{role.value.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
        users[role.value], _ = directory.add_user(name, role, expires_at=expires, scope=scope)
        tokens[role.value], _ = directory.create_token(name)
    other = f"regulator-b-{uuid.uuid4().hex[:6]}"
    users["other_regulator"], _ = directory.add_user(
        other,
        Role.REGULATOR,
        expires_at=now.replace(year=now.year + 1),
        scope=Scope.of({"subjects": [sample.other_subject]}),
    )
    tokens["other_regulator"], _ = directory.create_token(other)
    clock = web.ledger.clock  # the tests' settable clock
    for label in ("expired", "revoked", "disabled"):
        name = f"{label}-{uuid.uuid4().hex[:6]}"
        users[label], _ = directory.add_user(name, Role.OFFICER)
        if label == "expired":  # made two days ago, for one day
            clock.now = now - timedelta(days=2)
        tokens[label], info = directory.create_token(name, days=1)
        clock.now = now
        if label == "revoked":
            directory.revoke_token(info.token_id)
        if label == "disabled":
            directory.disable_user(name)
    return Staff(users, tokens)
