"""File ingestion at the edges of spec 3.1: nanosecond timestamps kept as sent, and messages over 1 MiB
read with bounded memory, only their first 1 MiB kept (encrypted) for the dead letter."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ledger.avro import AvroCodec
from ledger.bootstrap import Ledger
from ledger.domain.validation import MAX_MESSAGE_BYTES
from ledger.testing import collected, event, new_id

REPO = Path(__file__).resolve().parents[2]
NANOS = "2026-10-01T09:00:00.123456789Z"  # what Java's Instant.toString() writes
NANOS_OFFSET = "2026-10-01T10:00:01.987654321+01:00"


def _lines(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _nanosecond_events(subject: str) -> list[dict[str, Any]]:
    return [
        collected(subject, [("contact_details", "email", "nano.second@example.com")], occurred_at=NANOS),
        event(
            "SubjectRegistered",
            subject,
            {"roles": ["website_user"], "display_name": "Nano Second"},
            occurred_at=NANOS_OFFSET,
        ),
    ]


def test_nanosecond_occurred_at_from_a_json_lines_file_is_stored_as_sent(ledger: Ledger, tmp_path: Path):
    subject = new_id()
    events = _nanosecond_events(subject)
    source = _lines(tmp_path / "java.jsonl", events)
    result = ledger.ingest_files([source])
    assert (result.stored, result.dead_lettered) == (2, 0)
    stored = ledger.subject_events(subject)
    assert [e["occurred_at"] for e in stored] == [NANOS, NANOS_OFFSET]
    # The fingerprint is over the text as sent: the same lines again are duplicates.
    again = ledger.ingest_files([source])
    assert (again.stored, again.duplicates, again.dead_lettered) == (0, 2, 0)


def test_nanosecond_occurred_at_from_an_avro_container_is_stored_as_sent(ledger: Ledger, tmp_path: Path):
    subject = new_id()
    events = _nanosecond_events(subject)
    source = tmp_path / "java.avro"
    with source.open("wb") as fh:
        AvroCodec().write_container(fh, events)
    result = ledger.ingest_files([source])
    assert (result.stored, result.dead_lettered) == (2, 0)
    assert [e["occurred_at"] for e in ledger.subject_events(subject)] == [NANOS, NANOS_OFFSET]
    # The JSON form of the same events is the same content: duplicates across forms.
    again = ledger.ingest_files([_lines(tmp_path / "java.jsonl", events)])
    assert (again.stored, again.duplicates) == (0, 2)


def test_a_single_object_message_keeps_the_nanosecond_text():
    codec = AvroCodec()
    [sent, _] = _nanosecond_events(new_id())
    assert codec.decode(codec.encode(sent))["occurred_at"] == NANOS


def _raw_refs(ledger: Ledger) -> list[bytes]:
    with ledger.store.read() as cur:
        rows = cur.execute("SELECT raw_ref FROM {t:ledger_dead_letters} ORDER BY offset_").all()
    return [bytes(r["raw_ref"]) for r in rows]


def test_an_over_long_line_keeps_at_most_one_mebibyte_and_the_rest_of_the_file_is_ingested(
    ledger: Ledger, tmp_path: Path
):
    first, last = new_id(), new_id()
    source = tmp_path / "big.jsonl"
    with source.open("wb") as fh:
        fh.write(json.dumps(collected(first, [("name", "full", "Before Big")])).encode() + b"\n")
        # A 20 MB JSON line (a real event with an absurd value), then more events.
        huge = collected(new_id(), [("name", "full", "x" * 20_000_000)])
        fh.write(json.dumps(huge).encode() + b"\r\n")
        fh.write(json.dumps(collected(last, [("name", "full", "After Big")])).encode() + b"\n")
    result = ledger.ingest_files([source])
    assert (result.consumed, result.stored, result.dead_lettered) == (3, 2, 1)
    [letter] = result.dead_letters
    assert (letter.error_code, letter.error_path, letter.offset) == ("PAYLOAD_TOO_LARGE", "", 2)
    assert [e["event_type"] for e in ledger.subject_events(last)] == ["DataCollected"]
    [raw_ref] = _raw_refs(ledger)
    # kid + base64(nonce + ciphertext of at most 1 MiB + tag): about 4/3 MiB, never the 20 MB.
    assert MAX_MESSAGE_BYTES < len(raw_ref) <= 1.4 * MAX_MESSAGE_BYTES


def test_a_line_just_over_the_limit_is_too_large_and_one_at_the_limit_is_read(ledger: Ledger, tmp_path: Path):
    subject = new_id()
    base = collected(subject, [("name", "full", "")])
    filler = MAX_MESSAGE_BYTES - len(json.dumps(base).encode())
    at_limit = collected(subject, [("name", "full", "y" * filler)])
    over = collected(new_id(), [("name", "full", "y" * (filler + 1))])
    assert len(json.dumps(at_limit).encode()) == MAX_MESSAGE_BYTES
    source = tmp_path / "edge.jsonl"
    # \r\n after the message at the limit: the line terminator is not part of the message.
    source.write_bytes(json.dumps(at_limit).encode() + b"\r\n" + json.dumps(over).encode() + b"\n")
    result = ledger.ingest_files([source])
    # The 1 MiB event passes the message limit; its 1 MiB value then fails the payload limit (256 KiB).
    codes = [(d.offset, d.error_code) for d in result.dead_letters]
    assert codes == [(1, "PAYLOAD_TOO_LARGE"), (2, "PAYLOAD_TOO_LARGE")]
    assert [d.error_message for d in result.dead_letters][
        1
    ] == f"message is larger than {MAX_MESSAGE_BYTES} bytes"
    assert "payload" in result.dead_letters[0].error_message
    assert all(len(r) <= 1.4 * MAX_MESSAGE_BYTES for r in _raw_refs(ledger))


_MEASURE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ledger.bootstrap import Ledger
    from ledger.config import Settings


    def peak_kib():
        # This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries that
        # over exec from the parent, so a big pytest process would hide the growth measured here.
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc/self/status")


    url, key, var = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    settings = Settings(database_url=url, master_key_file=key, var_dir=var)
    ledger = Ledger.open(settings)
    ledger.ingest_files([Path(sys.argv[4])])  # warm up: imports, keys, caches, one dead letter
    before = peak_kib()
    result = ledger.ingest_files([Path(sys.argv[5])])
    after = peak_kib()
    ledger.close()
    print(result.stored, result.dead_lettered, after - before)
    """
)


def test_ingesting_a_twenty_megabyte_line_adds_little_to_peak_memory(tmp_path: Path):
    key = tmp_path / "kek"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    small = tmp_path / "small.jsonl"
    small.write_bytes(
        json.dumps(collected(new_id(), [("name", "full", "Warm Up")])).encode() + b"\nnot json\n"
    )
    big = tmp_path / "big.jsonl"
    with big.open("wb") as fh:
        fh.write(b'{"event_id": "' + b"z" * 20_000_000 + b'"}\n')
        fh.write(json.dumps(collected(new_id(), [("name", "full", "After Big")])).encode() + b"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            f"sqlite:///{tmp_path}/l.db",
            str(key),
            str(tmp_path / "var"),
            str(small),
            str(big),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    stored, dead, grown_kib = (int(x) for x in proc.stdout.split())
    assert (stored, dead) == (1, 1)
    # Reading the line whole would add at least its 20 MB (and copies of it) to the peak.
    assert grown_kib < 12 * 1024, f"peak memory grew by {grown_kib} KiB"


def test_an_avro_record_over_one_mebibyte_is_too_large_and_the_next_record_is_read(
    ledger: Ledger, tmp_path: Path
):
    after = new_id()
    source = tmp_path / "big.avro"
    with source.open("wb") as fh:
        AvroCodec().write_container(
            fh,
            [
                collected(new_id(), [("name", "full", "q" * 2_000_000)]),
                collected(after, [("name", "full", "After Big")]),
            ],
        )
    result = ledger.ingest_files([source])
    assert [(d.offset, d.error_code) for d in result.dead_letters] == [(1, "PAYLOAD_TOO_LARGE")]
    assert [e["event_type"] for e in ledger.subject_events(after)] == ["DataCollected"]
    [raw_ref] = _raw_refs(ledger)
    assert len(raw_ref) <= 1.4 * MAX_MESSAGE_BYTES


_AVRO_BLOCK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import ledger.store.ingest as ingest

    ingest.MAX_AVRO_BLOCK_BYTES = 4 * 1024 * 1024  # as if a 20 MB block were a 64 MiB+ one


    def peak_kib():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc/self/status")


    list(ingest.read_messages(Path(sys.argv[1])))  # warm up: imports, schemas
    before = peak_kib()
    messages = list(ingest.read_messages(Path(sys.argv[2])))
    after = peak_kib()
    print(" ".join(str(m.error.code) if m.error else "ok" for m in messages), after - before)
    """
)


def test_an_avro_container_block_over_the_limit_is_never_loaded(tmp_path: Path):
    codec = AvroCodec()
    small, big = tmp_path / "small.avro", tmp_path / "big.avro"
    with small.open("wb") as fh:
        codec.write_container(fh, [collected(new_id(), [("name", "full", "Warm Up")])])
    with big.open("wb") as fh:
        codec.write_container(
            fh, [collected(new_id(), [("name", "full", os.urandom(10_000_000).hex())])], codec="null"
        )
    proc = subprocess.run(
        [sys.executable, "-c", _AVRO_BLOCK, str(small), str(big)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    codes, grown_kib = proc.stdout.rsplit(maxsplit=1)
    assert codes == "PAYLOAD_TOO_LARGE"
    assert int(grown_kib) < 8 * 1024, f"peak memory grew by {grown_kib} KiB"
