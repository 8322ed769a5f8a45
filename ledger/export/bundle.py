"""Regulator bundles (spec 6.8, 6.12): the export document, its zip file, and the disclosure it records.

``build_export`` reads, as one snapshot at a signed checkpoint of tree size N, every stored record the
scope holds (seq <= N), discloses each personal value with the salt that binds it to the stored
commitment, and proves every record's leaf in the checkpoint's tree; with ``since_checkpoint`` it adds
a consistency proof from the checkpoint the regulator received last time. The views add the derived
annotations, the alerts (RETRACTED ones too), requests, holdings and recipients, and for an access pack
the spec 6.12 keys. The footer holds the ledger's full chain verification, ``generated_at`` and
``export_sha256`` (SHA-256 of the document with that field empty, ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``).

Reading plaintext is a privileged read. Nothing here logs or raises with a value: ids, counts, codes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import tempfile
import uuid
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.controller import load_controller
from ledger.domain.facts import Fact
from ledger.domain.timeutil import format_instant
from ledger.errors import LedgerError
from ledger.export.entries import Disclosure, disclose_payload, entry
from ledger.export.scope import KINDS, Scope, UnknownScope, entity_subject, family_records, select_entries
from ledger.export.views import ScopeViews, access_pack, anomalies_by_event
from ledger.log.checkpoint import Checkpoint, open_checkpoint
from ledger.log.errors import LogError
from ledger.log.note import SignerKey, sign_note
from ledger.log.storage import DbHashSource
from ledger.log.tree import consistency_proof, inclusion_proofs
from ledger.store.messages import Message

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger

__all__ = [
    "FORMAT",
    "ExportRefused",
    "LogNotExtended",
    "UnknownScope",
    "build_export",
    "bundle_name",
    "checkpoint_size",
    "export_sha256",
    "read_checkpoint_file",
    "record_export",
    "write_bundle",
]

FORMAT = "privacy-ledger-export/v1"
# The regulator an export is sent to, recorded as a DataShared (spec 6.8, 4.2).
REGULATOR = {
    "recipient_id": "GB-ICO",
    "name": "Information Commissioner's Office",
    "category": "regulator",
    "role": "public_authority",
    "country": "GB",
}
_RETRACTED = "RETRACTED"


class ExportRefused(LedgerError):
    """The export cannot be made as asked (a checkpoint that is not this log's, a bundle already there)."""


class LogNotExtended(LedgerError):
    """The log does not extend the checkpoint the regulator holds (``--since-checkpoint``): cut, rewritten."""


def export_sha256(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the document with ``footer.export_sha256`` set to ``""`` (reproducible with ``json``)."""
    blank = dict(doc)
    blank["footer"] = {**doc["footer"], "export_sha256": ""}
    text = json.dumps(blank, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_export(
    ledger: Ledger,
    kind: str,
    id: str,
    *,
    since_checkpoint: str | None = None,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    record_disclosure: bool = True,
) -> dict[str, Any]:
    """The export document of a subject, request or complaint (or a subject's access pack).

    ``since_checkpoint`` is a signed checkpoint note the regulator received before. With
    ``record_disclosure`` the export is then recorded as a ``DataShared`` to the regulator (after the
    document is complete, so it does not hold its own disclosure); ``doc["disclosure"]`` is not set
    (the document is what was sent); :func:`record_export` does the recording and says what it did.
    """
    if kind not in KINDS:
        raise LedgerError(f"unknown export kind {kind}; one of: {', '.join(KINDS)}")
    from projections.reading import ReadContext
    from projections.service import Projections

    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()  # alerts, annotations and rows as of everything stored
    checkpoint = ledger.checkpoint()  # signed now if the log grew since the last one
    key = ledger.verifier_key
    generated = ledger.clock()
    with ledger.store.read() as cur:
        rctx = ReadContext(
            store=ledger.store, keys=ledger.keys, ctx=projections.ctx, as_of=generated, cur=cur
        )
        scope = _scope(cur, rctx, kind, id, time_from, time_to)
        family = family_records(ledger.store, cur, scope.members, checkpoint.size)
        if kind in ("subject", "access_pack") and not family:
            raise UnknownScope(f"the ledger holds no event for subject {id}; nothing was exported")
        facts = [Fact.from_record(r.record, r.seq) for r in family]
        chosen = select_entries(scope, family, {f.seq: f.occurred_at for f in facts})
        anomalies = anomalies_by_event(cur, rctx, scope, facts, ledger.codes)
        memo: dict[str, AESGCM | None] = {}
        disclosed: list[Disclosure] = [disclose_payload(cur, ledger.keys, memo, r.record) for r in chosen]
        proofs = inclusion_proofs([r.seq - 1 for r in chosen], checkpoint.size, DbHashSource(cur))
        consistency = _consistency(cur, since_checkpoint, checkpoint.size, checkpoint.note, key, ledger)
    views = ScopeViews(projections, scope, generated)
    alerts = views.alerts(r.event_id for r in chosen)
    raised: dict[str, set[str]] = {}
    for alert in alerts:
        if alert["status"] != _RETRACTED:
            raised.setdefault(str(alert["triggering_event_id"]), set()).add(str(alert["code"]))
    entries = [
        entry(
            r,
            d,
            anomalies=anomalies.get(r.event_id, []),
            alert_codes=sorted(raised.get(r.event_id, ())),
            proof=proof,
        )
        for r, d, proof in zip(chosen, disclosed, proofs, strict=True)
    ]
    controller = load_controller().as_dict()
    doc: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "scope": {
            "id": scope.id,
            "subjects": list(scope.members),
            "from": format_instant(time_from) if time_from else None,
            "to": format_instant(time_to) if time_to else None,
        },
        "controller": controller,
        "entries": entries,
        "alerts": alerts,
        "requests": views.requests(entries),
        "complaints": views.complaints(),
    }
    if kind in ("subject", "access_pack"):
        doc["holdings"] = views.holdings()
        doc["recipients"] = views.recipients()
    if kind == "access_pack":
        doc["access_pack"] = access_pack(
            views, doc["holdings"], doc["recipients"], entries, ledger.codes, controller
        )
    doc.update(
        {
            "checkpoint": checkpoint.note,
            "verifier_key": key.text,
            "consistency": consistency,
            "footer": {
                "chain_verification": ledger.verify().as_dict(),
                "generated_at": format_instant(generated),
                "export_sha256": "",
            },
        }
    )
    doc["footer"]["export_sha256"] = export_sha256(doc)
    if record_disclosure:
        record_export(ledger, doc)
    return doc


def _scope(
    cur: Any, rctx: Any, kind: str, id: str, time_from: datetime | None, time_to: datetime | None
) -> Scope:
    if time_from is not None and time_to is not None and time_from > time_to:
        raise LedgerError("--from must not be later than --to")
    subject = id if kind in ("subject", "access_pack") else entity_subject(cur, kind, id)
    survivor = rctx.resolve(subject)
    return Scope(kind, id, survivor, tuple(rctx.members(survivor)), time_from, time_to)


def _consistency(
    cur: Any, since: str | None, size: int, note: str, key: Any, ledger: Ledger
) -> dict[str, Any] | None:
    """The consistency proof from the checkpoint the regulator holds to the export's, or None."""
    if since is None:
        return None
    try:
        old = open_checkpoint(since, key, origin=ledger.settings.log_origin)
    except LogError as exc:
        raise ExportRefused(
            f"--since-checkpoint is not a checkpoint of {ledger.settings.log_origin} signed by this "
            f"ledger's key ({exc})"
        ) from None
    if old.size > size:
        raise LogNotExtended(
            f"--since-checkpoint covers {old.size} records but the log holds {size}: the log lost its "
            "tail or is not the one that checkpoint was issued by (run `privacy-ledger verify`)"
        )
    proof = consistency_proof(old.size, size, DbHashSource(cur)) if 0 < old.size < size else []
    return {"from_checkpoint": since, "proof": [base64.b64encode(h).decode("ascii") for h in proof]}


def read_checkpoint_file(path: Path) -> str:
    """A signed checkpoint from a file: a checkpoint note, or an earlier bundle (its ``checkpoint.txt``)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.read("checkpoint.txt").decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise ExportRefused(
            f"cannot read a checkpoint from --since-checkpoint {path}: {type(exc).__name__}"
        ) from None


# -- recording the disclosure -------------------------------------------------------------------------


def disclosed_categories(doc: Mapping[str, Any]) -> list[str]:
    """The categories of the personal values the document shows in plaintext (entries and holdings)."""
    found: set[str] = set()
    for e in doc.get("entries", []):
        for pointer, bound in e.get("binding", {}).items():
            if "salt" in bound or bound.get("state") == "not_bound":
                found.add(_category_at(e, pointer))
    holdings = doc.get("holdings") or {}
    found |= {i["category"] for i in holdings.get("items", []) if i.get("value_state") == "available"}
    found.discard("")
    return sorted(found)


def _category_at(e: Mapping[str, Any], pointer: str) -> str:
    """The key category of the personal field at ``pointer``, from the stored envelope in the leaf."""
    node: Any = json.loads(base64.b64decode(e["leaf"]))
    for step in pointer.strip("/").split("/"):
        node = node[int(step)] if isinstance(node, list) else node.get(step)
    return str(node.get("cat", "")) if isinstance(node, dict) else ""


def record_export(ledger: Ledger, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Record the export as a ``DataShared`` to the regulator (spec 6.8), through the append path.

    Its categories are those of the values the bundle shows in plaintext; a bundle that shows none
    (everything erased) discloses no category, and nothing is recorded.
    """
    categories = disclosed_categories(doc)
    subject = doc["scope"]["subjects"][0]
    if not categories:
        return {"recorded": False, "reason": "the bundle shows no personal value in plaintext"}
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "DataShared",
        "schema_version": 1,
        "occurred_at": format_instant(ledger.clock()),
        "producer": {"system": "ledger.export"},
        "subject_id": subject,
        "actor_ref": "cli",
        "correlation_id": f"export-sha256:{doc['footer']['export_sha256']}",
        "payload": {
            "recipient": dict(REGULATOR),
            "categories": categories,
            "purpose": "legal_regulatory_compliance",
            "lawful_basis": "legal_obligation",
        },
    }
    result = ledger.ingestor.ingest_batch([Message("cli:export", None, None, event=event)])
    if result.dead_letters:
        letter = result.dead_letters[0]
        raise LedgerError(
            f"the export's DataShared was rejected ({letter.error_code} at {letter.error_path}); "
            "the bundle was written but its disclosure is not recorded"
        )
    return {"recorded": True, "event_id": event["event_id"], "categories": categories, "recipient": "GB-ICO"}


# -- the bundle file ------------------------------------------------------------------------------------


def checkpoint_size(note: str) -> int:
    """The tree size a signed checkpoint note states (its signature is not checked here)."""
    return Checkpoint.parse(note[: note.rfind("\n\n") + 1]).size


def bundle_name(doc: Mapping[str, Any]) -> str:
    """The default file name: ``<kind>-<id>-<tree size>.zip``."""
    return f"{doc['kind']}-{doc['scope']['id']}-{checkpoint_size(str(doc['checkpoint']))}.zip"


README = """\
Privacy Ledger export bundle ({kind} {id})

export.json     the export: every record, its leaf and inclusion proof, the signed checkpoint
report.html     the same content to read (also report.pdf); a rendering of export.json
checkpoint.txt  the signed checkpoint (tree size {size}) every inclusion proof leads to
verifier.key    the log's verifier key as the ledger named it: check it against the copy you hold
manifest.sig    every other file's SHA-256 (sha256sum form), in a note signed by the log's key

Verify it (Python 3 and the `cryptography` package; verify_export.py is one file, from the ledger's
source, tools/verify_export.py):

    python3 verify_export.py {name} --key YOUR-COPY-OF-verifier.key

With a checkpoint received before:  --previous-checkpoint EARLIER-BUNDLE.zip

Recompute export_sha256 (inside the unpacked bundle):

    python3 -c "import hashlib, json; d = json.load(open('export.json', encoding='utf-8')); \\
d['footer']['export_sha256'] = ''; print(hashlib.sha256(json.dumps(d, sort_keys=True, \\
separators=(',', ':'), ensure_ascii=False).encode()).hexdigest())"

The export contains personal data: keep it accordingly.
"""


MANIFEST = "manifest.sig"
MANIFEST_HEADER = "privacy-ledger export manifest v1"


def signed_manifest(members: Mapping[str, bytes], signer: SignerKey) -> bytes:
    """A C2SP signed note, by the log's key, listing every member's SHA-256 (``sha256sum`` lines).

    It binds the whole bundle to the ledger, the parts a proof cannot reach included (the sections beside
    the entries, the HTML and PDF reports): ``export_sha256`` alone anyone could recompute after an edit.
    """
    lines = [MANIFEST_HEADER]
    lines += [f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in sorted(members.items())]
    return sign_note("\n".join(lines) + "\n", [signer]).encode("utf-8")


def write_bundle(doc: Mapping[str, Any], path: Path, signer: SignerKey) -> Path:
    """Write the bundle zip (mode 0600): export.json, report.html, report.pdf, checkpoint.txt,
    verifier.key, README.txt and manifest.sig (every member's SHA-256, signed by ``signer``, the log's
    key). ``path`` may be a folder (the default name is used inside it). An existing file is never
    overwritten. Returns the file written."""
    from ledger.export.report import render_html, render_pdf

    target = path / bundle_name(doc) if path.is_dir() else path
    if target.exists():
        raise ExportRefused(f"--out {target} already exists; nothing was written")
    if not target.parent.is_dir():
        raise ExportRefused(f"--out {target}: folder {target.parent} does not exist; nothing was written")
    size = checkpoint_size(str(doc["checkpoint"]))
    members = {
        "export.json": json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"),
        "report.html": render_html(copy.deepcopy(dict(doc))).encode("utf-8"),
        "report.pdf": render_pdf(copy.deepcopy(dict(doc))),
        "checkpoint.txt": str(doc["checkpoint"]).encode("utf-8"),
        "verifier.key": (str(doc["verifier_key"]) + "\n").encode("utf-8"),
        "README.txt": README.format(
            kind=doc["kind"], id=doc["scope"]["id"], size=size, name=target.name
        ).encode("utf-8"),
    }
    members[MANIFEST] = signed_manifest(members, signer)
    stamp = _zip_time(str(doc["footer"]["generated_at"]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, data)
    fd, temp = tempfile.mkstemp(prefix=".bundle-", dir=target.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, target)  # fails if the name was taken meanwhile: never overwrites
    except FileExistsError:
        raise ExportRefused(f"--out {target} already exists; nothing was written") from None
    except OSError as exc:
        raise ExportRefused(f"cannot write --out {target}: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.unlink(temp)
    return target


def _zip_time(generated_at: str) -> tuple[int, int, int, int, int, int]:
    """The members' time stamp: the export's ``generated_at`` (UTC), so equal documents zip alike."""
    try:
        t = datetime.strptime(generated_at[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)
