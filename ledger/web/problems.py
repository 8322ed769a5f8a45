"""Errors as RFC 9457 ``application/problem+json``: ``type``, ``title``, ``status``, ``detail``, ``code``.

``code`` is the spec 3.6 code where one fits (``INVALID_UUID``, ``UNKNOWN_CODE``, ``INVALID_VALUE``,
``MISSING_FIELD``, ``INVALID_TIMESTAMP``, ``PAYLOAD_TOO_LARGE``, ``MALFORMED_JSON``), else one of the
service's own (``UNAUTHENTICATED``, ``FORBIDDEN``, ...). A detail never repeats a value the client
sent: a filter, a path or a body field may hold a name or an email address typed in the wrong place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["PROBLEM_SCHEMA", "PROBLEM_TYPE", "TITLES", "Problem", "problem_body", "problem_headers"]

PROBLEM_TYPE: Final = "application/problem+json"

TITLES: Final[Mapping[str, str]] = {
    # spec 3.6 codes, as the API uses them for parameters and bodies
    "MALFORMED_JSON": "The body is not valid JSON",
    "PAYLOAD_TOO_LARGE": "The request is too large",
    "MISSING_FIELD": "A required parameter or field is missing",
    "INVALID_UUID": "An id is not a UUID",
    "INVALID_TIMESTAMP": "An instant is not an RFC 3339 timestamp with an offset",
    "UNKNOWN_CODE": "A value is not one of the codes accepted here",
    "INVALID_VALUE": "A value has the wrong type or is out of range",
    # the other spec 3.6 codes, as a staff action's event may be rejected with them
    "UNKNOWN_SCHEMA": "The message's schema is not a released one",
    "FUTURE_TIMESTAMP": "An instant is more than five minutes ahead of the ledger clock",
    "UNKNOWN_EVENT_TYPE": "The event type is not in the catalogue",
    "UNSUPPORTED_SCHEMA_VERSION": "Only schema_version 1 is supported",
    "INVALID_COUNTRY": "A country is not an ISO 3166-1 alpha-2 code",
    "EMPTY_DATA_ITEMS": "A list that must not be empty is empty",
    "INCONSISTENT_FIELDS": "Fields contradict each other",
    "INCONSISTENT_SUBJECT": "The event's subject is not the subject of its request",
    "INVALID_MERGE": "The merge is not possible",
    "DUPLICATE_EVENT_ID_CONFLICT": "Another event with this id is stored",
    "UNKNOWN_REFERENCE": "The event refers to something the ledger does not hold",
    "KEY_UNAVAILABLE": "A data key of the subject cannot be opened",
    # the service's own
    "UNKNOWN_PARAMETER": "This route does not take that parameter",
    "INVALID_CURSOR": "The cursor is not one this query issued",
    "UNAUTHENTICATED": "Credentials are missing, invalid or expired",
    "INVALID_CREDENTIALS": "The user name or password is wrong",
    "FORBIDDEN": "Your role may not use this route",
    "OUT_OF_SCOPE": "The case is not one granted to you",
    "CSRF_FAILED": "The request's CSRF token is missing or wrong",
    "HTTPS_REQUIRED": "Sessions need HTTPS",
    "RATE_LIMITED": "Too many failed logins; try again later",
    "NOT_FOUND": "No such route",
    "METHOD_NOT_ALLOWED": "This route does not take that method",
    "UNKNOWN_SUBJECT": "The ledger holds no event for this subject",
    "UNKNOWN_ALERT": "The ledger holds no alert with this id",
    "UNKNOWN_REQUEST": "The ledger holds no rights request with this id",
    "UNKNOWN_COMPLAINT": "The ledger holds no complaint with this id",
    "UNKNOWN_HOLD": "The subject has no legal hold with this id",
    "HOLD_NOT_ACTIVE": "The legal hold is released already",
    "IDEMPOTENCY_KEY_REUSED": "The Idempotency-Key was used for another request",
    "UNKNOWN_CASE": "The ledger holds no such subject, request or complaint",
    "UNKNOWN_DEAD_LETTER": "There is no dead letter with this id",
    "PAYLOAD_GONE": "The raw payload is gone (erased, purged after 30 days, or never kept)",
    "LOG_NOT_EXTENDED": "The log does not extend its last signed checkpoint",
    "NO_SIGNING_KEY": "The ledger has no checkpoint signing key",
    "VIEWS_NOT_BUILT": "The compliance views have not been built yet",
    "AUDIT_UNAVAILABLE": "The read could not be recorded, so nothing was shown",
    "URI_TOO_LONG": "The request URI is too long",
    "INTERNAL_ERROR": "The service failed; nothing was changed",
}

# The JSON schema of a problem body (components/schemas/Problem in the OpenAPI document).
PROBLEM_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable; `detail` never repeats a value sent.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "description": "`/problems/<code>`, relative to the service"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": sorted(TITLES)},
        "errors": {
            "type": "array",
            "description": "for 422: each parameter or field at fault",
            "items": {
                "type": "object",
                "properties": {
                    "in": {"type": "string", "enum": ["query", "path", "body", "header", "cookie"]},
                    "name": {"type": "string"},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                    "allowed": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


class Problem(Exception):
    """An error a handler or the gate answers with; ``detail`` must not hold a value the client sent."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(code)
        if code not in TITLES:
            raise ValueError(f"unknown problem code {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> bytes:
        """The problem document, encoded."""
        return problem_body(self.status, self.code, self.detail, **self.extra)


def problem_body(status: int, code: str, detail: str | None = None, **extra: Any) -> bytes:
    """An RFC 9457 document as bytes."""
    doc: dict[str, Any] = {"type": f"/problems/{code}", "title": TITLES[code], "status": status, "code": code}
    if detail:
        doc["detail"] = detail
    doc.update(extra)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def problem_headers(body: bytes, extra: Mapping[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    """ASGI headers of a problem response."""
    headers = [(b"content-type", PROBLEM_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()]
    return headers
