"""Staff actions as POST routes: alert handling, rights-request steps, complaint acknowledgement, legal
holds and erasure. Thin doors onto ``ledger.web.actions`` (the pages call the same functions): each
stores one catalogue event through the ingestor, and an ``Idempotency-Key`` header makes a retry store
nothing more.
"""

# No ``from __future__ import annotations`` here: FastAPI and pydantic read the annotations below.

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.codelists import load_code_lists
from ledger.config import Settings
from ledger.web import actions
from ledger.web.actions import ActionOutcome
from ledger.web.pages.common import principal, web_of
from ledger.web.params import UUID_EXAMPLE

__all__ = ["ActionAnswer", "add_action_routes"]

_TEXT_MAX = 10_000  # free text (a clarification, notes): personal, encrypted under `correspondence`


def _codes(list_name: str, *extra: str) -> Callable[[dict[str, Any]], None]:
    """The OpenAPI enum of a code list, read when the document is built (never at import)."""

    def add(schema: dict[str, Any]) -> None:
        values = sorted(load_code_lists().codes(list_name)) + list(extra)
        for branch in schema.get("anyOf", [schema]):  # an optional field: the branch that is not null
            if branch.get("type") == "array":
                branch["items"]["enum"] = values
            elif branch.get("type") == "string":
                branch["enum"] = values

    return add


def _code(list_name: str, description: str, **kw: Any) -> Any:
    """A code of a spec list; a value outside it is refused UNKNOWN_CODE by the ledger's validation."""
    return Field(
        description=f"{description} (code list `{list_name}`)",
        min_length=1,
        max_length=64,
        json_schema_extra=_codes(list_name),
        **kw,
    )


class _Body(BaseModel):
    # A field the route does not take, or a value of the wrong JSON type, is refused (422).
    model_config = ConfigDict(extra="forbid", strict=True)


class ActionAnswer(BaseModel):
    """What an action stored, or (``replayed``) had stored under the same Idempotency-Key."""

    event_id: str = Field(description="the stored event's id")
    event_type: str = Field(description="its catalogue event type (spec 4)")
    replayed: bool = Field(description="true: the Idempotency-Key was seen before and nothing new was stored")
    detail: dict[str, Any] = Field(
        description="`hold_id` for a hold placed; for an erasure the outcome per category (`subject_id`, "
        "`merged_subject_ids`, `categories`: erased with key versions, deferred with hold ids, or "
        "nothing_held); otherwise empty"
    )


class AlertNote(_Body):
    """Spec 4.7: why the alert is acknowledged or resolved."""

    note: str = Field(
        min_length=1,
        max_length=500,
        description="what was done, stored in clear: it MUST NOT hold personal data (spec 4.7)",
        examples=["Ticket DPO-123 opened."],
    )


# -- spec 4.4: one model per step, told apart by `step` ---------------------------------------------


class IdentityVerificationRequestedStep(_Body):
    """The clock is not started, or is reset, until evidence arrives (status AWAITING_IDENTITY)."""

    step: Literal["IdentityVerificationRequested"]
    kind: str = _code("identity_verification_kind", "what is asked for")


class IdentityEvidenceReceivedStep(_Body):
    """The clock (re)starts on this date."""

    step: Literal["IdentityEvidenceReceived"]
    kind: str = _code("identity_verification_kind", "what was received")


class IdentityVerifiedStep(_Body):
    """The requester's identity is verified."""

    step: Literal["IdentityVerified"]
    method: str = Field(min_length=1, max_length=128, description="how (non-personal, e.g. `document_check`)")


class IdentityVerificationFailedStep(_Body):
    """The requester's identity could not be verified."""

    step: Literal["IdentityVerificationFailed"]
    reason: str = Field(min_length=1, max_length=128, description="why (non-personal)")


class FeeRequestedStep(_Body):
    """A fee is asked for (status AWAITING_FEE)."""

    step: Literal["FeeRequested"]
    amount_pence: int = Field(ge=1, description="the fee in pence")
    reason: str = _code("fee_reason", "why a fee is charged")


class FeePaidStep(_Body):
    """The fee is paid: the clock (re)starts on this date."""

    step: Literal["FeePaid"]
    amount_pence: int = Field(ge=1, description="the amount paid in pence")


class ClarificationRequestedStep(_Body):
    """The pause starts (inclusive)."""

    step: Literal["ClarificationRequested"]
    question: str | None = Field(
        default=None, min_length=1, max_length=_TEXT_MAX, description="the question (personal: encrypted)"
    )


class ClarificationReceivedStep(_Body):
    """The pause ends (inclusive)."""

    step: Literal["ClarificationReceived"]
    answer: str | None = Field(
        default=None, min_length=1, max_length=_TEXT_MAX, description="the answer (personal: encrypted)"
    )


class RequestExtendedStep(_Body):
    """The deadline extends to three months if the extension is valid (spec 7.4)."""

    step: Literal["RequestExtended"]
    reason: str = _code("extension_reason", "why")
    notice_sent_at: str | None = Field(
        default=None,
        max_length=64,
        description="when the requester was told (RFC 3339 with an offset; default now), not before the "
        "receipt",
        examples=["2026-11-01T12:00:00Z"],
    )
    reasons_stated: bool = Field(description="the notice stated the reasons (else alert A21)")


class RequestFulfilledStep(_Body):
    """The request is answered: it closes."""

    step: Literal["RequestFulfilled"]
    outcome: str = _code("fulfilment_outcome", "full or partial")
    retained_categories: list[str] | None = Field(
        default=None,
        max_length=40,
        description="categories kept back (code list `category`)",
        json_schema_extra=_codes("category"),
    )
    retention_reason: str | None = _code("retention_reason", "why they are kept", default=None)
    notes: str | None = Field(
        default=None, min_length=1, max_length=_TEXT_MAX, description="notes (personal: encrypted)"
    )


class RequestRefusedStep(_Body):
    """The request is refused: it closes."""

    step: Literal["RequestRefused"]
    reason: str = _code("refusal_reason", "why")
    exemption_ref: str | None = Field(default=None, min_length=1, max_length=128, description="the exemption")
    complaint_rights_notified: bool = Field(
        description="the requester was told of the right to complain (else A20)"
    )
    details: str | None = Field(
        default=None, min_length=1, max_length=_TEXT_MAX, description="details (personal: encrypted)"
    )


class RequestWithdrawnStep(_Body):
    """The requester withdrew the request: it closes."""

    step: Literal["RequestWithdrawn"]


class RequestClosedStep(_Body):
    """The request is closed without an answer: it closes."""

    step: Literal["RequestClosed"]
    reason: str = _code("request_close_reason", "why")


RequestStep = Annotated[
    IdentityVerificationRequestedStep
    | IdentityEvidenceReceivedStep
    | IdentityVerifiedStep
    | IdentityVerificationFailedStep
    | FeeRequestedStep
    | FeePaidStep
    | ClarificationRequestedStep
    | ClarificationReceivedStep
    | RequestExtendedStep
    | RequestFulfilledStep
    | RequestRefusedStep
    | RequestWithdrawnStep
    | RequestClosedStep,
    Field(discriminator="step"),
]


class HoldPlacement(_Body):
    """Spec 4.2 LegalHoldPlaced: erasure of these categories is deferred while the hold lasts."""

    categories: list[str] = Field(
        min_length=1,
        max_length=40,
        description='the categories held (code list `category`), or `["*"]` for all',
        json_schema_extra=_codes("category", "*"),
    )
    reason: str = _code("legal_hold_reason", "why")
    matter_ref: str = Field(
        min_length=1,
        max_length=128,
        description="the legal matter's reference (non-personal, stored in clear)",
    )


class Erasure(_Body):
    """Spec 4.2 DataErased: the ledger destroys the keys (spec 5.1), or defers under a legal hold."""

    categories: list[str] = Field(
        min_length=1,
        max_length=40,
        description='the categories to erase (code list `category`), or `["*"]` for everything',
        json_schema_extra=_codes("category", "*"),
    )
    reason: str = _code("erasure_reason", "why")


# -- the routes ------------------------------------------------------------------------------------

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1 to 128 printable ASCII characters chosen by the client, one per intended action: "
        "a retry with the same key and body stores nothing and answers the first attempt's event (200, "
        "`replayed`); the same key with another request is refused (409 IDEMPOTENCY_KEY_REUSED). Keys "
        "are per user. Without it every POST stores an event.",
        examples=["7d9f0c2e-ack-1"],
    ),
]


def _id(name: str, what: str) -> Any:
    return Path(alias=name, description=f"the {what}'s UUID", examples=[UUID_EXAMPLE])


def _answer(response: Response, outcome: ActionOutcome) -> ActionAnswer:
    response.status_code = 200 if outcome.replayed else 201
    return ActionAnswer(
        event_id=outcome.event_id,
        event_type=outcome.event_type,
        replayed=outcome.replayed,
        detail=outcome.detail,
    )


def acknowledge_alert(
    request: Request,
    response: Response,
    alert_id: Annotated[str, _id("alert_id", "alert")],
    body: AlertNote,
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.7: record an AlertAcknowledged; the alert reads ACKNOWLEDGED in the alerts view."""
    outcome = actions.acknowledge_alert(
        web_of(request), principal(request), alert_id, body.note, idempotency_key
    )
    return _answer(response, outcome)


def resolve_alert(
    request: Request,
    response: Response,
    alert_id: Annotated[str, _id("alert_id", "alert")],
    body: AlertNote,
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.7: record an AlertResolved; the alert reads RESOLVED in the alerts view."""
    outcome = actions.resolve_alert(web_of(request), principal(request), alert_id, body.note, idempotency_key)
    return _answer(response, outcome)


def record_request_step(
    request: Request,
    response: Response,
    request_id: Annotated[str, _id("request_id", "rights request")],
    body: Annotated[RequestStep, Body()],
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.4: record one step of a rights request (`step` names the event; its fields beside it),
    on the request's subject. The requests view shows its effect on status and due date (spec 7)."""
    fields = body.model_dump(exclude={"step"}, exclude_none=True)
    outcome = actions.record_request_step(
        web_of(request), principal(request), request_id, body.step, fields, idempotency_key
    )
    return _answer(response, outcome)


def acknowledge_complaint(
    request: Request,
    response: Response,
    complaint_id: Annotated[str, _id("complaint_id", "complaint")],
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.6 (DPA s.164A): record a ComplaintAcknowledged; no body."""
    outcome = actions.acknowledge_complaint(
        web_of(request), principal(request), complaint_id, idempotency_key
    )
    return _answer(response, outcome)


def place_hold(
    request: Request,
    response: Response,
    subject_id: Annotated[str, _id("subject_id", "subject")],
    body: HoldPlacement,
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.2: record a LegalHoldPlaced on the subject; `detail.hold_id` names the new hold."""
    outcome = actions.place_hold(
        web_of(request),
        principal(request),
        subject_id,
        body.categories,
        body.reason,
        body.matter_ref,
        idempotency_key,
    )
    return _answer(response, outcome)


def release_hold(
    request: Request,
    response: Response,
    subject_id: Annotated[str, _id("subject_id", "subject")],
    hold_id: Annotated[str, _id("hold_id", "legal hold")],
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.2 and 5.1: record a LegalHoldReleased; the erasures it deferred run now. No body."""
    outcome = actions.release_hold(web_of(request), principal(request), subject_id, hold_id, idempotency_key)
    return _answer(response, outcome)


def erase_subject(
    request: Request,
    response: Response,
    subject_id: Annotated[str, _id("subject_id", "subject")],
    body: Erasure,
    idempotency_key: IdempotencyKey = None,
) -> ActionAnswer:
    """Spec 4.2 and 5.1: record a DataErased (as `privacy-ledger erase`); the keys of the subject and
    every subject merged into it are destroyed, or the erasure is deferred under a legal hold. Cannot
    be undone."""
    outcome = actions.erase_subject(
        web_of(request), principal(request), subject_id, body.categories, body.reason, idempotency_key
    )
    return _answer(response, outcome)


_COMMON: dict[int | str, dict[str, Any]] = {
    200: {"model": ActionAnswer, "description": "a replay: the Idempotency-Key's event, nothing new stored"},
    409: {"description": "IDEMPOTENCY_KEY_REUSED: the key was used for another request; nothing stored"},
}


def add_action_routes(router: APIRouter, settings: Settings) -> None:
    """Add the staff actions (each stores one catalogue event)."""
    routes: tuple[tuple[str, Callable[..., ActionAnswer], str, str, dict[int | str, dict[str, Any]]], ...] = (
        (
            "/api/v1/alerts/{alert_id}/acknowledge",
            acknowledge_alert,
            "Acknowledge an alert",
            "alerts",
            {404: {"description": "UNKNOWN_ALERT"}},
        ),
        (
            "/api/v1/alerts/{alert_id}/resolve",
            resolve_alert,
            "Resolve an alert",
            "alerts",
            {404: {"description": "UNKNOWN_ALERT"}},
        ),
        (
            "/api/v1/requests/{request_id}/steps",
            record_request_step,
            "Record a rights-request step",
            "requests",
            {404: {"description": "UNKNOWN_REQUEST"}},
        ),
        (
            "/api/v1/complaints/{complaint_id}/acknowledge",
            acknowledge_complaint,
            "Acknowledge a complaint",
            "complaints",
            {404: {"description": "UNKNOWN_COMPLAINT"}},
        ),
        (
            "/api/v1/subjects/{subject_id}/holds",
            place_hold,
            "Place a legal hold",
            "subjects",
            {404: {"description": "UNKNOWN_SUBJECT"}},
        ),
        (
            "/api/v1/subjects/{subject_id}/holds/{hold_id}/release",
            release_hold,
            "Release a legal hold",
            "subjects",
            {
                404: {"description": "UNKNOWN_HOLD: the subject has no such hold"},
                409: {"description": "IDEMPOTENCY_KEY_REUSED, or HOLD_NOT_ACTIVE: released already"},
            },
        ),
        (
            "/api/v1/subjects/{subject_id}/erase",
            erase_subject,
            "Erase a subject's data",
            "subjects",
            {404: {"description": "UNKNOWN_SUBJECT"}},
        ),
    )
    for path, endpoint, summary, tag, errors in routes:
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            name=endpoint.__name__,
            summary=summary,
            description=(endpoint.__doc__ or "")
            + "\n\nStored through the same validation and append path as `privacy-ledger ingest`; a "
            "rejected event is a 422 with its spec 3.6 code and field, and nothing is stored.",
            status_code=201,
            response_model=ActionAnswer,
            responses={**_COMMON, **errors},
            tags=[tag],
        )
