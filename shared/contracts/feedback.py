"""Events feedback publishes: messages to the customer, follow-up, surveys, closing and reopening."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from shared.contracts.base import Contract


class AcknowledgementPrepared(Contract):
    producer: ClassVar[str] = "feedback"
    case_number: str
    language: str
    template: str


class RejectionExplained(Contract):
    """A polite explanation, with the reason, was prepared for a customer whose complaint was not well-founded."""

    producer: ClassVar[str] = "feedback"
    case_number: str
    language: str
    reason: str
    template: str


class MessagePrepared(Contract):
    """A message to the customer, recorded before it is sent: which template, in which language, with which values
    (no personal data: intake, which holds the contact, fills in the address when it delivers)."""

    producer: ClassVar[str] = "feedback"
    template: str
    language: str
    params: dict[str, str] = {}


class FollowUpScheduled(Contract):
    """A resolved case gets its satisfaction follow-up (回访), due by ``due_at``."""

    producer: ClassVar[str] = "feedback"
    due_at: datetime


class SurveySent(Contract):
    """One attempt to reach the customer with the survey."""

    producer: ClassVar[str] = "feedback"
    attempt: int


class SurveyAnswered(Contract):
    """The customer's answer: satisfaction 1–5, whether anything is left, a comment."""

    producer: ClassVar[str] = "feedback"
    score: int
    anything_left: bool
    comment: str | None = None


class CaseClosed(Contract):
    """The loop is closed (闭环): ``outcome`` is satisfied, neutral or no_response; the closing summary."""

    producer: ClassVar[str] = "feedback"
    outcome: str
    summary: str
    attempts: int


class CaseReopened(Contract):
    """Back to its owner: after a low score (with the customer's comment) or by a manager (with a reason)."""

    producer: ClassVar[str] = "feedback"
    by: str
    reason: str


class HighFrequencyWarningRaised(Contract):
    """高频问题预警: a category, SKU or store over its baseline; one per value and day, with the cases behind it."""

    producer: ClassVar[str] = "feedback"
    about_case: ClassVar[bool] = False
    dimension: str
    value: str
    count: int
    baseline_count: int
    threshold: str
    window_from: str
    window_to: str
    case_ids: list[str]
