"""Which options each query takes, and the closed lists its filters accept (case-insensitively).

An option a view does not take, or a filter value outside its list, is a usage error that names what
would be accepted: a filter that silently matched nothing would read as "no open alerts".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ledger.domain.alert_model import SEVERITY
from projections.base import ProjectionError

__all__ = [
    "ALERT_CODES",
    "ALERT_STATUSES",
    "NOTICE_STATUSES",
    "PAGE_OPTIONS",
    "QUERY_OPTIONS",
    "RETENTION_STATUSES",
    "SEVERITIES",
    "QueryUsageError",
    "UnknownSubjectError",
    "accepted_values",
    "check_actor_ref",
    "check_query_options",
    "check_subject_id",
]


class QueryUsageError(ProjectionError):
    """A query asked with an option its view does not take, or a value outside the option's list."""


class UnknownSubjectError(ProjectionError):
    """``--subject`` names a subject the ledger holds no event for (exit 1, not an empty answer)."""


# Spec section 5 (alert status), 6.9 (notice status) and 6.7 (retention status), in spec order.
ALERT_STATUSES: Final = ("OPEN", "ACKNOWLEDGED", "RESOLVED", "RETRACTED")
NOTICE_STATUSES: Final = ("EXEMPT", "SATISFIED", "SATISFIED_LATE", "OVERDUE", "PENDING")
RETENTION_STATUSES: Final = ("ERASED", "HELD", "DEFERRED", "DUE", "RETAIN")
SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
ALERT_CODES: Final = tuple(sorted(SEVERITY))

# The options of `privacy-ledger query VIEW` besides --as-of, which every view takes.
# --limit, --cursor and --all: the page of a list (projections.paging); the API takes limit and cursor.
QUERY_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "requests": ("subject", "include_closed", "limit", "cursor", "all"),
    "complaints": ("subject", "limit", "cursor", "all"),
    "alerts": ("subject", "status", "code", "severity", "limit", "cursor", "all"),
    "disclosures": ("subject", "limit", "cursor", "all"),
    "ropa": (),
    "notices": ("subject", "status", "limit", "cursor", "all"),
    "retention": ("subject", "status", "limit", "cursor", "all"),
    "inventory": ("subject", "reason"),  # --reason: the read is recorded (spec 8; ledger.read_audit)
    "consent": ("subject",),
    "portability": ("subject",),
    "reads": ("subject", "actor", "limit", "cursor", "all"),
}
# The options that choose a page rather than the question (not part of a cursor's question).
PAGE_OPTIONS: Final = ("limit", "cursor", "all")

_CLOSED: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("alerts", "status"): ALERT_STATUSES,
    ("alerts", "code"): ALERT_CODES,
    ("alerts", "severity"): SEVERITIES,
    ("notices", "status"): NOTICE_STATUSES,
    ("retention", "status"): RETENTION_STATUSES,
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
# An actor_ref as the read audit records it: a staff user's id (a UUID) or ``cli:uid:N``.
_ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,63}", re.ASCII)


def accepted_values(view: str, option: str) -> tuple[str, ...] | None:
    """The closed list ``option`` of query ``view`` accepts (in any case), or None if it takes any value."""
    return _CLOSED.get((view, option))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_query_options(view: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options given (not None or False), checked for ``view`` and with closed-list values normalised.

    Raises ``QueryUsageError`` naming the options the view takes, or the values an option accepts.
    """
    taken = QUERY_OPTIONS.get(view)
    if taken is None:
        raise QueryUsageError(f"unknown view {view}; one of: {', '.join(QUERY_OPTIONS)}")
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in taken:
            accepted = ", ".join(_flag(o) for o in ("as_of", *taken))
            raise QueryUsageError(f"query {view} does not take {_flag(name)}; it takes: {accepted}")
        allowed = _CLOSED.get((view, name))
        if allowed is not None:
            by_fold = {a.casefold(): a for a in allowed}
            found = by_fold.get(str(value).strip().casefold())
            if found is None:
                raise QueryUsageError(
                    f"{_flag(name)} of query {view} must be one of: {', '.join(allowed)} (any case), "
                    f"got {value!r}"
                )
            value = found
        if name == "limit" and (type(value) is not int or value < 1):
            raise QueryUsageError(f"--limit must be a positive integer, got {value!r}")
        out[name] = value
    return out


def check_subject_id(subject: str) -> str:
    """A ``--subject`` value: a canonical lowercase UUID (upper case is folded). Never echoed if not one:
    someone may have typed a name or an email address there."""
    folded = subject.strip().lower()
    if not _UUID.fullmatch(folded):
        raise QueryUsageError(
            "--subject must be a subject id: a UUID such as 5f0c2b8e-8e0a-4b7b-a6d4-1f2e3d4c5b6a"
        )
    return folded


def check_actor_ref(actor: str) -> str:
    """A ``--actor`` value: an actor reference as the read audit records it (a staff user's id, or
    ``cli:uid:N``). Never echoed if not one: someone may have typed a name or an email address there."""
    stripped = actor.strip()
    if not _ACTOR.fullmatch(stripped):
        raise QueryUsageError(
            "--actor must be an actor reference as the read trail records it: a staff user's id (a UUID) "
            "or cli:uid:N"
        )
    return stripped
