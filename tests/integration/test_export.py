"""Regulator exports (spec 6.8, 6.12) on both backends: what a bundle holds, how every entry is proved and
bound, and that the standalone verifier accepts it."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import on_both_backends
from export_story import ERASED_VALUES, KEPT_VALUES, Story, messages

from ledger.bootstrap import Ledger
from ledger.export.bundle import MANIFEST, build_export, record_export, signed_manifest, write_bundle
from ledger.export.scope import UnknownScope
from ledger.export.verifier import load_standalone_verifier
from ledger.sample import generate_events
from ledger.store.crypto import commitment
from projections.service import Projections


def _told(ledger: Ledger, story: Story, *, complete: bool = True) -> Story:
    for batch in (story.first_batch(), story.second_batch() if complete else []):
        result = ledger.ingest_messages(messages(batch))
        assert result.dead_letters == [], [(d.error_code, d.error_path) for d in result.dead_letters]
    return story


def _members(ledger: Ledger, doc: dict[str, Any]) -> dict[str, bytes]:
    """The bundle members the checks read, with the manifest signed by the ledger's key as write_bundle
    signs it."""
    members = {
        "export.json": json.dumps(doc).encode(),
        "checkpoint.txt": doc["checkpoint"].encode(),
        "verifier.key": (doc["verifier_key"] + "\n").encode(),
    }
    members[MANIFEST] = signed_manifest(members, ledger.signing_key(create=False))
    return members


def _failures(ledger: Ledger, doc: dict[str, Any], **kw: Any) -> list[str]:
    """What the standalone verifier finds wrong with ``doc``, checked with the ledger's own key."""
    tool = load_standalone_verifier()
    checks = tool.verify_bundle(doc, _members(ledger, doc), ledger.verifier_key.text, **kw)
    return [failure for check in checks for failure in check.failures]


def _types(doc: dict[str, Any]) -> list[str]:
    return [e["event_type"] for e in doc["entries"]]


def _entry(doc: dict[str, Any], event_id: str) -> dict[str, Any]:
    return next(e for e in doc["entries"] if e["event_id"] == event_id)


def _leaf(e: dict[str, Any]) -> dict[str, Any]:
    leaf: dict[str, Any] = json.loads(base64.b64decode(e["leaf"]))
    return leaf


def _at(node: Any, pointer: str) -> Any:
    for step in pointer.strip("/").split("/"):
        node = node[int(step)] if isinstance(node, list) else node[step]
    return node


def test_subject_export_covers_the_merge_family_in_occurred_at_then_seq_order(ledger: Ledger):
    story = _told(ledger, Story())
    by_survivor = build_export(ledger, "subject", story.a, record_disclosure=False)
    by_merged = build_export(ledger, "subject", story.b, record_disclosure=False)
    assert by_survivor["scope"]["subjects"] == by_merged["scope"]["subjects"] == [story.a, story.b]
    assert [e["seq"] for e in by_survivor["entries"]] == [e["seq"] for e in by_merged["entries"]]
    entries = by_survivor["entries"]
    family_ids = {e["event_id"] for e in story.events.values() if e.get("subject_id") in (story.a, story.b)}
    assert family_ids <= {e["event_id"] for e in entries}
    assert story.id("other_person") not in {e["event_id"] for e in entries}
    # Each entry carries its own subject; the late consent sits at its occurred_at, not at its seq.
    assert _entry(by_survivor, story.id("collected_b"))["subject_id"] == story.b
    keys = [(e["occurred_at"], e["seq"]) for e in entries]
    assert keys == sorted(keys)
    seqs = [e["seq"] for e in entries]
    assert seqs != sorted(seqs), "the late consent must be ordered by occurred_at"
    # System events of the erasure: deferral now, key destruction at the hold's release.
    assert _types(by_survivor).count("KeyShredded") == 3 and "ErasureDeferred" in _types(by_survivor)
    assert _failures(ledger, by_survivor) == []
    assert _failures(ledger, by_merged) == []


def test_entries_carry_their_anomalies_and_the_codes_of_alerts_not_retracted(ledger: Ledger):
    story = _told(ledger, Story())
    doc = build_export(ledger, "subject", story.a, record_disclosure=False)
    assert _entry(doc, story.id("registered_again"))["anomalies"] == ["DUPLICATE_SUBJECT_REGISTRATION"]
    assert _entry(doc, story.id("withdrawn_unknown"))["anomalies"] == ["CONSENT_ID_MISMATCH"]
    assert _entry(doc, story.id("erased"))["alert_codes"] == ["ERASURE_BLOCKED_BY_LEGAL_HOLD"]
    # The late consent retracted NO_VALID_CONSENT: listed with its status, but not on its event.
    retracted = [a for a in doc["alerts"] if a["code"] == "NO_VALID_CONSENT"]
    assert [a["status"] for a in retracted] == ["RETRACTED"]
    assert retracted[0]["triggering_event_id"] == story.id("used_on_consent")
    assert _entry(doc, story.id("used_on_consent"))["alert_codes"] == []
    quiet = {e["event_id"] for e in doc["entries"]} - {
        story.id(n) for n in ("registered_again", "withdrawn_unknown")
    }
    assert all(_entry(doc, i)["anomalies"] == [] for i in quiet)


def test_disclosed_values_are_bound_to_their_commitment_and_erased_ones_redacted(ledger: Ledger):
    story = _told(ledger, Story())
    doc = build_export(ledger, "subject", story.a, record_disclosure=False)
    shown: list[Any] = []
    erased: list[str] = []
    for e in doc["entries"]:
        leaf = _leaf(e)
        for pointer, bound in e["binding"].items():
            envelope = _at(leaf, pointer)
            value = _at(e, pointer)
            if "salt" in bound:
                assert commitment(base64.b64decode(bound["salt"]), value) == envelope["c"]
                shown.append(value)
            else:
                assert bound == {"state": "erased"}
                assert value == {"redacted": "erased", "category": envelope["cat"]}
                erased.append(envelope["cat"])
    assert {NAME for NAME in (v for v in shown if isinstance(v, str))} >= set(KEPT_VALUES)
    assert sorted(erased) == ["contact_details", "contact_details", "postal_address"]
    text = json.dumps(doc, ensure_ascii=False)
    assert not [v for v in ERASED_VALUES if v in text]


def test_request_export_holds_the_request_the_events_its_erasure_caused_and_complaints_about_it(
    ledger: Ledger,
):
    story = _told(ledger, Story())
    doc = build_export(ledger, "request", story.request, record_disclosure=False)
    assert _types(doc) == [
        "RightsRequestReceived",
        "DataErased",
        "KeyShredded",
        "ErasureDeferred",
        "ComplaintReceived",
        "KeyShredded",
        "KeyShredded",
    ]
    assert doc["scope"]["id"] == story.request and doc["scope"]["subjects"] == [story.a, story.b]
    assert [r["request_id"] for r in doc["requests"]] == [story.request]
    assert {a["code"] for a in doc["alerts"]} == {"ERASURE_BLOCKED_BY_LEGAL_HOLD", "REQUEST_OVERDUE"}
    assert "holdings" not in doc and "recipients" not in doc  # no more than the request concerns
    assert _failures(ledger, doc) == []


def test_complaint_export_holds_the_complaints_events(ledger: Ledger):
    story = _told(ledger, Story())
    doc = build_export(ledger, "complaint", story.complaint, record_disclosure=False)
    assert [e["event_id"] for e in doc["entries"]] == [story.id("complained"), story.id("acknowledged")]
    assert [c["complaint_id"] for c in doc["complaints"]] == [story.complaint]
    assert [r["request_id"] for r in doc["requests"]] == [story.request]  # the request complained about
    assert _failures(ledger, doc) == []


def test_a_time_window_keeps_the_events_that_occurred_inside_it(ledger: Ledger):
    from ledger.domain.timeutil import canonical_timestamp

    story = _told(ledger, Story())
    start, end = canonical_timestamp("2026-02-01T09:00:00Z"), canonical_timestamp("2026-03-10T09:00:00Z")
    doc = build_export(ledger, "subject", story.a, time_from=start, time_to=end, record_disclosure=False)
    assert _types(doc)[0] == "DataUsed" and _types(doc)[-1] == "ErasureDeferred"  # both ends included
    assert all(start <= canonical_timestamp(e["occurred_at"]) <= end for e in doc["entries"])
    assert doc["scope"]["from"] == "2026-02-01T09:00:00.000000Z"
    assert _failures(ledger, doc) == []


def test_ids_the_ledger_does_not_hold_are_refused(ledger: Ledger):
    story = _told(ledger, Story())
    for kind in ("subject", "request", "complaint", "access_pack"):
        with pytest.raises(UnknownScope):
            build_export(ledger, kind, "6d0f0c1e-0000-4000-8000-000000000000", record_disclosure=False)
    assert ledger.head_seq() == 23 and story.a


def test_every_entry_is_proved_in_one_signed_checkpoint_that_the_export_signs_if_needed(ledger: Ledger):
    story = _told(ledger, Story())
    doc = build_export(ledger, "subject", story.a, record_disclosure=False)
    body = doc["checkpoint"].split("\n")
    assert body[1] == str(ledger.head_seq())  # the log's size when the export was made
    for e in doc["entries"]:
        leaf = base64.b64decode(e["leaf"])
        assert hashlib.sha256(leaf).hexdigest() == e["hash"]
        assert e["leaf_index"] == e["seq"] - 1
    assert doc["footer"]["chain_verification"]["valid"] is True


def test_the_export_is_recorded_as_data_shared_to_the_regulator_after_the_bundle(ledger: Ledger):
    story = _told(ledger, Story())
    before = ledger.head_seq()
    doc = build_export(ledger, "subject", story.a, record_disclosure=False)
    assert ledger.head_seq() == before, "building an export appends nothing"
    outcome = record_export(ledger, doc)
    assert outcome["recorded"] is True
    # Only categories shown in plaintext: never an erased one (that would be processing after erasure).
    assert outcome["categories"] == ["correspondence", "job_title", "name"]
    assert ledger.head_seq() == before + 1
    assert outcome["event_id"] not in {e["event_id"] for e in doc["entries"]}
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    rows = projections.query("disclosures", as_of=ledger.clock(), subject=story.b)
    regulator = [r for r in rows if r["disclosure_event_id"] == outcome["event_id"]]
    assert [(r["recipient_id"], r["recipient_category"], r["recipient_country"]) for r in regulator] == [
        ("GB-ICO", "regulator", "GB")
    ]
    assert regulator[0]["alert_codes"] == []
    # The next export holds the disclosure, and build_export records by default.
    again = build_export(ledger, "subject", story.a)
    assert outcome["event_id"] in {e["event_id"] for e in again["entries"]}
    assert ledger.head_seq() == before + 2


def test_an_export_that_shows_no_personal_value_records_no_disclosure(ledger: Ledger):
    story = _told(ledger, Story())
    doc = build_export(ledger, "complaint", story.complaint, record_disclosure=False)
    ledger.erase(story.a)  # the complaint text goes with the correspondence key
    erased = build_export(ledger, "complaint", story.complaint, record_disclosure=False)
    assert _entry(erased, story.id("complained"))["payload"]["text"] == {
        "redacted": "erased",
        "category": "correspondence",
    }
    head = ledger.head_seq()
    assert record_export(ledger, erased) == {
        "recorded": False,
        "reason": "the bundle shows no personal value in plaintext",
    }
    assert ledger.head_seq() == head and _failures(ledger, doc) == [] and _failures(ledger, erased) == []


def test_access_pack_has_the_spec_6_12_keys_from_the_views(ledger: Ledger):
    story = _told(ledger, Story())
    doc = build_export(ledger, "access_pack", story.b, record_disclosure=False)
    pack = doc["access_pack"]
    assert list(pack) == [
        "subject_id",
        "as_of",
        "purposes",
        "categories",
        "recipients",
        "recipient_categories",
        "retention",
        "sources",
        "automated_decisions",
        "transfers",
        "rights",
        "right_to_complain",
    ]
    assert pack["subject_id"] == story.b
    assert {"purpose": "agreement_performance", "lawful_basis": "contract"} in pack["purposes"]
    assert [c["category"] for c in pack["categories"]] == ["contact_details", "job_title", "postal_address"]
    assert [r["recipient_id"] for r in pack["recipients"]] == ["EXAMPLE-CRM-01", "EXAMPLE-HOST-SG"]
    assert pack["recipient_categories"] == ["supplier_processor"]
    assert [(t["recipient_country"], t["transfer_classification"]) for t in pack["transfers"]] == [
        ("SG", "art46_safeguard")
    ]
    assert [d["decision_type"] for d in pack["automated_decisions"]] == ["credit_check"]
    rights = {r["right"]: r["applies"] for r in pack["rights"]}
    assert rights["complain_to_ico"] and rights["access"] and not rights["automated_decision_making"]
    assert pack["right_to_complain"]["authority"] == "Information Commissioner's Office"
    assert doc["kind"] == "access_pack" and doc["holdings"]["merged_subject_ids"] == [story.b]
    assert _failures(ledger, doc) == []


def test_records_stored_before_commitments_export_as_not_bound(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
):
    from ledger.store import writer
    from ledger.store.crypto import encrypt_value

    def legacy(self: Any, event: dict[str, Any], key_subject: str, fields: Any) -> dict[str, Any]:
        """The envelope as the ledger wrote it before commitments: no "c", the bare value encrypted."""
        payload = dict(event["payload"])
        copied: set[tuple[str | int, ...]] = set()
        for path, category in fields:
            kid, aead = self.ring.encryption_key(key_subject, category)
            pointer = writer._pointer(path)
            aad = writer.personal_aad(event["event_id"], pointer, kid)
            envelope = {
                "enc": encrypt_value(aead, writer._get_path(payload, path), aad),
                "kid": kid,
                "cat": category,
            }
            writer._set_path(writer._copy_along(payload, path, copied), path, envelope)
        return payload

    story = Story()
    with monkeypatch.context() as patched:
        patched.setattr(writer.BatchWriter, "_encrypt", legacy)
        ledger.ingest_messages(messages([story.events["registered_a"]]))
    ledger.ingest_messages(messages([story.events["collected_a"]]))
    doc = build_export(ledger, "subject", story.a, record_disclosure=False)
    old, new = doc["entries"]
    assert old["binding"] == {"/payload/display_name": {"state": "not_bound"}}
    assert old["payload"]["display_name"] == KEPT_VALUES[0]
    assert all("salt" in b for b in new["binding"].values())
    assert _failures(ledger, doc) == []
    tool = load_standalone_verifier()
    checks = {c.name: c for c in tool.verify_bundle(doc, _members(ledger, doc), ledger.verifier_key.text)}
    assert "1 recorded before commitments" in checks["disclosed values"].summary


def test_export_sha256_is_reproducible_with_the_standard_library(ledger: Ledger, tmp_path: Path):
    story = _told(ledger, Story())
    doc = build_export(ledger, "subject", story.a, record_disclosure=False)
    path = write_bundle(doc, tmp_path, ledger.signing_key(create=False))
    with zipfile.ZipFile(path) as archive:
        loaded = json.loads(archive.read("export.json"))
        readme = archive.read("README.txt").decode()
    loaded["footer"]["export_sha256"] = ""
    text = json.dumps(loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == doc["footer"]["export_sha256"]
    assert "ensure_ascii=False" in readme and f"{path.name} --key" in readme


def test_no_erased_value_appears_anywhere_in_the_bundle(ledger: Ledger, tmp_path: Path):
    story = _told(ledger, Story())
    path = write_bundle(
        build_export(ledger, "access_pack", story.a, record_disclosure=False),
        tmp_path,
        ledger.signing_key(create=False),
    )
    assert path.name.startswith(f"access_pack-{story.a}-") and path.stat().st_mode & 0o777 == 0o600
    texts = _bundle_texts(path, tmp_path)
    assert set(texts) >= {
        "export.json",
        "report.html",
        "report.pdf",
        "checkpoint.txt",
        "verifier.key",
        "README.txt",
    }
    for value in ERASED_VALUES:
        for form in _forms(value):
            assert not [name for name, text in texts.items() if form in text], (
                f"an erased value shows ({form})"
            )
    # The search does find what is held (so its silence on erased values means something).
    for value in KEPT_VALUES[:3]:
        assert value in texts["export.json"] and value in texts["report.html"], value
        assert value in " ".join(texts["report.pdf (text)"].split()), value


def _forms(value: str) -> set[str]:
    """The ways a value could be written into a bundle member."""
    return {value, json.dumps(value)[1:-1], value.encode("unicode_escape").decode(), value.replace(" ", "")}


def _bundle_texts(path: Path, tmp: Path) -> dict[str, str]:
    """Every member of the bundle as text (bytes decoded leniently), the PDF's text through pdftotext."""
    texts: dict[str, str] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            texts[name] = data.decode("utf-8", "replace") + data.decode("latin-1")
            if name == "report.pdf":
                (tmp / "report.pdf").write_bytes(data)
    pdftotext = shutil.which("pdftotext")
    assert pdftotext is not None, "pdftotext (poppler-utils) is needed; scripts/test.sh installs it"
    texts["report.pdf (text)"] = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(tmp / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    return texts


_SAMPLE = generate_events(seed=5, subjects=40)


def _sample_exports(ledger: Ledger) -> dict[str, Any]:
    """Every sample subject's export, verified; what must not depend on the backend (plaintext, ids,
    order, anomalies, alert codes, bindings' kinds), and the verifier's findings."""
    result = ledger.ingest_messages(messages(_SAMPLE))
    assert result.dead_letters == []
    subjects = sorted({str(e["subject_id"]) for e in _SAMPLE})
    out: dict[str, Any] = {"head": ledger.head_seq()}
    for subject in subjects:
        doc = build_export(ledger, "subject", subject, record_disclosure=False)
        out[subject] = {
            "failures": _failures(ledger, doc),
            "subjects": doc["scope"]["subjects"],
            "entries": [
                {
                    **{
                        k: e[k]
                        for k in ("seq", "event_id", "event_type", "payload", "anomalies", "alert_codes")
                    },
                    "binding": {p: sorted(b) for p, b in e["binding"].items()},
                }
                for e in doc["entries"]
            ],
            "alerts": sorted((a["code"], a["status"], a["triggering_event_id"]) for a in doc["alerts"]),
            "requests": doc["requests"],
        }
    return out


@pytest.mark.postgres
def test_every_sample_subjects_export_verifies_and_says_the_same_on_sqlite_and_postgres(
    pg_url: str, tmp_path: Path
):
    on_sqlite, on_postgres = on_both_backends(pg_url, tmp_path, _sample_exports)
    assert on_sqlite == on_postgres
    head = on_sqlite.pop("head")
    assert all(found["failures"] == [] for found in on_sqlite.values())
    entries = [e for found in on_sqlite.values() for e in found["entries"]]
    assert {e["seq"] for e in entries} == set(range(1, head + 1))  # every record is some subject's
    families = [found for found in on_sqlite.values() if len(found["subjects"]) > 1]
    assert families, "the sample merges some subjects"
    for found in families:  # any member's id gives the family's whole timeline
        assert all(on_sqlite[member]["entries"] == found["entries"] for member in found["subjects"])
    assert any(e["anomalies"] for e in entries) or any(e["alert_codes"] for e in entries)
    assert any(e["event_type"] == "KeyShredded" for e in entries)
