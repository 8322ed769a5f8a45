"""The spec 8 read audit as an event: ``PersonalDataViewed`` (catalogue, validation, Avro release 3).

Only the ledger emits it; its fields are codes and opaque ids, so no personal value can reach the
hashed record; the staff service's roles and reasons are exactly the code lists it is checked against.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.avro import AvroCodec
from ledger.codelists import load_code_lists
from ledger.domain.catalogue import EVENT_TYPES, SYSTEM_EVENT_TYPES, iter_personal_fields, stored_topic
from ledger.domain.validation import validate_event
from ledger.errors import EventRejected
from ledger.web.roles import HOST_OPERATOR, Interface, ReadReason, Role, View

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
RECORDED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _event(**payload: Any) -> dict[str, Any]:
    return {
        "event_id": "0f6c2d3e-0000-4000-8000-000000000001",
        "event_type": "PersonalDataViewed",
        "schema_version": 1,
        "occurred_at": "2026-11-01T12:00:00.000000Z",
        "producer": {"system": "ledger"},
        "subject_id": "0f6c2d3e-0000-4000-8000-000000000002",
        "correlation_id": "read:0f6c2d3e-0000-4000-8000-000000000003",
        "payload": {
            "actor_ref": "0f6c2d3e-0000-4000-8000-000000000004",
            "role": "officer",
            "view": "inventory",
            "reason": "rights_request",
            "interface": "api",
            **payload,
        },
    }


def test_the_read_audit_is_a_system_event_on_the_subject_stream_with_no_personal_field() -> None:
    spec = EVENT_TYPES["PersonalDataViewed"]
    assert "PersonalDataViewed" in SYSTEM_EVENT_TYPES
    assert spec.stream == "subject" and spec.personal == () and spec.references == ()
    assert stored_topic("PersonalDataViewed") == "privacy.personal_data_viewed.v1"
    assert list(iter_personal_fields("PersonalDataViewed", _event()["payload"])) == []


def test_the_service_roles_views_reasons_and_doors_are_the_code_lists() -> None:
    codes = load_code_lists()
    # Beside the staff roles, the role of a command run on the ledger's host (no user can have it).
    assert {r.value for r in Role} | {HOST_OPERATOR} == codes.codes("staff_role")
    assert HOST_OPERATOR not in {r.value for r in Role}
    assert {v.value for v in View} == codes.codes("personal_data_view")
    assert {r.value for r in ReadReason} == codes.codes("read_reason")
    assert {i.value for i in Interface} == codes.codes("access_interface")


def test_a_producer_cannot_send_a_read_audit() -> None:
    event = _event()
    event["producer"] = {"system": "crm"}
    with pytest.raises(EventRejected) as info:
        validate_event(event, load_code_lists(), RECORDED_AT)
    assert (info.value.code, info.value.path) == ("UNKNOWN_EVENT_TYPE", "/event_type")


@pytest.mark.parametrize(
    ("payload", "code", "path"),
    [
        ({"reason": "asked by Alex Sample on the phone"}, "UNKNOWN_CODE", "/payload/reason"),
        ({"actor_ref": "alex.sample@example.com"}, "INVALID_VALUE", "/payload/actor_ref"),
        ({"role": "superuser"}, "UNKNOWN_CODE", "/payload/role"),
        ({"view": "everything"}, "UNKNOWN_CODE", "/payload/view"),
        ({"interface": "telepathy"}, "UNKNOWN_CODE", "/payload/interface"),
        ({"case_id": "REQ-1"}, "INVALID_UUID", "/payload/case_id"),
    ],
)
def test_a_read_audit_holds_codes_and_ids_only(payload: dict[str, Any], code: str, path: str) -> None:
    with pytest.raises(EventRejected) as info:
        validate_event(_event(**payload), load_code_lists(), RECORDED_AT, allow_system=True)
    assert (info.value.code, info.value.path) == (code, path)
    assert all(str(v) not in str(info.value) for v in payload.values())


def test_a_free_text_field_sent_along_is_dropped() -> None:
    event = _event(note="Alex Sample asked on the phone")
    stored = validate_event(event, load_code_lists(), RECORDED_AT, allow_system=True)
    assert "note" not in stored["payload"]


def test_release_3_is_release_2_with_the_new_envelope_and_the_read_audit() -> None:
    manifest = json.loads((SCHEMA_DIR / "releases.json").read_text(encoding="utf-8"))
    second, third = manifest["releases"][1], manifest["releases"][2]
    assert third["version"] == 3 and third["schema"] == second["schema"]
    renamed = [
        "privacy.events.Envelope.v2.avsc" if f == "privacy.events.Envelope.v1.avsc" else f
        for f in second["files"]
    ]
    assert third["files"] == [*renamed, "privacy.events.PersonalDataViewed.v1.avsc"]


def test_a_release_2_message_decodes_with_release_3_and_the_read_audit_round_trips() -> None:
    codec = AvroCodec()
    assert codec.current.version == 3
    notice = {
        "event_id": "0f6c2d3e-0000-4000-8000-000000000011",
        "event_type": "PrivacyNoticeProvided",
        "schema_version": 1,
        "occurred_at": "2026-03-02T09:15:00+01:00",
        "producer": {"system": "web-platform"},
        "subject_id": "0f6c2d3e-0000-4000-8000-000000000012",
        "payload": {
            "notice_version": "2026-01",
            "article": "art13",
            "topics": ["general"],
            "channel": "email",
        },
    }
    assert codec.decode(codec.encode(notice, version=2)) == notice
    audit = _event(case_id="0f6c2d3e-0000-4000-8000-000000000005")
    assert codec.decode(codec.encode(audit)) == audit
