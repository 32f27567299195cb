"""Intake's HTTP API for the messages sent to a case's customer: what was sent, how, and whether it arrived."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from services.intake.api.common import IntakeApp

router = APIRouter(prefix="/api", tags=["intake"])


class Attempt(BaseModel):
    attempt: int
    at: datetime
    outcome: str
    error: str | None = None
    final: bool | None = None


class MessageStatus(BaseModel):
    """One prepared message and its delivery; no address and no text (those stay sealed in intake)."""

    delivery_id: UUID
    message_event_id: UUID
    message_type: str
    template: str
    language: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    scheduled_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    history: list[Attempt]


class Messages(BaseModel):
    messages: list[MessageStatus]


@router.get("/cases/{case_id}/messages", response_model=Messages)
def case_messages(case_id: UUID, intake: IntakeApp) -> Any:
    """Every message to the case's customer, oldest first: template, language, channel (email, sms, app, chat;
    none when there was no way to reach them), status (scheduled, delivered, failed), attempts, the last error, when
    it was scheduled, the next attempt and when it finished, each attempt's outcome (404 unknown case)."""
    return {"messages": intake.case_messages(case_id)}
