"""Backup and restore that never bring back erased people: ``backup``, ``restore``, ``after-restore``.

A backup is the ledger's database as it was: PostgreSQL's schema by ``pg_dump`` (custom format), or the
SQLite file by SQLite's online backup API. Its data keys are wrapped by the master key (the backup holds no
plaintext key and no plaintext value: personal values are stored encrypted), so a restored ledger opens only
with the master key that wrapped them when the backup was taken. A backup taken before an erasure still
holds the erased person's keys: the destruction journal (``ledger.store.destructions``) kept outside the
database says which, and :func:`after_restore` destroys them again, appending a ``KeyShredded`` per
(subject, category) so the chain and the views learn it, before anything is read (``Ledger.open`` refuses
until then).

The restored log must extend the last checkpoint the ledger issued (the witness copy outside the database).
``backup`` signs a checkpoint first, so a backup covers every checkpoint issued before it; ``after-restore``
then appends its events and signs a checkpoint extending the witness copy. If a checkpoint was issued after
the backup was taken, the records it covers are not in the backup: no appended record can reproduce them,
signing stays refused, and ``after-restore`` says so (exit 1)."""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sqlite3
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse, urlunparse

from ledger import exit_codes
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.domain.timeutil import format_instant
from ledger.errors import LedgerError
from ledger.store.destructions import new_run_id, pending_destructions, set_applied_size
from ledger.store.files import create_private_file, make_private_dir
from ledger.store.keystore import DEAD_LETTER_CATEGORY, FINGERPRINT_CATEGORY, format_kid

__all__ = ["add_backup_commands", "after_restore", "backup", "restore_database"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_DUMP_MAGIC = b"PGDMP"
_PSQL = ("-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1")


class BackupError(LedgerError):
    """A backup or restore that cannot be done (missing tool, unreadable file): nothing was changed."""


def pg_tool(name: str) -> str:
    """The path of PostgreSQL client program ``name``: on PATH, else the newest /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not versions:
        raise BackupError(f"{name} not found (install the PostgreSQL client programs)")
    return versions[-1]


def _pg_target(database_url: str) -> tuple[str, dict[str, str], str]:
    """``(libpq URL without password or query, environment with PGPASSWORD, schema)``."""
    url = urlparse(database_url)
    schema = parse_qs(url.query).get("schema", ["public"])[0]
    host = url.hostname or "127.0.0.1"
    netloc = f"{url.username}@" if url.username else ""
    netloc += f"[{host}]" if ":" in host else host
    if url.port:
        netloc += f":{url.port}"
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = unquote(url.password)  # not on the command line, where `ps` shows it
    return urlunparse(("postgresql", netloc, url.path or "/postgres", "", "", "")), env, schema


def _read_only_uri(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " ".join((done.stderr or "").split())[:400]
        raise BackupError(f"{what} failed (exit {done.returncode}): {detail}")


def backup(ledger: Ledger, out: Path) -> dict[str, Any]:
    """Sign a checkpoint if the log grew (so the backup covers every issued checkpoint), then write the
    database to ``out`` (created mode 0600; an existing file is refused)."""
    from ledger.log.issue import CheckpointRefused
    from ledger.log.signing import SigningKeyError

    make_private_dir(out.parent)
    if not create_private_file(out):
        raise BackupError(f"--out {out} exists: choose a new file (a backup never overwrites one)")
    try:
        try:
            issued, fresh = ledger.issue_checkpoint()
            checkpoint: dict[str, Any] = {"status": "issued" if fresh else "unchanged", "size": issued.size}
        except (CheckpointRefused, SigningKeyError) as exc:  # reported; the backup is taken all the same
            checkpoint = {"status": "refused", "reason": str(exc)}
        records = ledger.head_seq()
        if ledger.store.dialect.is_postgres:
            url, env, schema = _pg_target(ledger.settings.database_url)
            _run(
                [pg_tool("pg_dump"), "--format=custom", f"--schema={schema}", f"--file={out}", url],
                env,
                "pg_dump",
            )
        else:
            src = sqlite3.connect(_read_only_uri(Path(ledger.store.location)), uri=True)
            dst = sqlite3.connect(out)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return {
        "out": str(out),
        "database": ledger.store.location,
        "records": records,  # at least: a writer may have appended before the dump's snapshot
        "bytes": out.stat().st_size,
        "checkpoint": checkpoint,
    }


def restore_database(settings: Settings, file: Path) -> None:
    """Replace the ledger's database (PostgreSQL: its schema, in one transaction) by the backup ``file``.

    Only the database: the destruction journal and the witness copy outside it stay as they are, and
    the ledger refuses to open until :func:`after_restore` ran. Stop every ledger process first.
    """
    try:
        with file.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read backup {file}: {exc.strerror or type(exc).__name__}") from None
    scheme = urlparse(settings.database_url).scheme
    if scheme == "sqlite":
        if head != _SQLITE_MAGIC:
            raise BackupError(f"{file} is not a backup of an embedded (SQLite) ledger")
        from ledger.store.database import sqlite_path

        target = Path(sqlite_path(settings.database_url))
        make_private_dir(target.parent)
        create_private_file(target)
        src = sqlite3.connect(_read_only_uri(file), uri=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    if not head.startswith(_PG_DUMP_MAGIC):
        raise BackupError(f"{file} is not a pg_dump custom-format backup (from `privacy-ledger backup`)")
    url, env, schema = _pg_target(settings.database_url)
    listing = subprocess.run(
        [pg_tool("pg_restore"), "--list", str(file)], env=env, capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"pg_restore cannot read {file}: {' '.join(listing.stderr.split())[:400]}")
    creates_schema = any(f" SCHEMA - {schema} " in line for line in listing.stdout.splitlines())
    prelude = f"DROP SCHEMA IF EXISTS {_quote_ident(schema)} CASCADE;"
    if not creates_schema:
        prelude += f" CREATE SCHEMA {_quote_ident(schema)};"
    # pg_restore writes the SQL script; psql runs it after the drop, all in one transaction.
    script = subprocess.Popen(
        [pg_tool("pg_restore"), "--no-owner", "--no-acl", "--file=-", str(file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        done = subprocess.run(
            [pg_tool("psql"), *_PSQL, "-c", prelude, "-f", "-", url],
            env=env,
            stdin=script.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        if script.stdout is not None:
            script.stdout.close()
        script.wait()
    if done.returncode != 0 or script.returncode != 0:
        detail = " ".join((done.stderr or "").split())[:400]
        raise BackupError(
            f"restore failed, the database is unchanged (psql exit {done.returncode}): {detail}"
        )


def after_restore(ledger: Ledger) -> dict[str, Any]:
    """Destroy again every key the destruction journal lists that the database still holds, record it
    (a ``KeyShredded`` per data category re-destroyed), then sign a checkpoint extending the last one
    issued if the log allows it. Returns a report (ids and counts only)."""
    from ledger.log.issue import CheckpointRefused
    from ledger.log.signing import SigningKeyError
    from ledger.store.writer import BatchWriter

    journal = ledger.keys.journal
    assert journal is not None  # Ledger.open always sets it
    entries = journal.read()
    run = new_run_id()
    recorded_at = ledger.clock()
    now = format_instant(recorded_at)
    store = ledger.store
    with store.write() as cur:
        pending = pending_destructions(cur, entries)
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for e in pending:
            groups[(e.subject_id, e.category)].append(e.key_version)
        writer = BatchWriter(
            store,
            ledger.keys,
            ledger.codes,
            cur,
            recorded_at,
            park_grace_seconds=ledger.settings.park_grace_seconds,
        )
        for (subject, category), versions in sorted(groups.items()):
            if category in (FINGERPRINT_CATEGORY, DEAD_LETTER_CATEGORY):
                continue  # the ledger's own keys: destroyed without an event, as an erasure does
            writer.system_event(
                "KeyShredded",
                subject,
                now,
                {"category": category, "key_versions": sorted(versions)},
                cause=f"after-restore:{run}|{subject}|{category}",
                correlation_id=run,
            )
        writer.apply([], [])
        # After the events: appending them must not make a new fingerprint key for a subject whose
        # fingerprint key is about to go.
        for e in pending:
            cur.execute(
                "UPDATE {t:ledger_keys} SET wrapped = NULL, shredded_at = ? WHERE subject_id = ? "
                "AND category = ? AND key_version = ? AND created_at = ? AND wrapped IS NOT NULL",
                (now, e.subject_id, e.category, e.key_version, e.created_at),
            )
        set_applied_size(cur, journal.size())
    kids = [format_kid(e.subject_id, e.category, e.key_version) for e in pending]
    ledger.keys.forget(kids)
    if kids:
        store.purge_destroyed_keys()
    report: dict[str, Any] = {
        "journal": str(journal.path),
        "journal_entries": len(entries),
        "keys_destroyed_again": len(kids),
        "subjects": len({e.subject_id for e in pending}),
        "key_shredded_events": writer.result.system_events,
        "records": ledger.head_seq(),
    }
    try:
        issued, fresh = ledger.issue_checkpoint()
        report["checkpoint"] = {
            "status": "issued" if fresh else "unchanged",
            "size": issued.size,
            "extends_last_issued": True,
        }
    except (CheckpointRefused, SigningKeyError) as exc:
        report["checkpoint"] = {"status": "refused", "extends_last_issued": False, "reason": str(exc)}
    return report


def cmd_backup(args: argparse.Namespace) -> int:
    """Sign a checkpoint if the log grew, then write the database to ``--out``."""
    ledger = Ledger.open(Settings.from_env())
    try:
        summary = backup(ledger, Path(args.out))
    finally:
        ledger.close()
    _print(summary)
    return exit_codes.OK


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the database by a backup, then run the after-restore procedure."""
    settings = Settings.from_env()
    restore_database(settings, Path(args.file))
    return _after_restore(settings, restored=str(args.file))


def cmd_after_restore(_: argparse.Namespace) -> int:
    """The after-restore procedure alone (after a restore by hand: pg_restore, a file copy)."""
    return _after_restore(Settings.from_env(), restored=None)


def _after_restore(settings: Settings, *, restored: str | None) -> int:
    ledger = Ledger.open(settings, restoring=True)
    try:
        report = after_restore(ledger)
    finally:
        ledger.close()
    if restored is not None:
        report = {"restored": restored, **report}
    _print(report)
    return exit_codes.OK if report["checkpoint"]["extends_last_issued"] else exit_codes.FAILURE


def _print(obj: Any) -> None:
    import json
    import sys

    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


_AFTER = (
    "Then destroys again every data key the destruction journal (in LEDGER_CHECKPOINT_WITNESS_DIR) says "
    "was destroyed and the restored database still holds, appending a KeyShredded per subject and "
    "category, and signs a checkpoint that must extend the last one issued (the witness copy). Prints "
    "{journal_entries, keys_destroyed_again, subjects, key_shredded_events, records, checkpoint}. Exit 0; "
    "1 if the restored log cannot extend the last issued checkpoint (a checkpoint was signed after the "
    "backup: see deploy/RUNBOOK.md) - the keys are destroyed even then; 2 for a bad file or setting."
)


def add_backup_commands(sub: Any) -> None:
    """Register ``backup``, ``restore`` and ``after-restore``."""
    s = sub.add_parser(
        "backup",
        help="write the ledger's database to a backup file (pg_dump, or SQLite's backup API)",
        description="Signs a checkpoint if the log grew (so the backup covers every issued checkpoint), "
        "then writes the database: PostgreSQL's schema with pg_dump (custom format), or a consistent "
        "copy of the SQLite file. Data keys in it stay wrapped by the master key; personal values stay "
        "encrypted. Prints {out, database, records, bytes, checkpoint}. Exit 2 if FILE exists.",
    )
    s.add_argument("--out", required=True, metavar="FILE", help="the backup file to create (mode 0600)")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser(
        "restore",
        help="replace the ledger's database by a backup, then run after-restore",
        description="Stop every ledger process first. Replaces the database (PostgreSQL: drops and "
        "restores the schema in one transaction) by FILE from `privacy-ledger backup`. " + _AFTER,
    )
    s.add_argument("file", metavar="FILE", help="a backup file written by `privacy-ledger backup`")
    s.set_defaults(func=cmd_restore)
    s = sub.add_parser(
        "after-restore",
        help="after a database restore: destroy again the keys destroyed since the backup",
        description="Run after restoring the database by other means (pg_restore, a file copy); every "
        "other command refuses to open a restored ledger until it ran. " + _AFTER,
    )
    s.set_defaults(func=cmd_after_restore)
