"""Intake's HTTP API: file a complaint and read it back; read a customer's contact (audited); erase a
customer's personal data; list the stores complaints can be about."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.common import IntakeApp, Reason
from services.intake.domain import Changes, ComplaintRecord
from services.intake.domain.record import ReceivedBy
from shared.access.guard import CurrentAccess, CurrentPrincipal
from shared.access.principal import Principal
from shared.http import RequestActor
from shared.idempotency import client_key
from shared.masterdata import Store
from shared.textinput import text

router = APIRouter(prefix="/api", tags=["intake"])


class ComplaintCreated(BaseModel):
    case_id: UUID
    case_number: str


@router.post("/complaints", status_code=201, response_model=ComplaintCreated)
async def receive_complaint(
    body: ComplaintRecord,
    intake: IntakeApp,
    principal: CurrentPrincipal,
    access: CurrentAccess,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """File a complaint from any channel (the full record form). With ``Idempotency-Key``, repeating the
    call returns the same case. Staff file for a store within their reach (403 otherwise); the receiver on
    the record is the signed-in caller, whatever ``received_by`` says (only its name and position are kept)."""
    access.require_store(principal, body.store_id)
    body = body.model_copy(update={"received_by": received_by(principal, body.received_by)})
    receipt = await intake.receive_complaint_shared(
        body,
        idempotency_key=client_key(principal.id, idempotency_key),
        correlation_id=UUID(request.state.correlation_id),
    )
    response.headers["Location"] = f"/api/cases/{receipt.case_id}"
    return ComplaintCreated(case_id=receipt.case_id, case_number=receipt.case_number)


def received_by(principal: Principal, given: ReceivedBy | None) -> ReceivedBy:
    """Who took the complaint: the caller's verified identity, with the name and position the form gives."""
    actor = principal.actor()
    return ReceivedBy(
        id=actor.id,
        role=actor.role,
        store=actor.store,
        name=given.name if given else None,
        position=given.position if given else None,
    )


class ComplaintPublic(BaseModel):
    """A complaint as intake recorded it, for staff: no contact details, texts masked."""

    case_id: UUID
    case_number: str
    channel: str
    channel_details: dict[str, str]
    customer_id: UUID
    store_id: str
    merchant_id: str | None
    staff_id: str | None
    order_id: str | None
    sku: str | None
    batch: str | None
    serial: str | None
    description: str
    occurred_at: str | None
    occurred_where: str | None
    demand: str | None
    amount_paid: str | None
    language: str
    received_by: dict[str, Any] | None
    received_at: datetime
    read_back_confirmed: bool
    amendments: int
    withdrawn: bool
    evidence: list[str]
    repeat_of: UUID | None
    nuisance_flagged: bool
    customer_erased: bool


@router.get("/complaints/by-number/{case_number}", response_model=ComplaintPublic)
def get_complaint_by_number(
    case_number: str, intake: IntakeApp, principal: CurrentPrincipal, access: CurrentAccess
) -> Any:
    """The complaint with this case number (e.g. ``CMP-20261125-000123``); 404 outside the caller's reach."""
    return get_complaint(access.require_case(principal, intake.case_id_for_number(case_number)), intake)


@router.get("/complaints/{case_id}", response_model=ComplaintPublic)
def get_complaint(case_id: UUID, intake: IntakeApp) -> Any:
    """The complaint as recorded, with every correction applied; no contact details."""
    complaint = intake.get_complaint(case_id)
    fields = {name: getattr(complaint, name) for name in ComplaintPublic.model_fields if hasattr(complaint, name)}
    amount = complaint.amount_paid
    return ComplaintPublic(
        **{
            **fields,
            "case_id": complaint.id,
            "amount_paid": str(amount) if amount is not None else None,
            "received_at": complaint.created_on,
            "customer_erased": intake.customer_erased(complaint),
        }
    )


class ReadBack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: text(1_000) | None = None


class Amendment(BaseModel):
    """A correction (the record was wrong) or a supplement (something was added), with the reason."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["correction", "supplement"]
    reason: text(1_000, min_length=1)
    changes: Changes = Field(description="the new values; a field left out is unchanged, null clears it")


@router.post("/complaints/{case_id}/read-back", status_code=204)
def confirm_read_back(case_id: UUID, body: ReadBack, intake: IntakeApp, actor: RequestActor, request: Request) -> None:
    """The receiver read the complaint back and the customer confirmed it (复述确认); 409 if already confirmed."""
    intake.confirm_read_back(case_id, actor=actor, note=body.note, correlation_id=UUID(request.state.correlation_id))


@router.post("/complaints/{case_id}/amendments", status_code=204)
def amend_complaint(case_id: UUID, body: Amendment, intake: IntakeApp, actor: RequestActor, request: Request) -> None:
    """Correct or supplement the record; the event keeps old and new values and the reason."""
    intake.amend_complaint(
        case_id,
        actor=actor,
        kind=body.kind,
        reason=body.reason,
        changes=body.changes.given(),
        correlation_id=UUID(request.state.correlation_id),
    )


@router.post("/complaints/{case_id}/withdrawal", status_code=204)
def withdraw_complaint(case_id: UUID, body: Reason, intake: IntakeApp, actor: RequestActor, request: Request) -> None:
    """The customer withdraws the complaint (409 if already withdrawn)."""
    intake.withdraw_complaint(
        case_id, actor=actor, reason=body.reason, correlation_id=UUID(request.state.correlation_id)
    )


class ContactDetails(BaseModel):
    """The customer's contact details and original description, unsealed; after erasure only ``erased``."""

    erased: bool
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    description: str | None = None


class Stores(BaseModel):
    stores: list[Store]


class NuisanceFlagged(BaseModel):
    contact_blocked: bool = Field(description="whether this flag blocked the contact")


class NuisanceCase(BaseModel):
    case_id: str
    case_number: str
    received_at: str


class NuisanceQueue(BaseModel):
    cases: list[NuisanceCase]


@router.get("/complaints/{case_id}/contact", response_model=ContactDetails, response_model_exclude_unset=True)
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


@router.get("/stores", response_model=Stores)
def list_stores(intake: IntakeApp) -> dict[str, Any]:
    """The stores complaints can be filed against (the chain's master data)."""
    return {"stores": [store.model_dump() for store in intake.master_data.stores.values()]}


@router.post("/complaints/{case_id}/nuisance-flags", status_code=201, response_model=NuisanceFlagged)
def flag_nuisance(
    case_id: UUID, body: Reason, intake: IntakeApp, actor: RequestActor, request: Request
) -> dict[str, bool]:
    """Flag the case's contact as abusive (骚扰): the case joins the nuisance queue; enough flags within the
    window (``config/intake.yaml``) block the contact, whose complaints are then refused (403)."""
    blocked = intake.flag_nuisance(
        case_id, actor=actor, reason=body.reason, correlation_id=UUID(request.state.correlation_id)
    )
    return {"contact_blocked": blocked}


@router.get("/intake/queues/nuisance", response_model=NuisanceQueue)
def nuisance_queue(intake: IntakeApp, principal: CurrentPrincipal, access: CurrentAccess) -> dict[str, Any]:
    """Cases from contacts flagged as abusive, handled apart from the normal queues (those within reach)."""
    return {"cases": [row for row in intake.nuisance_queue() if access.sees(principal, UUID(row["case_id"]))]}
