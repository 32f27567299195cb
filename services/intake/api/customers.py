"""Intake's HTTP API about customers: erasure of their personal data."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from services.intake.api.common import IntakeApp, Reason
from shared.http import RequestActor
from shared.textinput import text

router = APIRouter(prefix="/api", tags=["intake"])


class ErasureRequest(BaseModel):
    """A request to erase a customer's personal data; another person approves it."""

    model_config = ConfigDict(extra="forbid")

    reason: text(2_000, min_length=1, strip=True)


class ErasureAsked(BaseModel):
    customer_id: UUID
    status: Literal["awaiting_approval"] = "awaiting_approval"
    requested_by: str


class ErasureDone(BaseModel):
    customer_id: UUID
    keys_destroyed: int
    case_ids: list[UUID]


@router.post("/customers/{customer_id}/erasure", status_code=202, response_model=ErasureAsked)
def request_erasure(
    customer_id: UUID, body: ErasureRequest, intake: IntakeApp, actor: RequestActor, request: Request
) -> Any:
    """Ask for a customer's personal data to be erased; nothing is destroyed until a second person (legal, hq
    or admin, with their own sign-in) approves. 404 for a customer with no data, 409 if already erased or a
    request already waits."""
    intake.request_erasure(
        customer_id, actor=actor, reason=body.reason, correlation_id=UUID(request.state.correlation_id)
    )
    return ErasureAsked(customer_id=customer_id, requested_by=actor.id)


@router.post("/customers/{customer_id}/erasure/approval", status_code=201, response_model=ErasureDone)
def approve_erasure(customer_id: UUID, intake: IntakeApp, actor: RequestActor, request: Request) -> Any:
    """Approve the waiting erasure as the signed-in caller and carry it out: the customer's data keys are
    destroyed; their cases and statistics stay. 404 if no erasure was asked for, 409 for the requester
    themselves, no request waiting, or a customer already erased."""
    receipt = intake.erase_customer(customer_id, actor=actor, correlation_id=UUID(request.state.correlation_id))
    return ErasureDone(
        customer_id=receipt.customer_id, keys_destroyed=receipt.keys_destroyed, case_ids=receipt.case_ids
    )


@router.post("/customers/{customer_id}/unblock", status_code=204)
def unblock_customer(customer_id: UUID, body: Reason, intake: IntakeApp, actor: RequestActor, request: Request) -> None:
    """A manager (cs_manager, regional_manager, hq, admin; else 403) lifts a contact's block with a reason;
    404 if the contact was never flagged, 409 if it is not blocked."""
    intake.unblock_source(
        customer_id, actor=actor, reason=body.reason, correlation_id=UUID(request.state.correlation_id)
    )
