"""Record of processing activities (spec 6.6, UK GDPR Art 30): one row per purpose, at any ``as_of``.

The view keeps one row per counted entry (each ``DataCollected`` purpose entry, each ``DataUsed``,
``DataShared`` and ``TransferredInternationally``) with its categories in a side table, the subjects'
role changes, and the retention assignments. ``ropa_report`` aggregates them with SQL at the asked
instant; roles are folded per subject resolved through merges as they stand now. The header comes from
configuration (``schemas/controller.json``), the DPV terms from ``schemas/dpv-mapping.json``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Final, NamedTuple

from ledger._data import data_path
from ledger.controller import ControllerIdentity, load_controller
from ledger.domain.facts import Fact
from ledger.domain.transfers import classify_transfer, is_third_country, ropa_mechanism
from ledger.store.dialect import Dialect, SqlCursor
from projections.base import StoredFact, utc
from projections.context import ProjectionContext
from projections.reading import ReadContext

__all__ = [
    "COUNTED_EVENT_TYPES",
    "DEFAULT_DPV_MAPPING_PATH",
    "Entry",
    "RopaView",
    "counted_entries",
    "dpv_purposes",
    "ropa_report",
]

DEFAULT_DPV_MAPPING_PATH = data_path("schemas", "dpv-mapping.json")
COUNTED_EVENT_TYPES: Final = ("DataCollected", "DataUsed", "DataShared", "TransferredInternationally")
_DISCLOSURES: Final = ("DataShared", "TransferredInternationally")
_ALL: Final = "*"
# The columns of each table, in the order the rows are built.
_COLUMNS: Final = {
    "view_ropa_entries": (
        *("event_id", "entry_no", "seq", "event_type", "occurred_at", "subject_id", "purpose"),
        *("lawful_basis", "recipient_category", "recipient_country", "transfer_classification"),
        "ropa_mechanism",
    ),
    "view_ropa_categories": ("event_id", "entry_no", "category", "purpose", "occurred_at"),
    "view_ropa_roles": ("event_id", "role", "seq", "occurred_at", "subject_id", "change"),
    "view_ropa_retention": (
        *("event_id", "category", "seq", "occurred_at", "subject_id", "rule_id", "trigger_date"),
        "retain_until",
    ),
}


class RopaView:
    """Counted processing entries, their categories, role changes and retention assignments."""

    name: ClassVar[str] = "ropa"
    tables: ClassVar[tuple[str, ...]] = (
        "view_ropa_entries",
        "view_ropa_categories",
        "view_ropa_roles",
        "view_ropa_retention",
    )

    def create_statements(self, d: Dialect) -> list[str]:
        """The four tables, each with an ``occurred_at`` the as-of queries filter on."""
        big = d.bigint
        entries, categories, roles, retention = (d.table(t) for t in self.tables)
        return [
            f"CREATE TABLE IF NOT EXISTS {entries} (event_id TEXT NOT NULL, entry_no INTEGER NOT NULL, "
            f"seq {big} NOT NULL, event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, subject_id TEXT, "
            "purpose TEXT NOT NULL, lawful_basis TEXT NOT NULL, recipient_category TEXT, "
            "recipient_country TEXT, transfer_classification TEXT, ropa_mechanism TEXT, "
            "PRIMARY KEY (event_id, entry_no))",
            f"CREATE INDEX IF NOT EXISTS view_ropa_entries_occurred_idx ON {entries} (occurred_at)",
            f"CREATE TABLE IF NOT EXISTS {categories} (event_id TEXT NOT NULL, entry_no INTEGER NOT NULL, "
            "category TEXT NOT NULL, purpose TEXT NOT NULL, occurred_at TEXT NOT NULL, "
            "PRIMARY KEY (event_id, entry_no, category))",
            f"CREATE INDEX IF NOT EXISTS view_ropa_categories_occurred_idx ON {categories} (occurred_at)",
            f"CREATE TABLE IF NOT EXISTS {roles} (event_id TEXT NOT NULL, role TEXT NOT NULL, "
            f"seq {big} NOT NULL, occurred_at TEXT NOT NULL, subject_id TEXT NOT NULL, "
            "change TEXT NOT NULL, PRIMARY KEY (event_id, role))",
            f"CREATE TABLE IF NOT EXISTS {retention} (event_id TEXT NOT NULL, category TEXT NOT NULL, "
            f"seq {big} NOT NULL, occurred_at TEXT NOT NULL, subject_id TEXT, rule_id TEXT NOT NULL, "
            "trigger_date TEXT, retain_until TEXT, PRIMARY KEY (event_id, category))",
        ]

    def reset(self) -> None:
        """No in-memory state."""

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: ProjectionContext) -> None:
        """Keep the counted entries, role changes and retention assignments of the facts (bulk inserts)."""
        rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _COLUMNS}
        for stored in facts:
            self._rows(stored.fact, ctx, rows)
        for table, kept in rows.items():
            cur.insert_rows(table, _COLUMNS[table], kept)

    def _rows(self, fact: Fact, ctx: ProjectionContext, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        kind = fact.event_type
        if kind in COUNTED_EVENT_TYPES:
            self._entries(fact, ctx, rows["view_ropa_entries"], rows["view_ropa_categories"])
        elif kind in ("SubjectRegistered", "SubjectRoleChanged") and fact.subject_id is not None:
            p = fact.payload
            if kind == "SubjectRegistered":
                changes = [(role, "added") for role in sorted(_codes(p.get("roles")))]
            else:
                role, change = _text(p.get("role")), _text(p.get("change"))
                changes = [(role, change)] if role is not None and change is not None else []
            rows["view_ropa_roles"].extend(
                (fact.event_id, role, fact.seq, utc(fact.occurred_at), fact.subject_id, change)
                for role, change in changes
            )
        elif kind == "RetentionScheduleAssigned":
            p = fact.payload
            rule_id = _text(p.get("rule_id"))
            if rule_id is None:
                return
            rows["view_ropa_retention"].extend(
                (
                    fact.event_id,
                    category,
                    fact.seq,
                    utc(fact.occurred_at),
                    fact.subject_id,
                    rule_id,
                    _text(p.get("trigger_date")),
                    _text(p.get("retain_until")),
                )
                for category in sorted(_codes(p.get("categories")))
            )

    def _entries(
        self,
        fact: Fact,
        ctx: ProjectionContext,
        entries: list[tuple[Any, ...]],
        category_rows: list[tuple[Any, ...]],
    ) -> None:
        occurred = utc(fact.occurred_at)
        for no, e in enumerate(counted_entries(fact, ctx)):
            entries.append(
                (
                    *(fact.event_id, no, fact.seq, fact.event_type, occurred, fact.subject_id),
                    *(e.purpose, e.lawful_basis, e.recipient_category, e.recipient_country),
                    *(e.transfer_classification, e.ropa_mechanism),
                )
            )
            category_rows.extend((fact.event_id, no, c, e.purpose, occurred) for c in e.categories)


class Entry(NamedTuple):
    """One counted entry of spec 6.6; the disclosure fields are None for collection and use."""

    purpose: str
    lawful_basis: str
    categories: tuple[str, ...]
    recipient_category: str | None = None
    recipient_country: str | None = None
    transfer_classification: str | None = None
    ropa_mechanism: str | None = None  # only for third-country disclosures


def counted_entries(fact: Fact, ctx: ProjectionContext) -> list[Entry]:
    """The 6.6 entries of one event: one per DataCollected purpose entry, else one per event."""
    p = fact.payload
    if fact.event_type == "DataCollected":
        items = p.get("data_items")
        collected = tuple(
            sorted(
                {
                    str(i["category"])
                    for i in (items if isinstance(items, list) else ())
                    if isinstance(i, Mapping) and isinstance(i.get("category"), str)
                }
            )
        )
        purposes = p.get("purposes")
        out = []
        for entry in purposes if isinstance(purposes, list) else ():
            if not isinstance(entry, Mapping):
                continue
            purpose, basis = _text(entry.get("purpose")), _text(entry.get("lawful_basis"))
            if purpose is not None and basis is not None:
                out.append(Entry(purpose, basis, collected))
        return out
    purpose, basis = _text(p.get("purpose")), _text(p.get("lawful_basis"))
    if purpose is None or basis is None:
        return []
    categories = tuple(sorted(_codes(p.get("categories"))))
    if fact.event_type not in _DISCLOSURES:
        return [Entry(purpose, basis, categories)]
    raw = p.get("recipient")
    recipient: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    mechanism = _text(p.get("transfer_mechanism"))
    classification = classify_transfer(recipient, mechanism, ctx.codes)
    third = ropa_mechanism(classification, mechanism) if is_third_country(classification) else None
    return [
        Entry(
            purpose,
            basis,
            categories,
            _text(recipient.get("category")),
            _text(recipient.get("country")),
            classification,
            third,
        )
    ]


# -- query -------------------------------------------------------------------------------------


def ropa_report(
    cur: SqlCursor,
    rctx: ReadContext,
    *,
    controller: ControllerIdentity | None = None,
    dpv: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The Article 30 summary at ``rctx.as_of``: the controller header and one row per purpose code."""
    as_of = utc(rctx.as_of)
    codes = rctx.ctx.codes
    terms = dpv if dpv is not None else dpv_purposes()
    header = (controller or load_controller()).as_dict()

    bases: dict[str, Counter[str]] = defaultdict(Counter)
    for r in cur.execute(
        "SELECT purpose, lawful_basis, COUNT(*) AS n FROM {t:view_ropa_entries} WHERE occurred_at <= ? "
        "GROUP BY purpose, lawful_basis",
        (as_of,),
    ).all():
        bases[str(r["purpose"])][str(r["lawful_basis"])] += int(r["n"])
    categories = _pairs(
        cur,
        "SELECT DISTINCT purpose, category AS v FROM {t:view_ropa_categories} WHERE occurred_at <= ?",
        as_of,
    )
    recipients = _pairs(
        cur,
        "SELECT DISTINCT purpose, recipient_category AS v FROM {t:view_ropa_entries} "
        "WHERE occurred_at <= ? AND recipient_category IS NOT NULL",
        as_of,
    )
    third: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in cur.execute(
        "SELECT DISTINCT purpose, recipient_country, ropa_mechanism FROM {t:view_ropa_entries} "
        "WHERE occurred_at <= ? AND ropa_mechanism IS NOT NULL",
        (as_of,),
    ).all():
        third[str(r["purpose"])][str(r["recipient_country"])].add(str(r["ropa_mechanism"]))
    subjects = _pairs(
        cur,
        "SELECT DISTINCT purpose, subject_id AS v FROM {t:view_ropa_entries} "
        "WHERE occurred_at <= ? AND subject_id IS NOT NULL",
        as_of,
    )
    roles = roles_at(cur, rctx)
    retention = _pairs(
        cur,
        "SELECT DISTINCT rule_id AS purpose, category AS v FROM {t:view_ropa_retention} "
        "WHERE occurred_at <= ?",
        as_of,
    )

    rows = []
    for purpose in sorted(codes.purposes):
        registered = codes.purposes[purpose].registered_bases
        observed = bases.get(purpose, Counter())
        seen = categories.get(purpose, set())
        observed_roles: set[str] = set()
        for subject in subjects.get(purpose, ()):
            observed_roles |= roles.get(rctx.resolve(subject), set())
        rows.append(
            {
                "purpose": purpose,
                "dpv_purpose": list(terms.get(purpose, ())),
                "registered_bases": sorted(registered),
                "observed_bases": {basis: observed[basis] for basis in sorted(observed)},
                "undeclared_bases_observed": sorted(set(observed) - registered),
                "data_subject_roles_observed": sorted(observed_roles),
                "data_categories_observed": sorted(seen),
                "special_category_observed": any(codes.is_special(c) for c in seen),
                "recipient_categories_observed": sorted(recipients.get(purpose, ())),
                "third_countries": [
                    {"country": country, "mechanisms": sorted(mechanisms)}
                    for country, mechanisms in sorted(third.get(purpose, {}).items())
                ],
                "retention_rules": _retention_rules(retention, seen),
            }
        )
    return {"controller": header, "as_of": as_of, "purposes": rows}


def roles_at(cur: SqlCursor, rctx: ReadContext) -> dict[str, set[str]]:
    """Each resolved subject's roles at ``rctx.as_of``: registrations and changes in business order."""
    rows = cur.execute(
        "SELECT subject_id, role, change, occurred_at, seq FROM {t:view_ropa_roles} WHERE occurred_at <= ?",
        (utc(rctx.as_of),),
    ).all()
    rows.sort(key=lambda r: (str(r["occurred_at"]), int(r["seq"]), str(r["role"])))
    out: dict[str, set[str]] = defaultdict(set)
    memo: dict[str, str] = {}
    for r in rows:
        subject = str(r["subject_id"])
        if subject not in memo:
            memo[subject] = rctx.resolve(subject)
        held = out[memo[subject]]
        if r["change"] == "removed":
            held.discard(str(r["role"]))
        else:
            held.add(str(r["role"]))
    return dict(out)


def dpv_purposes(path: Path | None = None) -> Mapping[str, tuple[str, ...]]:
    """The DPV purpose terms (CURIEs) of each purpose code, from ``schemas/dpv-mapping.json``."""
    return _dpv((path or DEFAULT_DPV_MAPPING_PATH).resolve())


@lru_cache(maxsize=4)
def _dpv(path: Path) -> Mapping[str, tuple[str, ...]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    purposes = data["mappings"]["purpose"]
    return {code: tuple(str(t) for t in row["terms"]) for code, row in purposes.items()}


def _retention_rules(retention: Mapping[str, set[str]], seen: set[str]) -> list[dict[str, Any]]:
    """Rules assigned to any category seen under the purpose, with those categories, by rule id."""
    out = []
    for rule_id in sorted(retention):
        assigned = retention[rule_id]
        matched = set(seen) if _ALL in assigned else assigned & seen
        if matched:
            out.append({"rule_id": rule_id, "categories": sorted(matched)})
    return out


def _pairs(cur: SqlCursor, sql: str, as_of: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for r in cur.execute(sql, (as_of,)).all():
        out[str(r["purpose"])].add(str(r["v"]))
    return out


def _codes(raw: Any) -> frozenset[str]:
    return frozenset(x for x in raw if isinstance(x, str)) if isinstance(raw, list) else frozenset()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
