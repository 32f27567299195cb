"""Events intake publishes: a complaint received and everything recorded about it after."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from shared.contracts.base import Actor, Contract, _Money
from shared.vocabulary import Channel


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


class ContactDetailsRead(Contract):
    """Someone (the envelope's actor) was shown a case's customer contact details; ``fields`` names them."""

    producer: ClassVar[str] = "intake"
    fields: list[str]


class CustomerErased(Contract):
    """The personal data of the case's customer was erased (their data keys destroyed); the case itself stays."""

    producer: ClassVar[str] = "intake"
    customer_id: UUID
    approved_by: Actor


class MessageDelivered(Contract):
    """A prepared message reached the customer's channel; ``message_event_id`` is the event that prepared it."""

    producer: ClassVar[str] = "intake"
    message_event_id: UUID
    channel: str
    attempt: int


class MessageDeliveryFailed(Contract):
    """A delivery attempt failed; ``final`` when no attempt is left (otherwise the next one is at ``retry_at``)."""

    producer: ClassVar[str] = "intake"
    message_event_id: UUID
    channel: str
    attempt: int
    error: str
    final: bool
    retry_at: str | None = None


class CustomerLinkIssued(Contract):
    """A message to the customer carries a link to answer ``subject_id`` (a proposal number, a follow-up round) for
    ``purpose`` (``proposal_answer``, ``survey``) until ``expires_at``. Only the token's SHA-256 travels (the token
    is random, 192 bits: its hash gives nothing away); the service owning the answer checks tokens against it."""

    producer: ClassVar[str] = "intake"
    message_event_id: UUID
    token_id: str
    token_hash: str
    purpose: str
    subject_id: str
    expires_at: datetime
