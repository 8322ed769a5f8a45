"""The alert record of spec section 5 and its deterministic id; shared by every rule module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Final

__all__ = ["ALERT_NAMESPACE", "SEVERITY", "Alert", "alert_id"]

# Fixed forever: alert ids are UUIDv5(ALERT_NAMESPACE, code + "|" + triggering id), so a rebuild from
# zero gives the same ids.
ALERT_NAMESPACE: Final = uuid.UUID("5b3f4a8e-2f6c-4d1e-9a7b-1c2d3e4f5a6b")

SEVERITY: Final[dict[str, str]] = {
    "NO_VALID_CONSENT": "high",
    "BASIS_NOT_REGISTERED": "medium",
    "LI_NOT_DOCUMENTED": "low",
    "DM_OBJECTION_OVERRIDE_NOT_PERMITTED": "high",
    "MARKETING_AFTER_OPT_OUT": "critical",
    "PROCESSING_AFTER_OBJECTION": "high",
    "PROCESSING_WHILE_RESTRICTED": "high",
    "PROCESSING_AFTER_ERASURE": "critical",
    "DATA_RECEIVED_AFTER_ERASURE": "medium",
    "RESTRICTION_LIFTED_WITHOUT_PRIOR_NOTICE": "medium",
    "TRANSFER_WITHOUT_SAFEGUARD": "high",
    "CRA_SHARE_WITHOUT_ADVANCE_NOTICE": "medium",
    "SPECIAL_CATEGORY_WITHOUT_CONDITION": "high",
    "CRIMINAL_DATA_WITHOUT_CONDITION": "high",
    "ART14_NOTICE_NOT_PROVIDED_AT_FIRST_CONTACT": "medium",
    "ART14_NOTICE_OVERDUE": "medium",
    "REQUEST_OVERDUE": "high",
    "LATE_EXTENSION_NOTICE": "high",
    "CLARIFICATION_AFTER_DEADLINE": "medium",
    "REFUSAL_WITHOUT_COMPLAINT_RIGHTS": "medium",
    "EXTENSION_REASONS_NOT_STATED": "low",
    "ADM_SPECIAL_CATEGORY_NOT_PERMITTED": "high",
    "ADM_SAFEGUARDS_MISSING": "high",
    "ERASURE_BLOCKED_BY_LEGAL_HOLD": "info",
    "RETENTION_PERIOD_EXCEEDED": "medium",
    "COMPLAINT_ACK_OVERDUE": "medium",
}


def alert_id(code: str, trigger_id: str) -> str:
    """``UUIDv5(namespace, code + "|" + triggering id)`` as a canonical string."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{code}|{trigger_id}"))


@dataclass(frozen=True)
class Alert:
    """A derived alert (spec section 5); status and ``detected_at`` belong to the alerts view.

    ``trigger_id`` is the triggering event id, or the entity id for as-of alerts (request, complaint,
    notice row, retention row). ``message`` is built from codes and ids only, never personal values.
    """

    code: str
    trigger_id: str
    subject_id: str | None
    related_event_ids: tuple[str, ...]
    event_occurred_at: str | None
    message: str
    as_of_rule: bool = False

    @cached_property
    def alert_id(self) -> str:
        """The deterministic id (computed once per alert: a UUIDv5 costs a SHA-1)."""
        return alert_id(self.code, self.trigger_id)

    @property
    def severity(self) -> str:
        """The rule's severity."""
        return SEVERITY[self.code]
