"""The ``privacy-ledger`` command line: thin entry points over :class:`ledger.bootstrap.Ledger`."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, cast

from ledger import exit_codes
from ledger.bootstrap import Ledger, UnknownSubject
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.options import parse_instant_option, positive_int
from ledger.store.files import make_private_dir

__all__ = ["build_parser", "main"]

log = logging.getLogger("ledger")


def _print(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error: ``privacy-ledger CMD: error: ... (see ... --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text} (see `{self.prog} --help`)\n")


def _clock(settings: Settings, text: str | None) -> Callable[[], datetime] | None:
    if text is None:
        return None
    fixed = parse_instant_option("--clock", text)
    if not settings.allow_clock_override:
        raise LedgerError("--clock is refused unless LEDGER_ALLOW_CLOCK_OVERRIDE=1 (tests only)")
    return lambda: fixed


def _open(args: argparse.Namespace, *, read_only: bool = False) -> Ledger:
    """Open the ledger; ``read_only`` commands create nothing and refuse a place without a ledger."""
    settings = Settings.from_env()
    return Ledger.open(settings, clock=_clock(settings, getattr(args, "clock", None)), read_only=read_only)


def _project_embedded(ledger: Ledger) -> None:
    """The embedded default (SQLite) has no projection service: bring the views up to date here."""
    if ledger.store.dialect.is_postgres:
        return
    from ledger.progress import Progress
    from projections.service import Projections

    shown = Progress("views")
    try:
        Projections(ledger.store, ledger.keys, ledger.codes).catch_up(progress=shown.update)
    finally:
        shown.close()


def cmd_ingest(args: argparse.Namespace) -> int:
    """Append the events of files; print the counts. Exit 0, or 3 when some were dead-lettered."""
    from ledger.progress import Progress
    from ledger.store.ingest import check_input_files

    check_input_files([Path(p) for p in args.files])  # before the ledger is even opened
    ledger = _open(args)
    shown = Progress("ingest")
    try:
        try:
            result = ledger.ingest_files([Path(p) for p in args.files], progress=shown.update)
        finally:
            shown.close()
        _project_embedded(ledger)
    finally:
        ledger.close()
    _print(result.summary())
    return exit_codes.DEAD_LETTERED if result.dead_lettered else exit_codes.OK


def cmd_subject(args: argparse.Namespace) -> int:
    """Print a subject's events in order, decrypted or redacted, once the read is recorded (spec 8).

    Exit 2 without ``--reason``; 1 (nothing printed) if the read cannot be recorded. A subject with no
    event prints ``[]`` and records nothing: nothing about anyone was shown.
    """
    from ledger.read_audit import ReadNotRecorded, open_to_read_plaintext, record_cli_read, required_reason
    from ledger.web.roles import View

    reason = required_reason(args.reason, "subject")
    settings = Settings.from_env()
    ledger = open_to_read_plaintext(settings, _clock(settings, args.clock))
    try:
        events = ledger.subject_events(args.subject_id)
        if events:
            record_cli_read(ledger, args.subject_id, View.SUBJECT_EVENTS, reason)
    except ReadNotRecorded as exc:
        print(f"privacy-ledger: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    finally:
        ledger.close()
    _print(events)
    return exit_codes.OK


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase a subject (all categories, or the given ones) by destroying keys."""
    ledger = _open(args)
    try:
        try:
            result = ledger.erase(args.subject_id, args.category or ["*"], reason=args.reason)
        except UnknownSubject as exc:
            print(f"privacy-ledger: {exc}", file=sys.stderr)
            return exit_codes.FAILURE
        _project_embedded(ledger)
        # Per category: erased (key versions destroyed), deferred (the holds blocking it), nothing held.
        outcome = result.erasures[0].report() if result.erasures else {}
        _print({**outcome, **result.summary(), "dead_letters": [d.__dict__ for d in result.dead_letters]})
    finally:
        ledger.close()
    return exit_codes.OK if not result.dead_letters else exit_codes.FAILURE


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the integrity chain from the last verified checkpoint (all of it with ``--full``); exit 1
    when it is broken. ``--record`` keeps the outcome in the ledger for monitoring (``ledger_verify_*``
    metrics) and, when valid, the checkpoint the next verify starts from; only that option writes."""
    from ledger.progress import Progress
    from ledger.store.chain import record_anchor

    ledger = _open(args, read_only=not args.record)
    try:
        shown = Progress("verify", total=ledger.head_seq())
        try:
            report = ledger.verify(progress=shown.update, incremental=not args.full)
        finally:
            shown.close()
        if args.record:
            from ledger.collector import record_verify_result

            record_verify_result(ledger.store, ledger.clock(), report.valid, report.length)
            record_anchor(ledger.store, report)
    finally:
        ledger.close()
    _print(report.as_dict())
    return 0 if report.valid else 1


def _write_out(path: str, text: str) -> None:
    """Write a public artefact (checkpoint note, proof) to ``--out``; a bad path is a usage error."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LedgerError(f"cannot write --out {path}: {exc.strerror or type(exc).__name__}") from None


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """Sign a checkpoint of the log if it grew since the last one (else show the last); exit 1 if refused."""
    from ledger.log.issue import CheckpointRefused

    ledger = _open(args)
    try:
        try:
            checkpoint, issued = ledger.issue_checkpoint()
        except CheckpointRefused as exc:
            print(f"privacy-ledger: {exc}", file=sys.stderr)
            return exit_codes.FAILURE
        verifier = ledger.verifier_key.text
    finally:
        ledger.close()
    if args.out:
        _write_out(args.out, checkpoint.note)
    status = "issued" if issued else "unchanged"
    _print({"status": status, **checkpoint.as_dict(), "verifier_key": verifier, "out": args.out})
    return exit_codes.OK


def cmd_proof_inclusion(args: argparse.Namespace) -> int:
    """Write the tlog-proof of one record's inclusion in an issued checkpoint."""
    import base64

    from ledger.log.prove import TreeMismatch
    from ledger.log.witness import note_size

    ledger = _open(args, read_only=True)
    try:
        try:
            proof, leaf = ledger.inclusion_proof(args.seq, args.checkpoint)
        except TreeMismatch as exc:
            print(f"privacy-ledger: {exc}", file=sys.stderr)
            return exit_codes.FAILURE
    finally:
        ledger.close()
    text = proof.to_text()
    if not args.out:
        sys.stdout.write(text)
        return exit_codes.OK
    _write_out(args.out, text)
    _print(
        {
            "seq": args.seq,
            "index": proof.index,
            "checkpoint_size": note_size(proof.checkpoint),
            "leaf_hash": base64.b64encode(leaf).decode(),
            "hashes": len(proof.proof),
            "out": args.out,
        }
    )
    return exit_codes.OK


def cmd_proof_consistency(args: argparse.Namespace) -> int:
    """Write the consistency proof between two tree sizes, one base64 hash a line."""
    import base64

    from ledger.log.prove import TreeMismatch

    ledger = _open(args, read_only=True)
    try:
        try:
            proof = ledger.consistency_proof(args.old, args.new)
        except TreeMismatch as exc:
            print(f"privacy-ledger: {exc}", file=sys.stderr)
            return exit_codes.FAILURE
    finally:
        ledger.close()
    text = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    if not args.out:
        sys.stdout.write(text)
        return exit_codes.OK
    _write_out(args.out, text)
    _print({"old": args.old, "new": args.new, "hashes": len(proof), "out": args.out})
    return exit_codes.OK


def cmd_health(args: argparse.Namespace) -> int:
    """Print ingestion health (spec 6.13) and projection lag; exit 1 only if the counters do not conserve."""
    from projections.runner import read_lag
    from projections.service import VIEW_NAMES

    ledger = _open(args, read_only=True)
    try:
        report = ledger.health()
        report["projection_lag"] = read_lag(ledger.store, VIEW_NAMES)
    finally:
        ledger.close()
    _print(report)
    return 0 if report["conserved"] else 1


def cmd_sample(args: argparse.Namespace) -> int:
    """Write fictional sample events (JSON lines), deterministic by seed."""
    from ledger.sample import generate_events, write_jsonl

    events = generate_events(seed=args.seed, subjects=args.subjects)
    try:
        make_private_dir(Path(args.out).parent)  # by default var/, which the ledger keeps 0700
        write_jsonl(Path(args.out), events)
    except OSError as exc:
        raise LedgerError(f"cannot write --out {args.out}: {exc.strerror or type(exc).__name__}") from None
    _print({"written": len(events), "out": args.out, "seed": args.seed})
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the sample data, ingest it, print a summary, sign a checkpoint and verify the log."""
    from ledger.sample import generate_events, write_jsonl

    settings = Settings.from_env()
    out = settings.var_dir / f"sample-seed{args.seed}.jsonl"
    make_private_dir(out.parent)
    write_jsonl(out, generate_events(seed=args.seed, subjects=args.subjects))
    from ledger.log.issue import CheckpointRefused
    from projections.service import Projections

    ledger = Ledger.open(settings, clock=_clock(settings, args.clock))
    try:
        result = ledger.ingest_files([out])
        counts = ledger.counts()
        # The embedded default leaves a signed checkpoint of what it holds (no service signs one here).
        try:
            issued, fresh = ledger.issue_checkpoint()
            signed: dict[str, Any] = {
                "status": "issued" if fresh else "unchanged",
                "size": issued.size,
                "root": issued.as_dict()["root"],
            }
        except CheckpointRefused as exc:
            signed = {"status": "refused", "reason": str(exc)}
        report = ledger.verify()
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        projections.catch_up()
        now = ledger.clock()
        outstanding = projections.query("requests", as_of=now)
        open_alerts = projections.query("alerts", as_of=now, status="OPEN")
    finally:
        ledger.close()
    _print(
        {
            "database": settings.database_url,
            "sample_file": str(out),
            "this_run": result.summary(),
            "ledger": counts,
            "checkpoint": signed,
            "verify": report.as_dict(),
            "outstanding_requests": {
                "count": len(outstanding),
                "overdue": sum(1 for r in outstanding if r["overdue"]),
                "first": [
                    {k: r[k] for k in ("request_id", "request_type", "status", "due_date", "overdue")}
                    for r in outstanding[:5]
                ],
            },
            "open_alerts": {
                "count": len(open_alerts),
                "by_code": _count_by(open_alerts, "code"),
                "first": [
                    {k: a[k] for k in ("code", "severity", "subject_id", "message")} for a in open_alerts[:5]
                ],
            },
            "next": "privacy-ledger query requests | alerts | inventory --subject ID --reason R | ropa | ...",
        }
    )
    return 0 if report.valid and signed["status"] != "refused" else 1


def _count_by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row[key])] = counts.get(str(row[key]), 0) + 1
    return dict(sorted(counts.items()))


def cmd_dead_letters(args: argparse.Namespace) -> int:
    """List dead letters (codes, paths and ids; never values)."""
    ledger = _open(args, read_only=True)
    try:
        _print(ledger.dead_letters(args.limit))
    finally:
        ledger.close()
    return 0


def cmd_settings(_: argparse.Namespace) -> int:
    """List every setting: its environment variable, effective value, source and meaning."""
    _print(Settings.report())
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Re-wrap every data key under a new master key in one transaction; the old key then stops working."""
    from ledger.store.crypto import FileMasterKey

    new_file = Path(args.new_key_file)
    new = FileMasterKey.load(new_file)
    settings = Settings.from_env()
    # First read only: a place without a ledger, or a key that is not the ledger's, changes nothing.
    Ledger.open(settings, read_only=True).close()
    ledger = Ledger.open(settings)
    try:
        summary = ledger.rotate_master_key(new)
    finally:
        ledger.close()
    _print(
        {
            **summary,
            "new_key_file": str(new_file),
            "next": f"set LEDGER_MASTER_KEY_FILE={new_file}: the old master key no longer opens this ledger",
        }
    )
    return 0


# The commands other modules register: (module, function, the commands it adds), in help order. A
# command line naming one of them imports that module alone (start-up: `query` never imports Kafka's
# client or the web server); `build_parser()` without a command registers them all.
_REGISTRARS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("consumers.run", "add_consume_command", ("consume",)),
    ("consumers.publish", "add_publish_command", ("publish",)),
    ("projections.cli", "add_project_command", ("project",)),
    ("projections.cli", "add_query_command", ("query",)),
    ("ledger.export.cli", "add_export_commands", ("export", "verify-export")),
    ("ledger.backup", "add_backup_commands", ("backup", "restore", "after-restore")),
    ("ledger.web.cli", "add_web_commands", ("serve", "users", "tokens")),  # FastAPI imported only by serve
)


def _command_name(argv: Sequence[str] | None) -> str | None:
    """The subcommand a command line names (its first word), or None (``--help``, nothing)."""
    words = list(sys.argv[1:] if argv is None else argv)
    return words[0] if words and not words[0].startswith("-") else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand; given ``command``, of the other modules' commands only
    the one it names is registered (the parser then accepts exactly what the full one does for it)."""
    p = _Parser(
        prog="privacy-ledger",
        description="Event-sourced privacy ledger. Database: LEDGER_DATABASE_URL "
        "(default sqlite:///./var/ledger.db); see `privacy-ledger settings`.",
    )
    # Every subparser is a _Parser too (argparse makes them of the parent's class).
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        p.add_subparsers(dest="command", required=True, help="the command to run"),
    )
    from ledger.codelists import load_code_lists

    codes = load_code_lists()
    clock_help = "fixed ledger clock, an instant with offset (needs LEDGER_ALLOW_CLOCK_OVERRIDE=1)"

    s = sub.add_parser("ingest", help="append events from JSON-lines or .avro files")
    s.add_argument(
        "files", nargs="+", metavar="FILE", help="a JSON-lines file (one event a line) or .avro file"
    )
    s.add_argument("--clock", help=clock_help)
    s.set_defaults(func=cmd_ingest)

    from ledger.read_audit import add_reason_argument

    s = sub.add_parser(
        "subject",
        help="a subject's events, decrypted or redacted (the read is recorded)",
        description="Prints every event of the subject in seq order, personal values decrypted or "
        "redacted. The read is first recorded in the ledger as a PersonalDataViewed (spec 8: the OS "
        "account's uid, role host_operator, the reason); if that fails nothing is printed (exit 1). "
        "Needs write access to the ledger. A subject with no event prints [] and records nothing.",
    )
    s.add_argument("subject_id", help="the subject's ledger-scoped UUID")
    add_reason_argument(s)
    s.add_argument("--clock", help=clock_help)
    s.set_defaults(func=cmd_subject)

    s = sub.add_parser("erase", help="erase a subject by destroying its data keys")
    s.add_argument("subject_id", help="the subject's ledger-scoped UUID")
    s.add_argument(
        "--category",
        action="append",
        metavar="CATEGORY",
        help="a category to erase; repeat for more; default all. One of: "
        + ", ".join(sorted(codes.codes("category"))),
    )
    s.add_argument(
        "--reason",
        default="erasure_request",
        help="why (default %(default)s). One of: " + ", ".join(sorted(codes.codes("erasure_reason"))),
    )
    s.add_argument("--clock", help=clock_help)
    s.set_defaults(func=cmd_erase)

    s = sub.add_parser(
        "verify",
        help="verify the integrity chain (from the last verified checkpoint; --full: all of it)",
        description="Verifies the chain, the Merkle tree and the signed checkpoints and prints a JSON report "
        "(valid, first_invalid_seq, problems, mode, checked, not_checked, events_checked, "
        "events_per_second, ...). By default it starts from the last checkpoint a `verify --record` "
        "verified: that checkpoint's signature and root, its last record and every later one are checked, "
        "the records before it are not re-hashed (see not_checked); without one, or if it does not check "
        "out, the verification is full. Read only unless --record. Exit 0 valid, 1 broken.",
    )
    s.add_argument(
        "--full",
        action="store_true",
        help="re-hash and check every record from the first (as every verify did before), not only "
        "those after the last verified checkpoint",
    )
    s.add_argument(
        "--record",
        action="store_true",
        help="also record the outcome in the ledger for monitoring (the ledger_verify_* metrics of "
        "consume, project and serve) and, when valid, the largest signed checkpoint it matched: the next "
        "verify starts there; needs write access",
    )
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser(
        "checkpoint",
        help="sign a checkpoint of the log (C2SP tlog-checkpoint, Ed25519) if it grew",
        description="Signs a checkpoint of the Merkle tree over the records (origin LEDGER_LOG_ORIGIN, "
        "key LEDGER_SIGNING_KEY_FILE), keeps it in the database and in LEDGER_CHECKPOINT_WITNESS_DIR, and "
        "prints {status: issued|unchanged, size, root, issued_at, note, verifier_key, out}. If the log "
        "has not grown since the last checkpoint, that one is shown (unchanged). Exit 1, nothing signed, "
        "if the database does not extend the last issued checkpoint or the witness copy (a cut tail, "
        "rewritten history, or an older backup restored).",
    )
    s.add_argument("--out", metavar="FILE", help="also write the signed checkpoint note to FILE")
    s.set_defaults(func=cmd_checkpoint)

    s = sub.add_parser("proof", help="Merkle proofs: a record's inclusion, two tree sizes' consistency")
    proof = s.add_subparsers(dest="proof_command", required=True, help="the kind of proof")
    s = proof.add_parser(
        "inclusion",
        help="prove a record is in an issued checkpoint (C2SP tlog-proof@v1)",
        description="Writes the C2SP tlog-proof@v1 of record SEQ (leaf SEQ - 1): the index, the inclusion "
        "proof hashes and the signed checkpoint. Read only. Without --out the proof goes to stdout; with "
        "it, a JSON summary {seq, index, checkpoint_size, leaf_hash, hashes, out}. Exit 2 if SEQ is not "
        "in the tree or no issued checkpoint covers it (run `privacy-ledger checkpoint`), 1 if the stored "
        "tree no longer leads to the checkpoint's root.",
    )
    s.add_argument("seq", type=positive_int, help="the record's seq (as in `subject` and `verify`)")
    s.add_argument(
        "--checkpoint",
        type=positive_int,
        metavar="SIZE",
        help="the tree size of the issued checkpoint to prove against (default: the latest)",
    )
    s.add_argument("--out", metavar="FILE", help="write the proof to FILE instead of stdout")
    s.set_defaults(func=cmd_proof_inclusion)
    s = proof.add_parser(
        "consistency",
        help="prove the tree of size NEW extends the tree of size OLD (RFC 9162)",
        description="Writes the RFC 9162 consistency proof from tree size OLD to NEW, one base64 hash a "
        "line (none when OLD = NEW). OLD and NEW are normally sizes of issued checkpoints (the verifier "
        "takes both roots from the signed notes); any sizes 1 <= OLD <= NEW <= the tree's size are "
        "accepted. Read only. Exit 2 for sizes outside that range, 1 if the stored tree disagrees with "
        "the checkpoints of those sizes.",
    )
    s.add_argument("old", type=positive_int, help="the earlier tree size")
    s.add_argument("new", type=positive_int, help="the later tree size")
    s.add_argument("--out", metavar="FILE", help="write the hashes to FILE instead of stdout")
    s.set_defaults(func=cmd_proof_consistency)

    s = sub.add_parser(
        "health",
        help="ingestion counters, open dead letters, parked messages and projection lag",
        description="Ingestion health (spec 6.13) as JSON. Read only. Exit 0, or 1 if the counters do not "
        "conserve (consumed = stored_producer_events + duplicates + dead_lettered + parked).",
    )
    s.set_defaults(func=cmd_health)

    s = sub.add_parser("sample", help="write fictional sample events")
    s.add_argument("--seed", type=int, default=7, help="random seed; the same seed writes the same file")
    s.add_argument(
        "--subjects",
        type=positive_int,
        default=200,
        help="number of fictional subjects (default %(default)s)",
    )
    s.add_argument("--out", default="var/sample.jsonl", help="output JSON-lines file (default %(default)s)")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("demo", help="sample data -> ingest -> summary -> checkpoint -> verify")
    s.add_argument("--seed", type=int, default=7, help="random seed of the sample data (default %(default)s)")
    s.add_argument(
        "--subjects",
        type=positive_int,
        default=200,
        help="number of fictional subjects (default %(default)s)",
    )
    s.add_argument("--clock", help=clock_help)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("dead-letters", help="list rejected messages")
    s.add_argument(
        "--limit",
        type=positive_int,
        default=100,
        help="at most this many, newest first (default %(default)s)",
    )
    s.set_defaults(func=cmd_dead_letters)

    s = sub.add_parser("settings", help="every setting: its variable, effective value, source, meaning")
    s.set_defaults(func=cmd_settings)

    s = sub.add_parser("keys", help="master key administration: rotate")
    keys = s.add_subparsers(dest="keys_command", required=True, help="the key operation")
    s = keys.add_parser(
        "rotate",
        help="re-wrap every data key under a new master key",
        description="Re-wraps every data key under the new master key in one transaction (under the "
        "single-writer lock), then only the new key opens the ledger; if it fails part-way the old key "
        "stays valid. The current key is LEDGER_MASTER_KEY_FILE (or the development key). Prints "
        "{rotated, keys_rewrapped, keys_destroyed_skipped, new_key_file, next}. Exit 2 if a key is "
        "missing, open to group or others, or not this ledger's.",
    )
    s.add_argument(
        "--new-key-file",
        required=True,
        metavar="FILE",
        help="file holding the new master key: base64 of 32 random bytes, mode 0600 "
        "(e.g. `(umask 077; head -c 32 /dev/urandom | base64 > FILE)`)",
    )
    s.set_defaults(func=cmd_keys_rotate)

    # The Kafka edge (`consumers`), the views, export, backup and the web register their own commands.
    if command in sub.choices:
        registrars: Sequence[tuple[str, str, tuple[str, ...]]] = []  # one of the commands above
    else:
        registrars = [r for r in _REGISTRARS if command in r[2]] or _REGISTRARS  # unknown: all, for help
    for module, function, _ in registrars:
        getattr(importlib.import_module(module), function)(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``privacy-ledger``; the exit codes are those of ``ledger.exit_codes``."""
    try:
        args = build_parser(_command_name(argv)).parse_args(argv)
        level = Settings.from_env().log_level  # checked: one of DEBUG, INFO, WARNING, ERROR
    except LedgerError as exc:
        return _usage_error(exc)
    logging.basicConfig(level=getattr(logging, level), format="%(levelname)s %(name)s: %(message)s")
    # kafka-python is chatty at INFO; its messages carry no event content but drown ours.
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    started = time.perf_counter()
    # The command's name only: its arguments may name files or people's ids.
    log.debug("command %s started", args.command)
    code: int | None = None
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `privacy-ledger verify | head -c1`: the reader stopped reading. No traceback, no message;
        # exit 1 as the output was not all delivered (what `set -o pipefail` should see).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = exit_codes.FAILURE
        return code
    except KeyboardInterrupt:
        code = 130  # 128 + SIGINT, as a shell reports an interrupted command
        return code
    except LedgerError as exc:
        code = _usage_error(exc)
        return code
    finally:
        outcome = "failed" if code is None else f"exit {code}"
        log.debug("command %s finished: %s, %.1f s", args.command, outcome, time.perf_counter() - started)


def _usage_error(exc: LedgerError) -> int:
    """Print ``exc`` as one line on stderr; return the usage/configuration exit code."""
    text = " ".join(str(exc).splitlines())
    print(f"privacy-ledger: {text}", file=sys.stderr)
    return exit_codes.USAGE


if __name__ == "__main__":
    raise SystemExit(main())
