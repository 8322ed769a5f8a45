"""Schema release 2: PrivacyNoticeProvided gains the optional ``language`` (schemas/README.md, style 10).

Release 1 stays readable by the current codec (backward), a release-2 message stays readable by a
release-1 reader (forward), and the released v1 file never changes.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form

from ledger.avro import MARKER, AvroCodec, Release
from ledger.codelists import load_code_lists
from ledger.domain.codes import CodeLists
from ledger.domain.validation import validate_event
from ledger.errors import EventRejected

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
V1_FILE = "privacy.events.PrivacyNoticeProvided.v1.avsc"
V2_FILE = "privacy.events.PrivacyNoticeProvided.v2.avsc"
# sha256 of the v1 file as released in commit a4f589f ("Avro schemas (release 1 ...)").
V1_SHA256 = "e23415c0533875b664c71f35442cc96eb95c650356ad84bb9d03b947913d8980"
FINGERPRINTS = {1: "98552aefa3444a2e", 2: "75afd1e69a39bfea", 3: "a9095ea9a8459552"}
NOTICE = "privacy.events.PrivacyNoticeProvided"
RECORDED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec()


@pytest.fixture(scope="module")
def codes() -> CodeLists:
    return load_code_lists()


def _notice(**payload: Any) -> dict[str, Any]:
    return {
        "event_id": "0f6c2d3e-0000-4000-8000-000000000001",
        "event_type": "PrivacyNoticeProvided",
        "schema_version": 1,
        "occurred_at": "2026-03-02T09:15:00+01:00",
        "producer": {"system": "web-platform"},
        "subject_id": "0f6c2d3e-0000-4000-8000-000000000002",
        "payload": {
            "notice_version": "2026-01",
            "article": "art13",
            "topics": ["general", "cra_sharing"],
            "channel": "email",
            **payload,
        },
    }


def _release(codec: AvroCodec, version: int) -> Release:
    (release,) = [r for r in codec.releases if r.version == version]
    return release


def _fields(record: dict[str, Any]) -> list[dict[str, Any]]:
    return list(record["fields"])


# --- the release itself ---


def test_every_release_fingerprint_is_known_and_release_2_writes_its_own(codec: AvroCodec) -> None:
    assert codec.current.version == 3  # release 3 adds PersonalDataViewed (test_schema_release_3.py)
    assert {r.version: r.fingerprint.hex() for r in codec.releases} == FINGERPRINTS
    assert codec.fingerprints() == {bytes.fromhex(fp): v for v, fp in FINGERPRINTS.items()}
    old, new = codec.encode(_notice(), version=1), codec.encode(_notice(), version=2)
    assert old[:10] == MARKER + bytes.fromhex(FINGERPRINTS[1])
    assert new[:10] == MARKER + bytes.fromhex(FINGERPRINTS[2])


def test_the_released_v1_file_is_byte_identical_to_its_release() -> None:
    assert hashlib.sha256((SCHEMA_DIR / V1_FILE).read_bytes()).hexdigest() == V1_SHA256


def test_release_2_lists_the_files_of_release_1_with_only_the_notice_replaced() -> None:
    manifest = json.loads((SCHEMA_DIR / "releases.json").read_text(encoding="utf-8"))
    first, second, *_ = manifest["releases"]
    assert (first["version"], second["version"]) == (1, 2)
    assert second["files"] == [V2_FILE if f == V1_FILE else f for f in first["files"]]
    assert second["schema"] == first["schema"]


def test_the_v2_file_adds_only_an_optional_language_field() -> None:
    v1 = json.loads((SCHEMA_DIR / V1_FILE).read_text(encoding="utf-8"))
    v2 = json.loads((SCHEMA_DIR / V2_FILE).read_text(encoding="utf-8"))
    *kept, added = _fields(v2)
    assert kept == _fields(v1)
    assert {k: v for k, v in v2.items() if k != "fields"} == {k: v for k, v in v1.items() if k != "fields"}
    assert added["name"] == "language"
    assert added["type"] == ["null", "string"] and added["default"] is None


def test_the_two_envelopes_differ_only_by_the_language_field(codec: AvroCodec) -> None:
    v1, v2 = _release(codec, 1), _release(codec, 2)
    assert v1.canonical_form != v2.canonical_form
    stripped = copy.deepcopy(v2.schema)
    (payload,) = [f for f in stripped["fields"] if f["name"] == "payload"]
    (notice,) = [b for b in payload["type"] if isinstance(b, dict) and b["name"] == NOTICE]
    notice["fields"] = [f for f in notice["fields"] if f["name"] != "language"]
    assert to_parsing_canonical_form(stripped) == v1.canonical_form


# --- backward: a release-1 message read by the current codec ---


def test_a_release_1_message_decodes_with_the_current_codec_and_validates(
    codec: AvroCodec, codes: CodeLists
) -> None:
    event = _notice()
    data = codec.encode(event, version=1)
    decoded = codec.decode(data)
    assert decoded == event
    assert "language" not in decoded["payload"]
    assert validate_event(decoded, codes, RECORDED_AT) == event


def test_release_1_cannot_carry_language_so_it_is_dropped_on_encode(codec: AvroCodec) -> None:
    assert codec.decode(codec.encode(_notice(language="cy"), version=1)) == _notice()


# --- forward: a release-2 message read with the release-1 schema ---


def test_a_release_2_message_reads_with_the_release_1_schema_without_the_field(codec: AvroCodec) -> None:
    event = _notice(language="en-GB")
    data = codec.encode(event, version=2)
    assert codec.decode(data) == event
    v1, v2 = _release(codec, 1), _release(codec, 2)
    body = io.BytesIO(data[10:])
    datum = fastavro.schemaless_reader(body, v2.schema, v1.schema, return_record_name=True)
    assert body.tell() == len(data) - 10
    branch, payload = datum["payload"]
    assert branch == NOTICE
    assert "language" not in payload
    assert payload == {k: v for k, v in event["payload"].items() if k != "language"}
    assert datum["event_id"] == event["event_id"]


def test_a_release_2_message_without_language_decodes_without_the_key(codec: AvroCodec) -> None:
    assert codec.decode(codec.encode(_notice())) == _notice()


# --- validation of the new field ---


@pytest.mark.parametrize("tag", ["en", "cy", "en-GB", "zh-Hant-TW", "de-CH-1996", "fil"])
def test_a_bcp_47_language_tag_is_accepted_and_kept(codes: CodeLists, tag: str) -> None:
    assert validate_event(_notice(language=tag), codes, RECORDED_AT)["payload"]["language"] == tag


@pytest.mark.parametrize("bad", ["e", "english", "en_GB", "en-", "en-G", "-en", "en-GB\n", "", 42, ["en"]])
def test_a_malformed_language_is_invalid_value_at_its_path(codes: CodeLists, bad: Any) -> None:
    with pytest.raises(EventRejected) as info:
        validate_event(_notice(language=bad), codes, RECORDED_AT)
    assert (info.value.code, info.value.path) == ("INVALID_VALUE", "/payload/language")
    if isinstance(bad, str) and len(bad.strip()) > 3:  # shorter ones occur in any text
        assert bad.strip() not in str(info.value)


def test_a_null_language_is_absent(codes: CodeLists) -> None:
    assert "language" not in validate_event(_notice(language=None), codes, RECORDED_AT)["payload"]
