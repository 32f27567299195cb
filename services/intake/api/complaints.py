"""Intake's HTTP API: file a complaint and read it back; read a customer's contact (audited); erase a
customer's personal data; list the stores complaints can be about."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel

from services.intake.api.common import IntakeApp
from services.intake.domain import ComplaintRecord
from shared.http import RequestActor

router = APIRouter(prefix="/api", tags=["intake"])


class ComplaintCreated(BaseModel):
    case_id: UUID
    case_number: str


@router.post("/complaints", status_code=201, response_model=ComplaintCreated)
async def receive_complaint(
    body: ComplaintRecord,
    intake: IntakeApp,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """File a complaint from any channel (the full record form). With ``Idempotency-Key``, repeating the
    call returns the same case."""
    receipt = await intake.receive_complaint_shared(
        body, idempotency_key=idempotency_key, correlation_id=UUID(request.state.correlation_id)
    )
    response.headers["Location"] = f"/api/cases/{receipt.case_id}"
    return ComplaintCreated(case_id=receipt.case_id, case_number=receipt.case_number)


class ComplaintPublic(BaseModel):
    """A complaint as intake recorded it, for staff: no contact details, the description masked."""

    case_id: UUID
    case_number: str
    channel: str
    store_id: str
    customer_id: UUID
    description: str
    demand: str | None
    order_id: str | None
    sku: str | None
    batch: str | None
    amount_paid: str | None
    language: str
    received_at: datetime
    customer_erased: bool


@router.get("/complaints/{case_id}", response_model=ComplaintPublic)
def get_complaint(case_id: UUID, intake: IntakeApp) -> Any:
    """The complaint as received, without the customer's contact; ``customer_erased`` once they were erased."""
    complaint = intake.get_complaint(case_id)
    return ComplaintPublic(
        case_id=complaint.id,
        case_number=complaint.case_number,
        channel=complaint.channel,
        store_id=complaint.store_id,
        customer_id=complaint.customer_id,
        description=complaint.description,
        demand=complaint.demand,
        order_id=complaint.order_id,
        sku=complaint.sku,
        batch=complaint.batch,
        amount_paid=str(complaint.amount_paid) if complaint.amount_paid is not None else None,
        language=complaint.language,
        received_at=complaint.created_on,
        customer_erased=intake.customer_erased(complaint),
    )


@router.get("/complaints/{case_id}/contact")
def read_contact(case_id: UUID, intake: IntakeApp, actor: RequestActor, request: Request, response: Response) -> Any:
    """The customer's contact details and original description. Each read is recorded on the case
    (``ContactDetailsRead``: who, when). After erasure: ``{"erased": true}``."""
    details = intake.read_contact(case_id, actor=actor, correlation_id=UUID(request.state.correlation_id))
    response.headers["Cache-Control"] = "no-store"
    if details.erased:
        return {"erased": True}
    return {
        "erased": False,
        "name": details.name,
        "phone": details.phone,
        "email": details.email,
        "address": details.address,
        "description": details.description,
    }


@router.get("/stores")
def list_stores(intake: IntakeApp) -> dict[str, Any]:
    """The stores complaints can be filed against (the chain's master data)."""
    return {"stores": [store.model_dump() for store in intake.master_data.stores.values()]}
