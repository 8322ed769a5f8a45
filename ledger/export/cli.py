"""``privacy-ledger export`` and ``privacy-ledger verify-export``: regulator bundles and their check."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ledger import exit_codes
from ledger.errors import LedgerError
from ledger.export.scope import UnknownScope, check_scope_id
from ledger.options import parse_instant_option
from ledger.store.files import make_private_dir

__all__ = ["add_export_commands"]


def cmd_export(args: argparse.Namespace) -> int:
    """Write a subject's, request's or complaint's bundle; record it as disclosed to the regulator.

    The bundle shows personal values in plaintext: the read is recorded first (a ``PersonalDataViewed``
    with ``--reason``, spec 8), and if it cannot be, nothing is written (exit 1).

    Prints where the bundle was written and a summary (counts, sizes, hashes), never a value. Exit 0; 1
    when the id names nothing the ledger holds, when the log does not extend a checkpoint signed before
    (nothing written), when the read cannot be recorded (nothing written), or when the ledger's chain
    verification failed (the bundle is written all the same: it shows the failure); 2 for usage errors.
    """
    from ledger.cli import _open  # the shared opener: settings, --clock
    from ledger.export.bundle import (
        LogNotExtended,
        build_export,
        read_checkpoint_file,
        record_export,
        write_bundle,
    )
    from ledger.log.issue import CheckpointRefused
    from ledger.read_audit import EXPORT_VIEWS, ReadNotRecorded, record_cli_read, required_reason

    kind, option, value = _target(args)
    scope_id = check_scope_id(option, value)
    reason = required_reason(args.reason, "export")
    time_from = parse_instant_option("--from", args.time_from) if args.time_from else None
    time_to = parse_instant_option("--to", args.time_to) if args.time_to else None
    if time_from and time_to and time_from > time_to:
        raise LedgerError("--from must not be later than --to")
    since = read_checkpoint_file(Path(args.since_checkpoint)) if args.since_checkpoint else None
    out = Path(args.out)
    if args.out.endswith(("/", os.sep)) and not out.exists():
        make_private_dir(out)  # "--out exports/" names a folder: the bundle gets its default name in it
    if not out.is_dir() and out.exists():
        raise LedgerError(f"--out {out} already exists; nothing was exported")
    if not out.is_dir() and not out.parent.is_dir():
        raise LedgerError(f"--out {out}: folder {out.parent} does not exist; nothing was exported")
    ledger = _open(args)
    try:
        try:
            doc = build_export(
                ledger,
                kind,
                scope_id,
                since_checkpoint=since,
                time_from=time_from,
                time_to=time_to,
                record_disclosure=False,
            )
        except (UnknownScope, CheckpointRefused, LogNotExtended) as exc:
            # Unknown id, or a log that does not extend what was signed before: nothing written.
            print(f"privacy-ledger: {exc}", file=sys.stderr)
            return exit_codes.FAILURE
        # The read is recorded before the bundle exists (as the staff service records its exports), on
        # the stream of the scope's subject (a subject's survivor; a request's or complaint's subject).
        case_id = scope_id if kind in ("request", "complaint") else None
        try:
            record_cli_read(ledger, doc["scope"]["subjects"][0], EXPORT_VIEWS[kind], reason, case_id=case_id)
        except ReadNotRecorded as exc:
            print(f"privacy-ledger: {exc}", file=sys.stderr)
            return exit_codes.FAILURE
        written = write_bundle(doc, out, ledger.signing_key(create=False))
        # Recorded once the bundle exists, so the bundle never holds its own disclosure.
        disclosure = (
            {"recorded": False, "reason": "--no-record"} if args.no_record else record_export(ledger, doc)
        )
    finally:
        ledger.close()
    _print(_summary(doc, written, disclosure))
    chain_valid = doc["footer"]["chain_verification"].get("valid") is True
    return exit_codes.OK if chain_valid else exit_codes.FAILURE


def _target(args: argparse.Namespace) -> tuple[str, str, str]:
    if args.access_pack:
        if args.subject is None:
            raise LedgerError("--access-pack needs --subject (an access pack is about one person)")
        return "access_pack", "--subject", str(args.subject)
    for kind in ("subject", "request", "complaint"):
        value = getattr(args, kind)
        if value is not None:
            return kind, f"--{kind}", str(value)
    raise LedgerError("give one of --subject, --request or --complaint")  # argparse requires one


def _summary(doc: dict[str, Any], written: Path, disclosure: dict[str, Any]) -> dict[str, Any]:
    """What the command prints: the bundle's place and shape, ids and counts only."""
    from ledger.export.bundle import checkpoint_size

    entries = doc["entries"]
    states: dict[str, int] = {}
    for e in entries:
        for bound in e["binding"].values():
            state = "bound" if "salt" in bound else str(bound.get("state"))
            states[state] = states.get(state, 0) + 1
    consistency = doc["consistency"]
    chain = doc["footer"]["chain_verification"]
    return {
        "bundle": str(written),
        "kind": doc["kind"],
        "id": doc["scope"]["id"],
        "subjects": len(doc["scope"]["subjects"]),
        "entries": len(entries),
        "personal_values": states,
        "alerts": len(doc["alerts"]),
        "tree_size": checkpoint_size(doc["checkpoint"]),
        "consistency_from_tree_size": checkpoint_size(consistency["from_checkpoint"])
        if consistency
        else None,
        "chain_valid": chain.get("valid"),
        "first_invalid_seq": chain.get("first_invalid_seq"),
        "export_sha256": doc["footer"]["export_sha256"],
        "verifier_key": doc["verifier_key"],
        "disclosure": disclosure,
        "next": f"privacy-ledger verify-export {written} --key VERIFIER-KEY (your own copy of the key above)",
    }


def cmd_verify_export(args: argparse.Namespace) -> int:
    """Run tools/verify_export.py on a bundle: exit 0 valid, 1 invalid, 2 unreadable bundle or key."""
    from ledger.export.verifier import load_standalone_verifier

    argv = [args.bundle, "--key", args.key]
    if args.previous_checkpoint:
        argv += ["--previous-checkpoint", args.previous_checkpoint]
    if args.json:
        argv.append("--json")
    code: int = load_standalone_verifier().main(argv)
    return code


def _print(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def add_export_commands(sub: Any) -> None:
    """Register ``export`` and ``verify-export``."""
    s = sub.add_parser(
        "export",
        help="write a regulator bundle: a subject's, request's or complaint's timeline, proved",
        description="Writes one zip (mode 0600): export.json (every stored record concerning the id, "
        "ordered by occurred_at then seq, personal values in plaintext or erased, each with its leaf and "
        "inclusion proof in a signed checkpoint), report.html, report.pdf, checkpoint.txt, verifier.key, "
        "README.txt. A subject's export covers its whole merge family. The read is first recorded in the "
        "ledger as a PersonalDataViewed (spec 8: the OS account's uid, role host_operator, --reason); the "
        "export is then recorded as a DataShared to the regulator (recipient GB-ICO, category regulator) "
        "unless --no-record. Prints a summary, never a value. Exit 0; 1 if the id is unknown, if the log "
        "does not extend a checkpoint signed before or the read cannot be recorded (nothing written), or "
        "if the ledger's chain verification failed (the bundle is written and shows it); 2 for usage "
        "errors.",
    )
    target = s.add_mutually_exclusive_group(required=True)
    target.add_argument("--subject", metavar="ID", help="a subject id (its whole merge family)")
    target.add_argument("--request", metavar="ID", help="a rights request id")
    target.add_argument("--complaint", metavar="ID", help="a complaint id")
    s.add_argument(
        "--access-pack",
        action="store_true",
        help="with --subject: the Art 15 access pack (spec 6.12) in the same bundle form",
    )
    s.add_argument("--from", dest="time_from", metavar="T", help="only events with occurred_at at or after T")
    s.add_argument("--to", dest="time_to", metavar="T", help="only events with occurred_at at or before T")
    s.add_argument(
        "--since-checkpoint",
        metavar="FILE",
        help="the checkpoint the regulator received last time (a checkpoint.txt or an earlier bundle): "
        "the bundle adds a consistency proof from it",
    )
    s.add_argument(
        "--out",
        metavar="PATH",
        default=".",
        help="the bundle file to write, or a folder for the default name <kind>-<id>-<tree size>.zip "
        "(default: the current folder); an existing file is never overwritten",
    )
    s.add_argument(
        "--no-record",
        action="store_true",
        help="do not record the export as a DataShared (the read itself is always recorded)",
    )
    from ledger.read_audit import add_reason_argument

    add_reason_argument(s)
    s.add_argument(
        "--clock", help="fixed ledger clock, an instant with offset (needs LEDGER_ALLOW_CLOCK_OVERRIDE=1)"
    )
    s.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "verify-export",
        help="verify a regulator bundle offline (runs tools/verify_export.py)",
        description="Checks the checkpoint signature against --key, every inclusion proof, every entry "
        "against its leaf, every disclosed value against its commitment, the consistency proof and the "
        "footer; names each failure. Opens no ledger. Exit 0 valid, 1 invalid, 2 unreadable bundle or key.",
    )
    s.add_argument("bundle", help="the bundle (.zip) or the folder it was unpacked into")
    s.add_argument(
        "--key", required=True, help="the ledger's verifier key (name+keyid+key), or a file holding it"
    )
    s.add_argument(
        "--previous-checkpoint",
        metavar="FILE",
        help="a checkpoint received before (checkpoint.txt or an earlier bundle) the log must still extend",
    )
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(func=cmd_verify_export)
