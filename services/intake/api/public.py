"""The customer's own status lookup: by case number and a piece of their contact, no personal data back."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.intake.api.common import IntakeApp
from shared.clientaddr import client_address
from shared.errors import NotFound
from shared.ratelimit import Limit, RateLimits

router = APIRouter(prefix="/api/public", tags=["public"])

# What the customer is told about where their case stands.
STEPS = {
    "received": ("已受理，正在评估", "received, being assessed"),
    "triaged": ("正在处理", "being handled"),
    "withdrawn": ("已撤回", "withdrawn"),
}
# Enough for a person, too few to guess a contact. Limits are per client (and per client and case), never per
# case alone: a stranger's wrong guesses must not lock the real customer out of their own case.
LOOKUPS = Limit("public-lookups", 30, timedelta(minutes=1))
WRONG_PER_CASE = Limit("public-wrong-per-case", 5, timedelta(hours=1))  # key: client and case number
WRONG = Limit("public-wrong", 20, timedelta(hours=1))  # key: client; bounds guessing across many cases


def limits(request: Request, intake: Any) -> RateLimits:
    """The lookup's counters, in intake's store so every process and replica shares them (made on first use)."""
    state = request.app.state
    if not hasattr(state, "public_limits"):
        state.public_limits = RateLimits(intake.side, intake.clock)
    return state.public_limits


class Step(BaseModel):
    zh: str
    en: str


class CaseStatus(BaseModel):
    """Where a case stands, for its customer: no personal data."""

    case_number: str
    status: str
    current_step: Step
    next_deadline: str | None = Field(description="the next deadline promised, once the case has one")
    received_at: str
    updated_at: str


@router.get("/cases/{case_number}", response_model=CaseStatus)
def case_status(
    case_number: str,
    intake: IntakeApp,
    request: Request,
    contact: Annotated[
        str, Query(min_length=4, max_length=254, description="last 4 digits of the phone, or the e-mail")
    ],
) -> Any:
    """Where a case stands, for its customer: status, current step, next deadline; no personal data.

    An unknown number and a wrong contact both answer 404, so the lookup reveals nothing; 429 when a
    client asks too often, or answered wrong too often (for this case, or at all).
    """
    counters = limits(request, intake)
    client = client_address(request)
    if not counters.allow(LOOKUPS, client):
        return JSONResponse(status_code=429, content={"detail": "too many lookups; try again in a minute"})
    number = case_number.strip().upper()
    this_case = f"{client} {number}"
    if counters.exceeded(WRONG_PER_CASE, this_case) or counters.exceeded(WRONG, client):
        return JSONResponse(status_code=429, content={"detail": "too many wrong answers; try again later"})
    try:
        complaint = intake.get_complaint(intake.case_id_for_number(number))
        matches = intake.contact_matches(complaint, contact)
    except NotFound:
        matches = False
    if not matches:
        counters.hit(WRONG_PER_CASE, this_case)
        counters.hit(WRONG, client)
        raise NotFound("no case with this number and contact")
    return status_of(request, complaint, number)


def status_of(request: Request, complaint: Any, number: str) -> dict[str, Any]:
    """The case's status from the case view (feedback) when it runs here, else from intake's own record."""
    case_id = complaint.id
    feedback = request.app.state.services.get("feedback")
    view = feedback.views.case(case_id) if feedback is not None else None
    status = "withdrawn" if complaint.withdrawn else (view or {}).get("status") or "received"
    zh, en = STEPS.get(status, ("处理中", "in progress"))
    return {
        "case_number": number,
        "status": status,
        "current_step": {"zh": zh, "en": en},
        # Deadlines come with routing's clocks; until a case has one, there is nothing to promise.
        "next_deadline": (view or {}).get("next_deadline"),
        "received_at": complaint.created_on.isoformat(),
        "updated_at": (view or {}).get("updated_at") or complaint.created_on.isoformat(),
    }
