"""Intake's HTTP API about customers: erasure of their personal data."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.common import IntakeApp, Reason
from shared.contracts import Actor
from shared.http import RequestActor
from shared.vocabulary import Role

router = APIRouter(prefix="/api", tags=["intake"])


class Approver(BaseModel):
    """The member of staff who approved the erasure (legal, hq or admin; not the requester)."""

    id: str = Field(min_length=1, max_length=64)
    role: Role
    store: str | None = None


class ErasureCreate(BaseModel):
    """An approved request to erase a customer's personal data."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000, pattern=r"\S")
    approver: Approver


class ErasureDone(BaseModel):
    customer_id: UUID
    keys_destroyed: int
    case_ids: list[UUID]


@router.post("/customers/{customer_id}/erasure", status_code=201, response_model=ErasureDone)
def erase_customer(
    customer_id: UUID, body: ErasureCreate, intake: IntakeApp, actor: RequestActor, request: Request
) -> Any:
    """Erase a customer's personal data (their data keys are destroyed); their cases and statistics stay.

    401 without the acting user, 404 for a customer with no data, 403 if the approver's role may not
    approve, 409 if requester and approver are one person or the customer is already erased.
    """
    receipt = intake.erase_customer(
        customer_id,
        actor=actor,
        approved_by=Actor(id=body.approver.id, role=body.approver.role, store=body.approver.store),
        reason=body.reason,
        correlation_id=UUID(request.state.correlation_id),
    )
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
