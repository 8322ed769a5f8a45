"""The report's framing: cover facts, verification result, summary, Art 15 pack and how to verify."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from ledger.export.report_doc import ExportDoc, as_list, as_map
from ledger.export.report_held import generic_blocks
from ledger.export.report_model import (
    Block,
    Cell,
    Code,
    Facts,
    Kind,
    Line,
    Notice,
    Para,
    Section,
    Subheading,
    Table,
    badge,
    cell,
    line,
    muted,
    strong,
    text,
)
from ledger.export.report_sections import request_outcome
from ledger.export.wording import KIND_WORDS, instant_texts

__all__ = ["access_pack_section", "cover_facts", "summary_section", "verdict", "verify_section"]

# Spec 6.12 keys, in the order the report shows them, with their headings.
ACCESS_PACK_PARTS: Final = (
    ("purposes", "Why the data is used (purposes)"),
    ("categories", "What kinds of data are held (categories)"),
    ("recipients", "Who it is shared with (recipients)"),
    ("recipient_categories", "Kinds of recipient"),
    ("retention", "How long it is kept (retention)"),
    ("sources", "Where the data came from (sources)"),
    ("automated_decisions", "Automated decision-making"),
    ("transfers", "Transfers outside the UK and their safeguards"),
    ("rights", "The rights available"),
    ("right_to_complain", "The right to complain to the ICO"),
)
ICO_COMPLAINT: Final = (
    "You can complain to the Information Commissioner's Office (ICO), the UK's data protection regulator: "
    "ico.org.uk/make-a-complaint, telephone 0303 123 1113."
)
_VERIFY_SCRIPT: Final = "verify_export.py"
_HASH_COMMAND: Final = (
    "python3 -c \"import hashlib, json; d = json.load(open('export.json', encoding='utf-8')); "
    "d['footer']['export_sha256'] = ''; print(hashlib.sha256(json.dumps(d, sort_keys=True, "
    "separators=(',', ':'), ensure_ascii=False).encode()).hexdigest())\""
)
CHECKS: Final = (
    (
        "Checkpoint signature",
        "The checkpoint (tree size and root hash) was signed with the ledger's key in verifier.key: "
        "it is the "
        "ledger's own statement of everything it had recorded at that size.",
    ),
    (
        "Inclusion proofs",
        "Each entry's record is in the tree that checkpoint commits to. The ledger cannot show a record here "
        "that it did not log, nor one it logged differently.",
    ),
    (
        "Entries match their records",
        "Every non-personal field equals the logged record. Each personal value shown is bound to the "
        "encrypted value logged (SHA-256 of a random salt and the value). ERASED values cannot be shown: "
        "their keys are destroyed, and the bundle holds the entry that destroyed each. Values marked "
        "'not bound' were logged before binding existed and are not covered by this check.",
    ),
    (
        "Hash chain",
        "Each record's chain hash is the SHA-256 of its logged bytes, and each links to the one before it, "
        "so no record can be removed, reordered or edited without detection. Entries are in time order.",
    ),
    (
        "Consistency proof",
        "When present: the current checkpoint extends an earlier one without rewriting anything recorded "
        "before it.",
    ),
    (
        "Document hash",
        "The export SHA-256 on the cover is recomputed over export.json: the document is exactly as issued.",
    ),
)


def cover_facts(doc: ExportDoc) -> Facts:
    """Controller, export kind and id, scope, generation time, checkpoint and document hash."""
    controller = doc.controller
    contact = as_map(controller.get("contact"))
    reach = [str(contact[k]) for k in ("email", "phone", "postal_address") if contact.get(k)]
    rows: list[tuple[str, Cell]] = [
        ("Controller", cell(strong(doc.controller_name), *(muted(r) for r in reach))),
        ("Export", cell(strong(KIND_WORDS.get(doc.kind, doc.kind)), line(muted("id "), text(doc.scope_id)))),
    ]
    subjects = [str(s) for s in as_list(doc.scope.get("subjects"))]
    if subjects:
        rows.append(("Subjects covered", cell(*subjects)))
    start, end = doc.scope.get("from"), doc.scope.get("to")
    period = "every recorded event"
    if start or end:
        since = instant_texts(start)[0] if start else "the start"
        period = f"from {since} to {instant_texts(end)[0] if end else 'now'}"
    rows.append(("Period", cell(period)))
    local, utc = instant_texts(doc.generated_at)
    rows.append(("Generated", cell(local, muted(utc))))
    cp = doc.checkpoint
    if cp is None:
        rows.append(("Checkpoint", cell(line(badge("no checkpoint", Kind.BAD)))))
    else:
        rows.append(
            (
                "Checkpoint",
                cell(
                    line(text(f"tree size {cp.size}")),
                    line(muted("origin "), text(cp.origin)),
                    line(muted("root hash "), text(cp.root_hash)),
                ),
            )
        )
    rows.append(("Export SHA-256", cell(str(doc.footer.get("export_sha256") or "not set"))))
    return Facts(tuple(rows))


def verdict(doc: ExportDoc) -> Notice:
    """The ledger's integrity check at export time, in one sentence, with its facts."""
    chain = doc.chain
    valid, length = chain.get("valid"), chain.get("length")
    facts = line(
        muted("valid "),
        text(_yes_no(valid)),
        muted(" · records checked "),
        text(str(length)),
        muted(" · first invalid seq "),
        text(str(chain.get("first_invalid_seq") or "none")),
    )
    head = line(muted("head hash "), text(str(chain.get("head_hash", "?"))))
    after = line(
        muted("To check this bundle independently, follow “How to verify” at the end of this report.")
    )
    if valid is True:
        sentence = (
            "When this export was made, the ledger re-checked its whole integrity chain: "
            f"all {length} records "
            "are present, unaltered and correctly linked."
        )
        return Notice(Kind.GOOD, "Integrity verified", (line(strong(sentence)), facts, head, after))
    if valid is False:
        sentence = (
            "When this export was made, the ledger's integrity check FAILED: the first record that does not "
            f"verify is seq {chain.get('first_invalid_seq')}. Records from there on cannot be relied on."
        )
        return Notice(Kind.BAD, "Integrity check failed", (line(strong(sentence)), facts, head, after))
    sentence = "This export carries no integrity result: treat it as unverified."
    return Notice(Kind.BAD, "Integrity not checked", (line(strong(sentence)), after))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _yes_no(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "unknown"


def summary_section(doc: ExportDoc) -> Section:
    """Counts: events, personal values, erasures, requests met or missed, alerts, disclosures."""
    types = Counter(str(e.get("event_type")) for e in doc.entries)
    states = Counter(
        str(as_map(b).get("state", "bound")) for e in doc.entries for b in as_map(e.get("binding")).values()
    )
    days = [instant_texts(e.get("occurred_at"))[0] for e in doc.entries[:1] + doc.entries[-1:]]
    events = _count(len(doc.entries), "event") + (f", from {days[0]} to {days[-1]}" if days else "")
    shown = sum(n for s, n in states.items() if s != "erased")
    values = line(
        text(f"{shown} shown"),
        muted(f" (of which {states['not_bound']} not bound)" if states["not_bound"] else ""),
        text(", "),
        badge(f"{states['erased']} erased", Kind.ERASED) if states["erased"] else text("none erased"),
    )
    erasures = (
        f"{_count(types['DataErased'], 'erasure instruction')}, "
        f"{_count(types['KeyShredded'], 'key')} destroyed, "
        f"{types['ErasureDeferred']} deferred by a legal hold"
    )
    outcomes = Counter(request_outcome(r)[0] for r in doc.requests)
    requests = line(
        text(f"{_count(len(doc.requests), 'request')}: "),
        badge(f"{outcomes['met']} met", Kind.GOOD),
        text(" "),
        badge(f"{outcomes['missed']} missed", Kind.BAD if outcomes["missed"] else Kind.QUIET),
        text(" "),
        badge(f"{outcomes['open']} open", Kind.INFO if outcomes["open"] else Kind.QUIET),
    )
    status = Counter(str(a.get("status", "?")).upper() for a in doc.alerts)
    alerts = line(
        text(f"{_count(len(doc.alerts), 'alert')}: "),
        badge(f"{status['OPEN']} open", Kind.BAD if status["OPEN"] else Kind.QUIET),
        text(
            f" {status['ACKNOWLEDGED']} acknowledged, {status['RESOLVED']} resolved, "
            f"{status['RETRACTED']} retracted"
        ),
    )
    abroad = [r for r in doc.recipients if r.get("recipient_country") not in (None, "GB")]
    unsafe = [r for r in doc.recipients if r.get("transfer_classification") == "no_safeguard"]
    names = {str(r.get("recipient_id")) for r in doc.recipients}
    shares = line(
        text(
            f"{_count(len(doc.recipients), 'disclosure')} to {_count(len(names), 'recipient')}, "
            f"{len(abroad)} outside the UK"
        ),
        *((text(", "), badge(f"{len(unsafe)} without a safeguard", Kind.BAD)) if unsafe else ()),
    )
    anomalous = sum(1 for e in doc.entries if as_list(e.get("anomalies")))
    facts = Facts(
        (
            ("Events", cell(events)),
            ("Personal values", cell(values)),
            ("Erasures", cell(erasures)),
            ("Rights requests", cell(requests)),
            ("Alerts", cell(alerts)),
            ("Disclosures", cell(shares)),
            ("Anomalies", cell(f"{_count(anomalous, 'event')} with an anomaly note")),
        )
    )
    return Section("summary", "Summary", (facts,))


def access_pack_section(doc: ExportDoc) -> Section:
    """The Article 15(1)-(2) supplementary information (spec 6.12)."""
    pack = as_map(doc.raw.get("access_pack"))
    blocks: list[Block] = [
        Para(
            line(
                "The information Article 15 of the UK GDPR entitles the person to, "
                "besides a copy of the data "
                "(see “What is held” and the timeline)."
            )
        )
    ]
    for key, title in ACCESS_PACK_PARTS:
        blocks.append(Subheading(title))
        value = pack.get(key)
        if key == "right_to_complain" and not value:
            blocks.append(Para(line(ICO_COMPLAINT)))
            continue
        blocks += generic_blocks(value, title, doc.seq_of)
    return Section("access", "Your information under Article 15", tuple(blocks))


def verify_section(doc: ExportDoc) -> Section:
    """The two commands that check the bundle, and what each check means."""
    bundle = doc.bundle_name()
    blocks: list[Block] = [
        Para(
            line(
                "This report restates export.json. Nobody needs to trust the report or the ledger: two "
                "commands, run anywhere with Python 3, check the bundle against the ledger's signed "
                "checkpoint. Use your own copy of the ledger's verifier key where you have one."
            )
        ),
        Subheading("1. Check the whole bundle"),
        Code(f"python3 {_VERIFY_SCRIPT} {bundle} --key verifier.key"),
        Para(
            line(
                f"Runs every check below and prints the result (exit status 0: valid). {_VERIFY_SCRIPT} "
                "is the ledger's standalone verifier (see README.txt in the bundle); it needs only Python "
                "and the cryptography package, and also accepts the folder the bundle was unpacked into."
            )
        ),
        Subheading("2. Recompute the document hash (inside the unpacked bundle)"),
        Code(_HASH_COMMAND),
        Para(line("The printed value must equal the export SHA-256 on the cover.")),
        Subheading("What each check means"),
        Table(
            "Verification checks",
            ("Check", "What it means"),
            tuple((cell(strong(name)), cell(meaning)) for name, meaning in CHECKS),
            (0.25, 0.75),
        ),
    ]
    return Section("verify", "How to verify", tuple(blocks))


def intro_lines(doc: ExportDoc) -> tuple[Line, ...]:
    """The opening sentence under the title."""
    return (
        line(
            f"This report sets out what {doc.controller_name} has recorded about the scope below: "
            "what it holds, "
            "who received it, rights requests and their deadlines, compliance alerts, erasures and every "
            "recorded event. It contains personal data: handle it accordingly."
        ),
    )
