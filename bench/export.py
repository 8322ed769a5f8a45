"""Regulator export of one subject with 10,000 events against a raw read of those rows, in the same run.

For each backend (real PostgreSQL and an SQLite file) it loads a fictional subject with ``--events``
events (collections with personal values, uses, shares, consent) among other subjects' sample events
(``ledger.sample``), brings the views up to date and signs a checkpoint (so every timed export finds
them current), then measures, interleaved, ``--runs`` times each:

* the raw read: the subject's rows (chain joined to the event table, ``WHERE subject_id = ?``) with every
  state JSON-decoded, in one read transaction: the least an export must read;
* ``build_export(ledger, "subject", id, record_disclosure=False)``: the whole export document (plaintext
  disclosed with its salt, leaves, inclusion proofs, annotations, alerts, requests, holdings,
  recipients, the ledger's full chain verification, the footer hash). Writing the zip (the HTML and PDF
  reports) is not part of it.

It prints the medians and their ratio (goal: the export within 2x of the raw read), and the median of
``ledger.verify()`` alone: the full chain verification the footer must carry (spec 6.8) reads the whole
log, so it grows with the ledger, not with the subject. It also times the export without that
verification, measured (not subtracted): ``build_export`` with ``ledger.verify`` answering the report
it gave a moment before (the log has not changed, so the document is the same); that part reads only
the subject's rows and its merge family's view rows, so it should not grow with the ledger
(``bench/scale.py`` prints it at each size).

    .venv/bin/python bench/export.py [--events 10000] [--others 150] [--runs 5]
                                     [--backend both|postgres|sqlite]

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database started by
deploy/local/postgres.sh); each run uses a fresh schema, dropped at the end. Not run in CI.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.export.bundle import build_export
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import collected, event
from projections.service import Projections

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
LOAD_BATCH = 1000
START = datetime(2024, 1, 1, tzinfo=UTC)


def _instant(i: int) -> str:
    return (START + timedelta(minutes=90 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def subject_events(subject: str, n: int) -> list[dict[str, Any]]:
    """``n`` events of one fictional subject: a third carry personal values, the rest do not."""
    consent = str(uuid.uuid4())
    out = [
        event(
            "SubjectRegistered",
            subject,
            {"roles": ["client_contact"], "display_name": "Bench Subject"},
            occurred_at=_instant(0),
        ),
        event(
            "ConsentGiven",
            subject,
            {
                "consent_id": consent,
                "purpose": "b2b_marketing",
                "method": "web_form",
                "notice_version": "2024.1",
                "explicit": True,
                "evidence": {"form": "newsletter", "ip": "192.0.2.10"},
            },
            occurred_at=_instant(1),
        ),
    ]
    for i in range(2, n):
        kind = i % 3
        if kind == 0:
            e = collected(
                subject,
                [
                    ("contact_details", "email", f"bench.{i}@example.com"),
                    ("job_title", "title", f"Role {i % 40}"),
                ],
                occurred_at=_instant(i),
            )
        elif kind == 1:
            e = event(
                "DataUsed",
                subject,
                {
                    "purpose": "b2b_marketing",
                    "lawful_basis": "consent",
                    "categories": ["contact_details"],
                    "channel": "email",
                    "operation": f"campaign:{i // 500}",
                },
                occurred_at=_instant(i),
            )
        else:
            e = event(
                "DataShared",
                subject,
                {
                    "recipient": {
                        "recipient_id": "EXAMPLE-CRM-01",
                        "name": "Example CRM Ltd",
                        "category": "supplier_processor",
                        "role": "processor",
                        "country": "GB",
                    },
                    "categories": ["job_title"],
                    "purpose": "agreement_performance",
                    "lawful_basis": "contract",
                },
                occurred_at=_instant(i),
            )
        out.append(e)
    return out


def raw_read(ledger: Ledger, subject: str) -> int:
    """The subject's rows, every state decoded, in one read transaction; the number of records."""
    store = ledger.store
    with store.read() as cur:
        rows = cur.execute(
            "SELECT c.seq, c.prev_hash, c.hash, e.state FROM {t:ledger_chain} c "
            f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
            "WHERE c.subject_id = ? ORDER BY c.seq",
            (subject,),
        ).all()
        records = [json.loads(bytes(row["state"]))["record"] for row in rows]
    return len(records)


def export_without_verification(ledger: Ledger, subject: str, report: Any) -> dict[str, Any]:
    """``build_export`` of the subject with the footer's full chain verification answered by ``report``
    (what ``ledger.verify()`` returned on the unchanged log): the export's own, per-subject cost."""
    ledger.verify = lambda **_: report  # type: ignore[method-assign]
    try:
        return build_export(ledger, "subject", subject, record_disclosure=False)
    finally:
        del ledger.verify


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def measure(name: str, url: str, events: list[dict[str, Any]], subject: str, runs: int, folder: Path) -> None:
    key = folder / f"{name}.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    settings = Settings(
        database_url=url, master_key_file=key, var_dir=folder / f"var-{name}", batch_size=LOAD_BATCH
    )
    ledger = Ledger.open(settings)
    try:
        print(f"[{name}] loading {len(events)} events ...", flush=True)
        load_s, result = _timed(
            lambda: ledger.ingest_messages(Message("bench", 0, i, event=e) for i, e in enumerate(events))
        )
        if result.dead_letters:
            raise SystemExit(f"[{name}] {len(result.dead_letters)} events rejected: not a fair run")
        project_s, _ = _timed(lambda: Projections(ledger.store, ledger.keys, ledger.codes).catch_up())
        ledger.checkpoint()
        print(
            f"[{name}] loaded in {load_s:.1f}s, views in {project_s:.1f}s; log size {ledger.head_seq()}",
            flush=True,
        )
        raw_s: list[float] = []
        export_s: list[float] = []
        verify_s: list[float] = []
        rest_s: list[float] = []
        entries = rows = 0
        for _ in range(runs):
            seconds, rows = _timed(lambda: raw_read(ledger, subject))
            raw_s.append(seconds)
            seconds, doc = _timed(lambda: build_export(ledger, "subject", subject, record_disclosure=False))
            export_s.append(seconds)
            entries = len(doc["entries"])
            seconds, report = _timed(ledger.verify)
            verify_s.append(seconds)
            seconds, _ = _timed(partial(export_without_verification, ledger, subject, report))
            rest_s.append(seconds)
        raw, export, verify, rest = (statistics.median(x) for x in (raw_s, export_s, verify_s, rest_s))
        print(
            f"[{name}] subject rows {rows}, export entries {entries}: raw read {raw * 1000:.0f} ms, "
            f"build_export {export * 1000:.0f} ms (of which the full chain verification about "
            f"{verify * 1000:.0f} ms); ratio {export / raw:.2f}x (goal <= 2x); "
            f"without the chain verification {rest * 1000:.0f} ms, {rest / raw:.2f}x",
            flush=True,
        )
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the exported subject")
    parser.add_argument(
        "--others", type=int, default=150, help="other sample subjects (about 15 events each)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (medians reported)")
    parser.add_argument("--backend", choices=("both", "postgres", "sqlite"), default="both")
    args = parser.parse_args()
    subject = str(uuid.uuid4())
    mine = subject_events(subject, args.events)
    others = generate_events(seed=11, subjects=args.others)
    # The subject's events interleaved with the others' (by position), as a busy log would hold them.
    events: list[dict[str, Any]] = []
    step = max(1, len(mine) // max(1, len(others)))
    it = iter(others)
    for i, e in enumerate(mine):
        events.append(e)
        if i % step == 0:
            events.extend(e2 for e2 in [next(it, None)] if e2 is not None)
    events.extend(it)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend in ("both", "postgres"):
            base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
            schema = f"bench_export_{uuid.uuid4().hex[:8]}"
            try:
                measure("postgres", f"{base}?schema={schema}", events, subject, args.runs, folder)
            finally:
                with psycopg.connect(base, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if args.backend in ("both", "sqlite"):
            measure("sqlite", f"sqlite:///{folder}/bench.db", events, subject, args.runs, folder)


if __name__ == "__main__":
    main()
