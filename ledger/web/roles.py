"""Staff roles and the codes of the read audit (spec 8), as the code lists in ``schemas/codelists.json``
spell them (``staff_role``, ``personal_data_view``, ``read_reason``, ``access_interface``).

Standard library only: the CLI's ``users`` and ``tokens`` commands use it without importing FastAPI.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["HOST_OPERATOR", "Interface", "ReadReason", "Role", "View", "token_roles"]


class Role(StrEnum):
    """What a staff user may do (issue: the roles of the staff service; spec 8)."""

    VIEWER = "viewer"  # the compliance views, without plaintext
    OFFICER = "officer"  # plus plaintext reads with a stated reason
    DPO = "dpo"  # plus regulator exports (spec 8: timeline export is the DPO's)
    BREAK_GLASS = "break_glass"  # raw dead-letter payloads only, for a limited time
    ADMIN = "admin"  # users and tokens, nothing else
    REGULATOR = "regulator"  # exports of the cases granted to it, and the verifier key; expires


# The role a read audit records for a command run on the ledger's host (``privacy-ledger subject``,
# ``query inventory``, ``export``): whoever holds the master key there, not a staff user. It is in the
# ``staff_role`` code list beside the roles above, but no user or token can have it (not a ``Role``).
HOST_OPERATOR: Final = "host_operator"


class View(StrEnum):
    """What a plaintext read showed (``PersonalDataViewed.view``)."""

    INVENTORY = "inventory"
    DEAD_LETTER_PAYLOAD = "dead_letter_payload"
    SUBJECT_EXPORT = "subject_export"
    REQUEST_EXPORT = "request_export"
    COMPLAINT_EXPORT = "complaint_export"
    ACCESS_PACK = "access_pack"
    SUBJECT_EVENTS = "subject_events"  # ``privacy-ledger subject``: every event of one subject, decrypted


class ReadReason(StrEnum):
    """Why staff read plaintext: a closed list, never free text, so the audit record holds no value."""

    RIGHTS_REQUEST = "rights_request"
    COMPLAINT_HANDLING = "complaint_handling"
    DATA_QUALITY = "data_quality"
    LEGAL_CLAIM = "legal_claim"
    REGULATOR_INQUIRY = "regulator_inquiry"
    SECURITY_INCIDENT = "security_incident"
    DEAD_LETTER_REPAIR = "dead_letter_repair"
    INTERNAL_AUDIT = "internal_audit"


class Interface(StrEnum):
    """The door a read came through (``PersonalDataViewed.interface``)."""

    API = "api"
    WEB = "web"
    CLI = "cli"


# A token may act with its user's role or a lesser one of the same line (officer -> viewer, ...).
_LINE = (Role.VIEWER, Role.OFFICER, Role.DPO)


def token_roles(user_role: Role) -> tuple[Role, ...]:
    """The roles a token of a user with ``user_role`` may be scoped to (its own first)."""
    if user_role in _LINE:
        return tuple(reversed(_LINE[: _LINE.index(user_role) + 1]))
    return (user_role,)
