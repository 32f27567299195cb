"""Events resolution publishes about a case: investigation, proposals and approvals, the customer's answer,
execution, accountability. Returns and recalls have modules of their own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from shared.contracts.base import Contract, _Money
from shared.vocabulary import Category, Severity


class ResolutionOpened(Contract):
    producer: ClassVar[str] = "resolution"
    category: Category
    severity: Severity
    subcategory: str | None = None


class InvestigationPlanned(Contract):
    producer: ClassVar[str] = "resolution"
    plan: str
    authenticity_dispute: bool


class InvestigationTaskAssigned(Contract):
    """A specialist (appraiser, technician, legal, store manager) got a task with a deadline."""

    producer: ClassVar[str] = "resolution"
    task_id: str
    kind: str
    owner: str
    description: str
    due_at: str


class InvestigationTaskCompleted(Contract):
    producer: ClassVar[str] = "resolution"
    task_id: str
    result: str
    report_sha256: str | None = None


class EvidenceItemRecorded(Contract):
    producer: ClassVar[str] = "resolution"
    kind: str
    description: str
    sha256: str | None = None


class InterviewRecorded(Contract):
    """An interview was recorded; its summary stays in resolution's store."""

    producer: ClassVar[str] = "resolution"
    interviewee: str


class FindingsRecorded(Contract):
    producer: ClassVar[str] = "resolution"
    findings: str
    root_cause: str


class FraudEstablished(Contract):
    """HQ or legal established fraud: CPL art. 55 compensation applies."""

    producer: ClassVar[str] = "resolution"
    reason: str


class RemedyProposed(_Money):
    """A proposal of remedies (amounts in CNY), the tier it needs, and what the standards suggested."""

    producer: ClassVar[str] = "resolution"
    proposal: int
    remedies: list[dict[str, Any]]
    total: Decimal
    proposer_tier: str
    required_tier: str
    suggestion: dict[str, Any]
    # The value the tier was judged on (an exchange counts at the goods' value); absent on proposals made before.
    tier_value: Decimal | None = None


class ProposalApproved(Contract):
    """An approval in the chain; ``final`` when the approver's tier is the one the proposal needs (or above)."""

    producer: ClassVar[str] = "resolution"
    proposal: int
    approver_tier: str
    final: bool


class ProposalRejected(Contract):
    producer: ClassVar[str] = "resolution"
    proposal: int
    reason: str


class ProposalOffered(_Money):
    """The proposal was put to the customer; the case waits on them."""

    producer: ClassVar[str] = "resolution"
    proposal: int
    remedies: list[dict[str, Any]]
    total: Decimal


class CustomerAccepted(Contract):
    producer: ClassVar[str] = "resolution"
    proposal: int


class CustomerRefused(Contract):
    """The customer refused; ``refusals`` counts the proposals they refused (two escalate the case)."""

    producer: ClassVar[str] = "resolution"
    proposal: int
    reason: str
    refusals: int


class CustomerCountered(_Money):
    producer: ClassVar[str] = "resolution"
    proposal: int
    counter: str
    amount: Decimal | None = None


class RemedyExecuted(Contract):
    producer: ClassVar[str] = "resolution"
    index: int
    remedy: str
    reference: str | None = None
    evidence_sha256: str | None = None
    note: str | None = None


class CaseResolved(Contract):
    producer: ClassVar[str] = "resolution"
    summary: str


class AccountabilityRecorded(Contract):
    """The measure taken against the staff member at fault (处罚直接责任者)."""

    producer: ClassVar[str] = "resolution"
    staff_id: str
    measure: str
    note: str


class ResolutionReopened(Contract):
    """The case was reopened: resolution investigates and proposes again."""

    producer: ClassVar[str] = "resolution"
    reason: str
