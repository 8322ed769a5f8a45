"""Checked request parameters: ids, instants, the CLI's closed filter lists, page size, the read reason.

The closed lists come from ``projections.query_options`` (the same the CLI checks); a value outside
one is a 422 naming the accepted values, never the value sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request

from ledger.errors import LedgerError
from ledger.options import parse_instant_option
from ledger.web.problems import Problem
from ledger.web.roles import ReadReason
from projections.query_options import accepted_values

__all__ = [
    "AsOf",
    "CaseId",
    "check_code",
    "check_uuid",
    "invalid",
    "parse_as_of",
    "stated_reason",
]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
UUID_EXAMPLE = "5f0c2b8e-8e0a-4b7b-a6d4-1f2e3d4c5b6a"

AsOf = Annotated[
    str | None,
    Query(
        description="the instant the view answers for: RFC 3339 with an explicit offset, between 1900-01-01 "
        "and 9000-01-01 (default: now; a cursor keeps the instant of its first page)",
        examples=["2026-11-01T12:00:00Z"],
        max_length=64,
    ),
]
CaseId = Annotated[
    str | None,
    Query(
        description="the rights request or complaint the read is for (a UUID), recorded with it",
        examples=[UUID_EXAMPLE],
        max_length=64,
    ),
]


def invalid(status: int, code: str, where: str, name: str, detail: str, **extra: Any) -> Problem:
    """A 4xx problem about one parameter (``where``: query, path, body), without its value."""
    error: dict[str, Any] = {"in": where, "name": name, "code": code, "detail": detail, **extra}
    return Problem(status, code, f"{name}: {detail}", errors=[error])


def check_uuid(name: str, value: str, where: str = "path") -> str:
    """A subject, request, complaint or dead-letter id: a canonical UUID (upper case folded)."""
    folded = value.strip().lower()
    if not _UUID.fullmatch(folded):
        raise invalid(422, "INVALID_UUID", where, name, f"must be a UUID such as {UUID_EXAMPLE}")
    return folded


def parse_as_of(value: str | None) -> datetime | None:
    """``as_of`` as an instant, or None when not given."""
    if value is None:
        return None
    try:
        return parse_instant_option("as_of", value)
    except LedgerError:
        raise invalid(
            422,
            "INVALID_TIMESTAMP",
            "query",
            "as_of",
            "must be an RFC 3339 instant with an explicit offset between 1900-01-01 and 9000-01-01, "
            "e.g. 2026-11-01T12:00:00Z",
        ) from None


def check_code(view: str, option: str, value: str | None) -> str | None:
    """A filter of a closed list (matched in any case, as the CLI does), in its listed spelling."""
    if value is None:
        return None
    allowed = accepted_values(view, option)
    if allowed is None:
        return value
    found = {a.casefold(): a for a in allowed}.get(value.strip().casefold())
    if found is None:
        raise invalid(
            422,
            "UNKNOWN_CODE",
            "query",
            option,
            f"must be one of: {', '.join(allowed)} (any case)",
            allowed=list(allowed),
        )
    return found


def stated_reason(
    request: Request,
    reason: Annotated[
        str,
        Query(
            description="why you read this person's data (recorded in the ledger, spec 8). One of: "
            + ", ".join(r.value for r in ReadReason),
            json_schema_extra={"enum": [r.value for r in ReadReason]},
            max_length=64,
        ),
    ],
    case_id: CaseId = None,
) -> ReadReason:
    """The dependency of every plaintext route: the stated reason, kept for the gate's audit record."""
    try:
        found = ReadReason(reason.strip().lower())
    except ValueError:
        allowed = [r.value for r in ReadReason]
        raise invalid(
            422, "UNKNOWN_CODE", "query", "reason", f"must be one of: {', '.join(allowed)}", allowed=allowed
        ) from None
    request.state.read_reason = found
    request.state.read_case = None if case_id is None else check_uuid("case_id", case_id, "query")
    return found
