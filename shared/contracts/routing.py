"""Events routing publishes: triage, decisions on the case, ownership, clocks, escalation, emergency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from shared.contracts.base import Contract, _Money
from shared.vocabulary import Category, Severity


class ComplaintTriaged(_Money):
    producer: ClassVar[str] = "routing"
    category: Category
    subcategory: str | None = None
    confidence: Decimal
    matched_terms: list[str]
    severity: Severity
    severity_reasons: list[str]


class CategoryOverridden(Contract):
    """Staff corrected the classification, with the reason."""

    producer: ClassVar[str] = "routing"
    category: Category
    subcategory: str | None = None
    previous_category: Category
    reason: str


class SeverityChanged(Contract):
    """Staff raised (or a manager lowered) the severity, with the reason; open clocks are re-planned."""

    producer: ClassVar[str] = "routing"
    severity: Severity
    previous_severity: Severity
    reason: str


class ValidityDecided(Contract):
    """Whether the complaint is well-founded (投诉是否成立); not well-founded closes it as ``rejected``."""

    producer: ClassVar[str] = "routing"
    well_founded: bool
    reason: str | None = None
    case_number: str
    language: str


class AppealLodged(Contract):
    """The customer appealed a rejection; the case is reopened."""

    producer: ClassVar[str] = "routing"
    reason: str


class ResponsibilityDetermined(Contract):
    producer: ClassVar[str] = "routing"
    primary: str
    secondary: list[str]
    reason: str


class _Ownership(Contract):
    """Who owns the case now: a team's queue, a member of it (if the team has one) and the tier."""

    team: str
    queue: str
    assignee: str | None = None
    tier: str


class CaseAssigned(_Ownership):
    producer: ClassVar[str] = "routing"
    rule: str | None = None
    supporting: list[str] = []
    reason: str


class CaseTransferred(_Ownership):
    producer: ClassVar[str] = "routing"
    from_queue: str
    reason: str


class CaseEscalated(_Ownership):
    """The case moved one tier up because ``clock`` breached or for ``reason`` (the customer refused twice);
    ``notify`` names the staff to tell."""

    producer: ClassVar[str] = "routing"
    from_tier: str
    clock: str | None = None
    reason: str
    notify: list[str]


class SupportingTeamAdded(Contract):
    producer: ClassVar[str] = "routing"
    queue: str
    reason: str


class MerchantChased(Contract):
    """The mall asked its merchant to respond (the merchant_response clock runs)."""

    producer: ClassVar[str] = "routing"
    merchant_id: str


class MerchantResponded(Contract):
    producer: ClassVar[str] = "routing"
    note: str


class _ClockChange(Contract):
    """A case clock after the change: its whole state (name, mode, used time, pauses, due instants)."""

    clock: dict[str, Any]
    reason: str


class ClockStarted(_ClockChange):
    producer: ClassVar[str] = "routing"


class ClockPaused(_ClockChange):
    producer: ClassVar[str] = "routing"


class ClockResumed(_ClockChange):
    producer: ClassVar[str] = "routing"


class ClockReplanned(_ClockChange):
    producer: ClassVar[str] = "routing"


class ClockStopped(_ClockChange):
    producer: ClassVar[str] = "routing"
    met: bool


class ClockWarned(Contract):
    """A clock reached its first (``75``) or second (``90``) warning threshold."""

    producer: ClassVar[str] = "routing"
    clock: str
    threshold: str
    due_at: str | None = None


class SlaBreached(Contract):
    producer: ClassVar[str] = "routing"
    clock: str
    due_at: str | None = None


class AwaitingCustomer(Contract):
    producer: ClassVar[str] = "routing"
    reason: str


class CustomerResponded(Contract):
    producer: ClassVar[str] = "routing"


class EmergencyDeclared(Contract):
    """The emergency protocol started: the crisis team is notified and the checklist became tasks."""

    producer: ClassVar[str] = "routing"
    reason: str
    crisis_queue: str
    notify: list[str]
    tasks: list[dict[str, Any]]


class EmergencyStepRecorded(Contract):
    producer: ClassVar[str] = "routing"
    task: str
    note: str
    done: bool
