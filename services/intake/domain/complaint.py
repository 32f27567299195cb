"""Intake's ``Complaint`` aggregate: the complaint record from receipt on. Pure.

Nothing is overwritten: read-back, corrections, supplements, evidence, repeat links, nuisance
flags and withdrawal are events of their own. Personal data is sealed by a callable the
application injects; the texts other services read are masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from services.intake.domain.record import ComplaintRecord, Customer, masked_details
from shared.contracts import Actor
from shared.errors import InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.privacy import mask_contact

Seal = Callable[[str, str], str]
# Fields a correction or supplement may change (the customer's contact is changed as a whole).
AMENDABLE = (
    "store_id", "merchant_id", "staff_id", "order_id", "sku", "batch", "serial",
    "description", "occurred_at", "occurred_where", "demand", "amount_paid", "customer",
)  # fmt: skip
AMEND_KINDS = ("correction", "supplement")


class Complaint(CaseAggregate):
    """A customer's complaint: who, about what, what happened, what they demand, and what followed.

    The customer's contact and the original description are kept only sealed (``customer_sealed``,
    ``description_sealed``); ``description``, ``demand`` and ``occurred_where`` are masked.
    """

    class ComplaintReceived(CaseAggregate.Created):
        case_number: str
        channel: str
        channel_details: dict[str, str]
        customer_id: UUID
        customer_sealed: str
        store_id: str
        merchant_id: str | None
        staff_id: str | None
        order_id: str | None
        sku: str | None
        batch: str | None
        serial: str | None
        description: str
        description_sealed: str
        occurred_where: str | None
        demand: str | None
        amount_paid: Decimal | None
        language: str
        received_by: dict[str, Any] | None
        source_flagged: bool

    class AcknowledgementDue(CaseAggregate.Event):
        """The customer is owed an apology and the case number at once (feedback sends it)."""

        case_number: str
        channel: str
        language: str

    class ReadBackConfirmed(CaseAggregate.Event):
        note: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.read_back_confirmed = True

    class ComplaintAmended(CaseAggregate.Event):
        kind: str
        reason: str
        changes: dict[str, Any]
        changed_fields: list[str]

        def apply(self, aggregate: Complaint) -> None:
            for name, change in self.changes.items():
                setattr(aggregate, name, change["to"])
            aggregate.amendments += 1

    class ComplaintWithdrawn(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.withdrawn = True

    class EvidenceAttached(CaseAggregate.Event):
        sha256: str
        media_type: str
        size: int
        filename: str | None
        note: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.evidence.append(self.sha256)

    class RepeatComplaintLinked(CaseAggregate.Event):
        earlier_case_id: UUID
        earlier_case_number: str
        basis: str
        days_apart: int

        def apply(self, aggregate: Complaint) -> None:
            aggregate.repeat_of = self.earlier_case_id

    class NuisanceFlagged(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.nuisance_flagged = True

    class ContactDetailsRead(CaseAggregate.Event):
        fields: list[str]

        def apply(self, aggregate: Complaint) -> None:
            aggregate.contact_reads += 1

    class CustomerErased(CaseAggregate.Event):
        customer_id: UUID
        approved_by: dict[str, Any]

        def apply(self, aggregate: Complaint) -> None:
            aggregate.customer_erased = True

    def __init__(
        self,
        envelope: dict[str, Any],
        case_number: str,
        channel: str,
        channel_details: dict[str, str],
        customer_id: UUID,
        customer_sealed: str,
        store_id: str,
        merchant_id: str | None,
        staff_id: str | None,
        order_id: str | None,
        sku: str | None,
        batch: str | None,
        serial: str | None,
        description: str,
        description_sealed: str,
        occurred_where: str | None,
        demand: str | None,
        amount_paid: Decimal | None,
        language: str,
        received_by: dict[str, Any] | None,
        source_flagged: bool,
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.case_number = case_number
        self.channel = channel
        self.channel_details = channel_details
        self.customer_id = customer_id
        self.customer_sealed = customer_sealed
        self.store_id = store_id
        self.merchant_id = merchant_id
        self.staff_id = staff_id
        self.order_id = order_id
        self.sku = sku
        self.batch = batch
        self.serial = serial
        self.description = description
        self.description_sealed = description_sealed
        self.occurred_at = envelope["occurred_at"]
        self.occurred_where = occurred_where
        self.demand = demand
        self.amount_paid = amount_paid
        self.language = language
        self.received_by = received_by
        self.nuisance_flagged = source_flagged
        self.read_back_confirmed = False
        self.amendments = 0
        self.withdrawn = False
        self.evidence: list[str] = []
        self.repeat_of: UUID | None = None
        self.customer_erased = False
        self.contact_reads = 0

    @classmethod
    def receive(
        cls,
        ctx: EventContext,
        record: ComplaintRecord,
        *,
        customer_id: UUID,
        assign_number: Callable[[], str],
        seal: Seal,
        source_flagged: bool = False,
    ) -> Complaint:
        """Record a complaint and owe the customer an acknowledgement; refuses a future ``occurred_at``.

        The case number is asked of ``assign_number``, and the personal data is handed to ``seal(field,
        plaintext) -> token``, only once every rule has passed, so a refused complaint uses neither.
        """
        if record.occurred_at is not None and record.occurred_at > ctx.recorded_at:
            raise InvalidValue("occurred_at", "lies in the future")
        contact = record.customer.contact()
        number = assign_number()
        complaint = cls._start(
            cls.ComplaintReceived,
            ctx.case_id,
            ctx.model_copy(update={"occurred_at": record.occurred_at}),
            case_number=number,
            channel=record.channel.value,
            channel_details=masked_details(record.channel_details, contact),
            customer_id=customer_id,
            customer_sealed=seal("customer", _json(contact)),
            **record.subject(),
            description=mask_contact(record.description, contact),
            description_sealed=seal("description", record.description),
            occurred_where=_masked(record.occurred_where, contact),
            demand=_masked(record.demand, contact),
            amount_paid=record.amount_paid,
            language=record.language,
            received_by=record.received_by.model_dump(mode="json") if record.received_by else None,
            source_flagged=source_flagged,
        )
        complaint._record(cls.AcknowledgementDue, ctx, case_number=number, channel=record.channel.value,
                          language=record.language)  # fmt: skip
        return complaint

    def confirm_read_back(self, ctx: EventContext, note: str | None = None) -> None:
        """The complaint was read back to the customer and they confirmed it (复述确认); once."""
        self._open()
        if self.read_back_confirmed:
            raise InvalidTransition(f"case {self.case_number}: the read-back is already confirmed")
        self._record(self.ReadBackConfirmed, ctx, note=_masked(note, {}))

    def amend(self, ctx: EventContext, *, kind: str, reason: str, changes: dict[str, Any], seal: Seal,
              known: dict[str, str] | None = None) -> None:  # fmt: skip
        """Correct or supplement the record: the old and new value of each field, and why. Nothing is overwritten.

        A new contact is sealed as a whole; a new description is kept sealed and masked, like the first. The texts
        are masked with the customer's ``known`` contact (as on receipt) and with a new contact given here.
        """
        self._open()
        if kind not in AMEND_KINDS:
            raise InvalidValue("kind", f"unknown kind {kind!r}", allowed=list(AMEND_KINDS))
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        unknown = sorted(set(changes) - set(AMENDABLE))
        if unknown or not changes:
            raise InvalidValue("changes", f"cannot change {', '.join(unknown) or 'nothing'}", allowed=list(AMENDABLE))
        recorded: dict[str, Any] = {}
        known = dict(known or {})
        # The contact first, so a new name or phone is masked in the texts changed alongside it.
        for name, value in sorted(changes.items(), key=lambda item: item[0] != "customer"):
            new = self._amended_value(name, value, ctx, seal, known)
            for field, to in new.items():
                before = getattr(self, field)
                if to != before:
                    recorded[field] = {"from": before, "to": to}
        if not recorded:
            raise InvalidValue("changes", "nothing differs from the record")
        self._record(
            self.ComplaintAmended,
            ctx,
            kind=kind,
            reason=mask_contact(reason.strip(), known),
            changes=recorded,
            changed_fields=sorted({name.removesuffix("_sealed") for name in recorded}),
        )

    def _amended_value(
        self, name: str, value: Any, ctx: EventContext, seal: Seal, known: dict[str, str]
    ) -> dict[str, Any]:
        # ``Changes`` checked the values at the door; these checks keep other callers from a 500 all the same.
        if name == "customer":
            try:
                customer = Customer.model_validate(value)
            except ValidationError as error:
                raise InvalidValue("changes.customer", "needs a name and a valid phone or e-mail") from error
            known.update(customer.contact())
            return {"customer_sealed": seal("customer", _json(customer.contact()))}
        if value is not None and not isinstance(value, str | int | Decimal | datetime):
            raise InvalidValue(f"changes.{name}", "must be a single value")
        if name == "description":
            text = str(value or "").strip()
            if not text:
                raise InvalidValue("changes.description", "must not be empty")
            return {"description": mask_contact(text, known), "description_sealed": seal("description", text)}
        if name == "store_id" and not value:
            raise InvalidValue("changes.store_id", "must not be empty")
        if name == "amount_paid":
            return {"amount_paid": _amount(value)}
        if name == "occurred_at":
            try:
                occurred = datetime.fromisoformat(str(value)) if value else None
            except ValueError as error:
                raise InvalidValue("changes.occurred_at", "not an ISO 8601 time") from error
            if occurred is not None and (occurred.tzinfo is None or occurred > ctx.recorded_at):
                raise InvalidValue("changes.occurred_at", "needs a timezone and must not lie in the future")
            return {"occurred_at": occurred.isoformat() if occurred else None}
        return {name: _masked(str(value), known) if value not in (None, "") else None}

    def withdraw(self, ctx: EventContext, reason: str) -> None:
        """The customer withdraws the complaint, with a reason; the case stops here."""
        self._open()
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        self._record(self.ComplaintWithdrawn, ctx, reason=mask_contact(reason.strip()))

    def attach_evidence(self, ctx: EventContext, *, sha256: str, media_type: str, size: int, filename: str | None,
                        note: str | None, known: dict[str, str] | None = None) -> bool:  # fmt: skip
        """Record a piece of evidence stored under its content hash; False if this content is already attached.

        The file name and note are masked with the customer's ``known`` contact (a scan named after the customer
        is common) and with the contact patterns."""
        if self.withdrawn:
            raise InvalidTransition(f"case {self.case_number} was withdrawn")
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise InvalidValue("sha256", "must be 64 lowercase hex digits")
        if sha256 in self.evidence:
            return False
        self._record(
            self.EvidenceAttached,
            ctx,
            sha256=sha256,
            media_type=media_type,
            size=size,
            filename=_masked(filename, known or {}),
            note=_masked(note, known or {}),
        )
        return True

    def link_repeat(self, ctx: EventContext, *, earlier_case_id: UUID, earlier_case_number: str, basis: str,
                    days_apart: int) -> None:  # fmt: skip
        """Link this complaint to the customer's earlier one (once)."""
        if self.repeat_of is None:
            self._record(self.RepeatComplaintLinked, ctx, earlier_case_id=earlier_case_id,
                         earlier_case_number=earlier_case_number, basis=basis, days_apart=days_apart)  # fmt: skip

    def flag_nuisance(self, ctx: EventContext, reason: str) -> None:
        """Staff flag this complaint's source as abusive (骚扰); the case goes to the nuisance queue."""
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        self._record(self.NuisanceFlagged, ctx, reason=mask_contact(reason.strip()))

    def record_contact_read(self, ctx: EventContext, fields: Sequence[str]) -> None:
        """Record that ``ctx.actor`` was shown the customer's contact details (``fields``, names only)."""
        if self.customer_erased:
            raise InvalidTransition(f"the customer of case {self.id} was erased; there is nothing to read")
        self._record(self.ContactDetailsRead, ctx, fields=list(fields))

    def record_erasure(self, ctx: EventContext, approved_by: Actor) -> None:
        """Record that the customer's personal data in this case was erased (once; a repeat changes nothing)."""
        if not self.customer_erased:
            self._record(
                self.CustomerErased, ctx, customer_id=self.customer_id, approved_by=approved_by.model_dump(mode="json")
            )

    def _open(self) -> None:
        if self.withdrawn:
            raise InvalidTransition(f"case {self.case_number} was withdrawn")


def _json(contact: dict[str, str]) -> str:
    return json.dumps(contact, ensure_ascii=False, sort_keys=True)


def _masked(text: str | None, contact: dict[str, str]) -> str | None:
    return mask_contact(text, contact) if text else text


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise InvalidValue("changes.amount_paid", "not a decimal amount") from error
    if not amount.is_finite() or amount < 0 or amount.adjusted() >= 10 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidValue("changes.amount_paid", "must be a non-negative amount with at most 2 decimals")
    return amount


def case_number(day: str, sequence: int) -> str:
    """Human-readable, unique and sortable by date: ``CMP-20261125-000123``."""
    return f"CMP-{day}-{sequence:06d}"
