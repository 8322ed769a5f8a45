"""The error root of the ``ledger`` package and the rejection raised by event validation.

Error texts carry only codes, field names, paths, ids and limits: never a field value, because a
producer may put personal data (an email address, a name) into any field, including a code field.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CodeListError", "ErrorCode", "EventRejected", "LedgerError"]


class LedgerError(Exception):
    """Root of every error the ``ledger`` package raises on purpose."""


class CodeListError(LedgerError):
    """The code-list configuration file is missing, unreadable or malformed."""


class ErrorCode(StrEnum):
    """The rejection codes of spec section 3.6 (dead-letter ``error_code``)."""

    MALFORMED_JSON = "MALFORMED_JSON"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_UUID = "INVALID_UUID"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    UNSUPPORTED_SCHEMA_VERSION = "UNSUPPORTED_SCHEMA_VERSION"
    UNKNOWN_CODE = "UNKNOWN_CODE"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    INVALID_VALUE = "INVALID_VALUE"
    EMPTY_DATA_ITEMS = "EMPTY_DATA_ITEMS"
    INCONSISTENT_FIELDS = "INCONSISTENT_FIELDS"
    INCONSISTENT_SUBJECT = "INCONSISTENT_SUBJECT"
    INVALID_MERGE = "INVALID_MERGE"
    DUPLICATE_EVENT_ID_CONFLICT = "DUPLICATE_EVENT_ID_CONFLICT"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    # The ledger's addition: the master key does not open a data key of the message's subject (a
    # corrupt or partly restored key row); only that message is rejected (schemas/error-codes.json).
    KEY_UNAVAILABLE = "KEY_UNAVAILABLE"


class EventRejected(LedgerError):
    """An event that fails validation: error code, JSON-Pointer-like path, value-free message.

    ``path`` is ``""`` for the whole message, else e.g. ``/payload/data_items/0/category``.
    """

    code: str
    path: str
    message: str

    def __init__(self, code: str, path: str, message: str) -> None:
        self.code = str(code)
        self.path = path
        self.message = message
        super().__init__(self.code, path, message)

    def __str__(self) -> str:
        return f"{self.code} at {self.path}: {self.message}"
