"""Event contracts: the envelope every event carries and the payloads that cross services.

A service's domain events are stored by its own Application; the relay turns each one into an
``EventMessage`` (envelope + a payload validated against the contract registered for its type)
and publishes it on NATS. Consumers parse messages back into typed contracts. Personal data
never travels in a contract: the customer is a pseudonymous ``customer_id``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from shared.vocabulary import Category, Channel, Role, Severity

SCHEMA_VERSION = 1
CONTRACTS: dict[str, type[Contract]] = {}


class Actor(BaseModel):
    """Who did it: a person (id, role, store) or a service acting by policy."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    role: Role
    store: str | None = None

    @classmethod
    def system(cls, service: str) -> Actor:
        return cls(id=f"ombud-{service}", role=Role.SYSTEM)


class Envelope(BaseModel):
    """What every stored event carries besides its payload."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    case_id: UUID
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    causation_id: UUID | None = None
    correlation_id: UUID
    service: str
    schema_version: int = SCHEMA_VERSION

    def as_stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def event_id_for(originator_id: UUID, version: int) -> UUID:
    """A stable id for the event at ``version`` of an aggregate (same on every replay)."""
    return uuid5(originator_id, str(version))


class Contract(BaseModel):
    """Base of every public event payload; subclasses register under their class name."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: ClassVar[int] = 1
    producer: ClassVar[str] = ""

    @classmethod
    def subject(cls) -> str:
        """The NATS subject this event type is published on."""
        return f"ombud.{cls.producer}.{cls.__name__}"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            CONTRACTS[cls.__name__] = cls


class EventMessage(BaseModel):
    """One event as it travels on NATS: ``ombud.<service>.<type>``, id ``<service>:<nid>``."""

    service: str
    notification_id: int
    type: str
    envelope: Envelope
    payload: dict[str, Any]

    @property
    def msg_id(self) -> str:
        return f"{self.service}:{self.notification_id}"

    @property
    def subject(self) -> str:
        return f"ombud.{self.service}.{self.type}"

    def contract(self) -> Contract:
        """The payload parsed into its registered contract (KeyError for an unknown type)."""
        return CONTRACTS[self.type].model_validate(self.payload)


class _Money(Contract):
    """Decimals (money, confidence) travel as strings, never floats."""

    @field_serializer("*", when_used="json")
    def _decimal_as_string(self, value: Any) -> Any:
        return str(value) if isinstance(value, Decimal) else value


class ComplaintReceived(_Money):
    """A complaint was recorded. No personal data: ``customer_id`` is a pseudonym, texts are masked."""

    producer: ClassVar[str] = "intake"
    case_number: str
    channel: Channel
    channel_details: dict[str, str] = {}
    store_id: str
    merchant_id: str | None = None
    staff_id: str | None = None
    customer_id: UUID
    description: str
    occurred_where: str | None = None
    demand: str | None = None
    order_id: str | None = None
    sku: str | None = None
    batch: str | None = None
    serial: str | None = None
    amount_paid: Decimal | None = None
    language: str = "zh"
    received_by: dict[str, Any] | None = None
    source_flagged: bool = False


class AcknowledgementDue(Contract):
    """The customer is owed an apology and their case number at once."""

    producer: ClassVar[str] = "intake"
    case_number: str
    channel: Channel
    language: str


class ReadBackConfirmed(Contract):
    """The complaint was read back to the customer, who confirmed it (复述确认)."""

    producer: ClassVar[str] = "intake"
    note: str | None = None


class ComplaintAmended(Contract):
    """A correction or supplement to the record: which fields changed, and why (values stay in intake)."""

    producer: ClassVar[str] = "intake"
    kind: str
    reason: str
    changed_fields: list[str]


class ComplaintWithdrawn(Contract):
    producer: ClassVar[str] = "intake"
    reason: str


class EvidenceAttached(Contract):
    """A piece of evidence, stored under its content hash."""

    producer: ClassVar[str] = "intake"
    sha256: str
    media_type: str
    size: int


class RepeatComplaintLinked(Contract):
    """The complaint repeats the customer's earlier one (same order, or same category, within the window)."""

    producer: ClassVar[str] = "intake"
    earlier_case_id: UUID
    earlier_case_number: str
    basis: str
    days_apart: int


class NuisanceFlagged(Contract):
    """Staff flagged the complaint's source as abusive (骚扰); the case goes to the nuisance queue."""

    producer: ClassVar[str] = "intake"
    reason: str


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
    """A clock breached and the case moved one tier up; ``notify`` names the staff to tell."""

    producer: ClassVar[str] = "routing"
    from_tier: str
    clock: str
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


class ResolutionOpened(Contract):
    producer: ClassVar[str] = "resolution"
    category: Category
    severity: Severity


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


class ContactDetailsRead(Contract):
    """Someone (the envelope's actor) was shown a case's customer contact details; ``fields`` names them."""

    producer: ClassVar[str] = "intake"
    fields: list[str]


class CustomerErased(Contract):
    """The personal data of the case's customer was erased (their data keys destroyed); the case itself stays."""

    producer: ClassVar[str] = "intake"
    customer_id: UUID
    approved_by: Actor
