"""Intake's HTTP API: file a complaint and read it back; read a customer's contact (audited); erase a
customer's personal data; list the stores complaints can be about."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.application import Intake
from shared.contracts import Actor
from shared.http import RequestActor, service_part
from shared.vocabulary import Channel, Role

IntakeApp = Annotated[Intake, Depends(service_part("intake"))]
router = APIRouter(prefix="/api", tags=["intake"])


class CustomerIn(BaseModel):
    """How to reach the customer: a name and a phone number or an e-mail address, optionally an address."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _needs_contact(self) -> CustomerIn:
        if not (self.phone or self.email):
            raise ValueError("a phone number or an e-mail address is required")
        return self


class ReceivedBy(BaseModel):
    """The member of staff who received the complaint (defaults to the web channel itself)."""

    id: str = Field(min_length=1, max_length=64)
    role: Role = Role.FRONTLINE
    store: str | None = None


class ComplaintCreate(BaseModel):
    """A complaint as filed by a customer or recorded by staff."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    store_id: str = Field(min_length=1, max_length=32)
    customer: CustomerIn
    description: str = Field(min_length=1, max_length=20_000)
    demand: str | None = Field(default=None, max_length=2_000)
    order_id: str | None = Field(default=None, max_length=64)
    sku: str | None = Field(default=None, max_length=64)
    batch: str | None = Field(default=None, max_length=64)
    amount_paid: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    occurred_at: datetime | None = None
    language: str = Field(default="zh", pattern="^(zh|en)$")
    received_by: ReceivedBy | None = None

    @model_validator(mode="after")
    def _aware_time(self) -> ComplaintCreate:
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at needs a timezone (e.g. 2026-11-25T10:00:00+08:00)")
        return self


class ComplaintCreated(BaseModel):
    case_id: UUID
    case_number: str


@router.post("/complaints", status_code=201, response_model=ComplaintCreated)
async def receive_complaint(
    body: ComplaintCreate,
    intake: IntakeApp,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """File a complaint. With ``Idempotency-Key``, repeating the call returns the same case."""
    actor = (
        Actor(id=body.received_by.id, role=body.received_by.role, store=body.received_by.store)
        if body.received_by
        else Actor(id=f"channel-{body.channel.value}", role=Role.CUSTOMER)
    )
    receipt = await intake.receive_complaint_shared(
        actor=actor,
        channel=body.channel.value,
        store_id=body.store_id,
        customer=body.customer.model_dump(exclude_none=True),
        description=body.description,
        demand=body.demand,
        order_id=body.order_id,
        sku=body.sku,
        batch=body.batch,
        amount_paid=body.amount_paid,
        occurred_at=body.occurred_at,
        language=body.language,
        idempotency_key=idempotency_key,
        correlation_id=UUID(request.state.correlation_id),
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


@router.get("/stores")
def list_stores(intake: IntakeApp) -> dict[str, Any]:
    """The stores complaints can be filed against (the chain's master data)."""
    return {"stores": [store.model_dump() for store in intake.master_data.stores.values()]}
