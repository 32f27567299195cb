"""Feedback's follow-up API: the customer's survey answer (by token, no login), a manager's reopening of a closed
case, and the follow-up as staff see it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.feedback.api.models import FollowUpPublic, SurveyAnswered
from services.feedback.application import Feedback
from services.feedback.domain import FollowUp
from shared.http import RequestActor, service_part
from shared.textinput import text

FeedbackApp = Annotated[Feedback, Depends(service_part("feedback"))]
router = APIRouter(tags=["followup"])
staff = APIRouter(prefix="/api/feedback/cases/{case_id}", tags=["followup"])
public = APIRouter(prefix="/api/public/cases/{case_id}", tags=["customer"])


class SurveyAnswer(BaseModel):
    token: str = Field(min_length=1, max_length=64, description="the token of the survey link sent to the customer")
    score: int = Field(ge=1, le=5, description="satisfaction: 1 (very dissatisfied) to 5 (very satisfied)")
    anything_left: bool = Field(default=False, description="whether anything about the complaint is left")
    comment: text(2000) | None = None


class Reopening(BaseModel):
    reason: text(2000, min_length=1)


def follow_up_view(follow_up: FollowUp) -> dict[str, Any]:
    """The follow-up: its state and current round (due time, attempts, answer, outcome), and every round."""
    current = follow_up.current
    return {
        "case_id": str(follow_up.case_id),
        "state": follow_up.state_name,
        "round": follow_up.round,
        "due_at": current["due_at"],
        "next_step": follow_up.next_step,
        "next_at": None if follow_up.next_at is None else follow_up.next_at.isoformat(),
        "attempts": current["attempts"],
        "answer": current["answer"],
        "outcome": current["outcome"],
        "summary": current["summary"],
        "reopened": current["reopened"],
        "rounds": follow_up.rounds,
    }


@staff.get("/follow-up", response_model=FollowUpPublic)
def get_follow_up(case_id: UUID, feedback: FeedbackApp) -> dict[str, Any]:
    """The case's follow-up (404 until the case is resolved)."""
    return follow_up_view(feedback.get_follow_up(case_id))


@staff.post("/reopen", response_model=FollowUpPublic)
def reopen_case(case_id: UUID, body: Reopening, actor: RequestActor, feedback: FeedbackApp) -> dict[str, Any]:
    """A manager (cs_manager, regional_manager, hq, admin; else 403) reopens a closed case (else 409) with a reason:
    it goes back to its owner and resolution investigates again."""
    return follow_up_view(feedback.reopen_case(case_id, actor, body.reason))


@public.post("/survey", response_model=SurveyAnswered)
def answer_survey(case_id: UUID, body: SurveyAnswer, feedback: FeedbackApp) -> dict[str, Any]:
    """For the customer, with the token from their link (no login; a wrong token is 404): satisfaction 1–5, whether
    anything is left, a comment. A high score closes the case, a low one (or anything left) reopens it."""
    found = feedback.answer_survey(case_id, body.token, body.score, body.anything_left, body.comment)
    outcome = found.current["outcome"]
    return {"case_id": str(case_id), "round": found.round, "state": found.state_name, "outcome": outcome}


router.include_router(staff)
router.include_router(public)
