"""Resolution's returns API: a case's return, exchange and repair requests and each step of their flow."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

from services.resolution.api.common import ResolutionApp
from services.resolution.api.models import CaseReturns, ReturnPublic
from services.resolution.domain.returns import InspectionResult, ReturnKind, ReturnReason, ReturnRequest, Sale
from shared.bounds import Day, Instant
from shared.http import RequestActor
from shared.idempotency import client_key
from shared.textinput import line, text

router = APIRouter(tags=["returns"])
Tracking = Annotated[line(64, min_length=1), Field(description="the carrier's tracking number")]
Text = text(2000, min_length=1)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReturnAsk(_Body):
    kind: ReturnKind
    reason: ReturnReason
    purchased_on: Day
    received_on: Day | None = Field(
        default=None, description="the day the customer got the goods; required for a distance sale"
    )
    sku: line(64) | None = Field(default=None, description="default: the case's product")
    sale: Sale | None = Field(default=None, description="default: distance for an online store, else in_store")
    opened: bool = False
    has_inspection_report: bool = False


class Review(_Body):
    approved: bool
    reason: text(2000) | None = Field(default=None, description="required to refuse or to override")


class GoodsReceipt(_Body):
    tracking_number: Tracking
    received_at: Instant | None = Field(default=None, description="default: now")


class Inspection(_Body):
    result: InspectionResult
    note: Text
    report_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Refund(_Body):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="CNY, e.g. \"399.00\"")
    reference: Annotated[line(64, min_length=1), Field(description="the payment's reference")]


class Shipment(_Body):
    tracking_number: Tracking


class RepairDone(_Body):
    note: Text


def return_view(request: ReturnRequest) -> dict[str, Any]:
    """A return request as the API shows it: the ask, the rules' verdict and every step so far."""
    return {
        "request_id": str(request.id),
        "case_id": str(request.case_id),
        "number": request.number,
        "kind": request.kind.value,
        "reason": request.reason.value,
        "sku": request.sku,
        "sale": request.sale.value,
        "purchased_on": request.purchased_on.isoformat(),
        "received_on": request.received_on.isoformat(),
        "opened": request.opened,
        "has_inspection_report": request.has_inspection_report,
        "eligibility": request.eligibility.model_dump(mode="json"),
        "state": request.state.value,
        "requested_at": request.requested_at.isoformat(),
        "review": _jsonable(request.review),
        "goods": _jsonable(request.goods),
        "inspection": _jsonable(request.inspection),
        "refund": _jsonable(request.refund),
        "exchange": _jsonable(request.exchange),
        "repair": _jsonable(request.repair),
    }


def _jsonable(step: dict[str, Any] | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        k: v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v
        for k, v in step.items()
    }


@router.post("/api/cases/{case_id}/returns", status_code=201, response_model=ReturnPublic)
def request_return(
    case_id: UUID,
    body: ReturnAsk,
    actor: RequestActor,
    resolution: ResolutionApp,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    """Ask to return, exchange or repair the case's goods; the rules' verdict (eligible, rule, why, who pays the
    shipping) comes back and a refusal by rule still awaits review. 404 for an unknown case."""
    return return_view(
        resolution.request_return(
            case_id,
            actor,
            kind=body.kind,
            reason=body.reason,
            purchased_on=body.purchased_on,
            received_on=body.received_on,
            sku=body.sku,
            sale=body.sale,
            opened=body.opened,
            has_inspection_report=body.has_inspection_report,
            idempotency_key=client_key(actor.id, idempotency_key),
        )
    )


@router.get("/api/cases/{case_id}/returns", response_model=CaseReturns)
def list_returns(case_id: UUID, _: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """A case's return requests, oldest first (404 for an unknown case)."""
    return {"case_id": str(case_id), "returns": [return_view(r) for r in resolution.returns_of_case(case_id)]}


@router.get("/api/returns/{request_id}", response_model=ReturnPublic)
def get_return(request_id: UUID, _: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """One return request."""
    return return_view(resolution.get_return(request_id))


@router.post("/api/returns/{request_id}/review", response_model=ReturnPublic)
def review_return(request_id: UUID, body: Review, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Approve (a manager; against the rule only with a reason) or refuse with a reason (409 if reviewed)."""
    return return_view(resolution.review_return(request_id, actor, body.approved, body.reason))


@router.post("/api/returns/{request_id}/goods-received", response_model=ReturnPublic)
def receive_goods(
    request_id: UUID, body: GoodsReceipt, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """The goods came back (409 before approval)."""
    return return_view(resolution.receive_return_goods(request_id, actor, body.tracking_number, body.received_at))


@router.post("/api/returns/{request_id}/inspection", response_model=ReturnPublic)
def inspect_return(
    request_id: UUID, body: Inspection, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """The inspection of the returned goods: passed or failed (409 before they are received)."""
    return return_view(resolution.inspect_return(request_id, actor, body.result, body.note, body.report_sha256))


@router.post("/api/returns/{request_id}/refund", response_model=ReturnPublic)
def refund_return(request_id: UUID, body: Refund, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Refund a return whose goods passed inspection (409 otherwise; 422 above the amount paid)."""
    return return_view(resolution.refund_return(request_id, actor, body.amount, body.reference))


@router.post("/api/returns/{request_id}/exchange-shipment", response_model=ReturnPublic)
def ship_exchange(request_id: UUID, body: Shipment, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Send the replacement goods of an exchange (409 unless an inspected exchange)."""
    return return_view(resolution.ship_exchange(request_id, actor, body.tracking_number))


@router.post("/api/returns/{request_id}/repair-completion", response_model=ReturnPublic)
def complete_repair(
    request_id: UUID, body: RepairDone, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """The goods of a repair request were repaired (409 unless an inspected repair)."""
    return return_view(resolution.complete_repair(request_id, actor, body.note))
