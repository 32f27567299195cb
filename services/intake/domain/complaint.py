"""Intake's domain: the ``Complaint`` aggregate (receipt and record of a complaint) and the customer's
privacy record (erasures). Pure: personal data is sealed by a callable the application injects."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.eventstore import CaseAggregate, EventContext
from shared.privacy import mask_contact
from shared.vocabulary import Channel, Role

PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTACT_FIELDS = ("name", "phone", "email", "address")
# Who may see how to reach a customer: the staff who handle the case, and legal.
CONTACT_READERS = frozenset({Role.FRONTLINE, Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.LEGAL})
# Who may approve erasing a customer's personal data.
ERASURE_APPROVERS = frozenset({Role.LEGAL, Role.HQ, Role.ADMIN})

Seal = Callable[[str, str], str]


class Complaint(CaseAggregate):
    """A customer's complaint as received: who, about what, what happened, what they demand.

    The customer's contact and the original description are kept only sealed (``customer_sealed``,
    ``description_sealed``); ``description`` and ``demand`` are the texts with contact details masked,
    which is what other services get.
    """

    class ComplaintReceived(CaseAggregate.Created):
        case_number: str
        channel: str
        store_id: str
        customer_id: UUID
        customer_sealed: str
        description: str
        description_sealed: str
        demand: str | None
        order_id: str | None
        sku: str | None
        batch: str | None
        amount_paid: Decimal | None
        language: str

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
        store_id: str,
        customer_id: UUID,
        customer_sealed: str,
        description: str,
        description_sealed: str,
        demand: str | None,
        order_id: str | None,
        sku: str | None,
        batch: str | None,
        amount_paid: Decimal | None,
        language: str,
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.case_number = case_number
        self.channel = channel
        self.store_id = store_id
        self.customer_id = customer_id
        self.customer_sealed = customer_sealed
        self.description = description
        self.description_sealed = description_sealed
        self.demand = demand
        self.order_id = order_id
        self.sku = sku
        self.batch = batch
        self.amount_paid = amount_paid
        self.language = language
        self.contact_reads = 0
        self.customer_erased = False

    @classmethod
    def receive(
        cls,
        ctx: EventContext,
        *,
        assign_number: Callable[[], str],
        seal: Seal,
        channel: str,
        store_id: str,
        customer_id: UUID,
        customer: dict[str, Any],
        description: str,
        demand: str | None = None,
        order_id: str | None = None,
        sku: str | None = None,
        batch: str | None = None,
        amount_paid: Decimal | None = None,
        occurred_at: datetime | None = None,
        language: str = "zh",
    ) -> Complaint:
        """Record a complaint; refuses an unknown channel, no contact, a future date, a negative amount.

        The case number is asked of ``assign_number``, and the personal data is handed to ``seal(field,
        plaintext) -> token``, only once every rule has passed, so a refused complaint uses neither.
        """
        if channel not in set(Channel):
            raise InvalidValue("channel", f"unknown channel {channel!r}", allowed=list(Channel))
        if not (customer.get("phone") or customer.get("email")):
            raise InvalidValue("customer", "a phone number or an e-mail address is required")
        if customer.get("phone") and not PHONE.match(customer["phone"]):
            raise InvalidValue("customer.phone", "not a phone number")
        if customer.get("email") and not EMAIL.match(customer["email"]):
            raise InvalidValue("customer.email", "not an e-mail address")
        if not description.strip():
            raise InvalidValue("description", "must not be empty")
        if occurred_at is not None and occurred_at > ctx.recorded_at:
            raise InvalidValue("occurred_at", "lies in the future")
        if amount_paid is not None and amount_paid < 0:
            raise InvalidValue("amount_paid", "must not be negative")
        contact = {field: customer[field] for field in CONTACT_FIELDS if customer.get(field)}
        return cls._start(
            cls.ComplaintReceived,
            ctx.case_id,
            ctx.model_copy(update={"occurred_at": occurred_at}),
            case_number=assign_number(),
            channel=channel,
            store_id=store_id,
            customer_id=customer_id,
            customer_sealed=seal("customer", json.dumps(contact, ensure_ascii=False, sort_keys=True)),
            description=mask_contact(description.strip(), contact),
            description_sealed=seal("description", description.strip()),
            demand=mask_contact(demand, contact) if demand else demand,
            order_id=order_id,
            sku=sku,
            batch=batch,
            amount_paid=amount_paid,
            language=language,
        )

    def record_contact_read(self, ctx: EventContext, fields: Sequence[str]) -> None:
        """Record that ``ctx.actor`` was shown the customer's contact details (``fields``, names only)."""
        may_read_contact(ctx.actor)
        if self.customer_erased:
            raise InvalidTransition(f"the customer of case {self.id} was erased; there is nothing to read")
        self._record(self.ContactDetailsRead, ctx, fields=list(fields))

    def record_erasure(self, ctx: EventContext, approved_by: Actor) -> None:
        """Record that the customer's personal data in this case was erased (once; a repeat changes nothing)."""
        if not self.customer_erased:
            self._record(
                self.CustomerErased, ctx, customer_id=self.customer_id, approved_by=approved_by.model_dump(mode="json")
            )


def may_read_contact(actor: Actor) -> None:
    """Refuse (``Forbidden``) an actor whose role may not see a customer's contact details."""
    if actor.role not in CONTACT_READERS:
        allowed = ", ".join(sorted(CONTACT_READERS))
        raise Forbidden(f"role {actor.role.value!r} may not read contact details (allowed: {allowed})")


def privacy_record_id(customer_id: UUID) -> UUID:
    """The id of a customer's privacy record: derived, so two first erasures collide instead of forking."""
    return uuid5(customer_id, "intake:privacy")


class CustomerPrivacy(CaseAggregate):
    """A customer's privacy record: every erasure of their personal data, who asked, who approved, why.

    Its events are about a customer, not a case: their envelope's ``case_id`` is the record's own id.
    """

    class PrivacyRecordOpened(CaseAggregate.Created):
        customer_id: UUID

    class ErasureRecorded(CaseAggregate.Event):
        reason: str
        requested_by: dict[str, Any]
        approved_by: dict[str, Any]
        keys_destroyed: int
        case_ids: list[str]

        def apply(self, aggregate: CustomerPrivacy) -> None:
            aggregate.erasures += 1

    def __init__(self, envelope: dict[str, Any], customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.erasures = 0

    @classmethod
    def erase(
        cls,
        record: CustomerPrivacy | None,
        ctx: EventContext,
        *,
        customer_id: UUID,
        reason: str,
        approved_by: Actor,
        keys_held: int,
        case_ids: Sequence[UUID],
    ) -> CustomerPrivacy:
        """Erase the customer's personal data: the ``keys_held`` data keys (of ``case_ids``) are to be destroyed.

        Refuses an unknown customer (404), an approver whose role may not approve (403), a requester
        approving their own request or a customer with nothing left to erase (409), an empty reason (422).
        ``record`` is the customer's privacy record, None before their first erasure.
        """
        if keys_held == 0 and record is None:
            raise NotFound(f"no personal data is held for customer {customer_id}")
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        if approved_by.role not in ERASURE_APPROVERS:
            allowed = ", ".join(sorted(ERASURE_APPROVERS))
            raise Forbidden(f"role {approved_by.role.value!r} may not approve an erasure (allowed: {allowed})")
        if approved_by.id == ctx.actor.id:
            raise InvalidTransition("the approver must be a different person from the requester")
        if keys_held == 0:
            raise InvalidTransition(f"customer {customer_id} is already erased")
        if record is None:
            record = cls._start(cls.PrivacyRecordOpened, privacy_record_id(customer_id), ctx, customer_id=customer_id)
        record._record(
            cls.ErasureRecorded,
            ctx,
            reason=reason.strip(),
            requested_by=ctx.actor.model_dump(mode="json"),
            approved_by=approved_by.model_dump(mode="json"),
            keys_destroyed=keys_held,
            case_ids=[str(case_id) for case_id in case_ids],
        )
        return record


def normalise_contact(phone: str | None, email: str | None) -> str:
    """The customer's key contact, normalised: digits of the phone (no +86), else the e-mail lowercased."""
    if phone:
        digits = re.sub(r"\D", "", phone)
        return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    return (email or "").strip().lower()


def customer_id_for(contact: str, key: bytes) -> UUID:
    """A pseudonymous customer id: a keyed hash of the normalised contact (a blind index)."""
    digest = hmac.new(key, contact.encode("utf-8"), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def case_number(day: str, sequence: int) -> str:
    """Human-readable, unique and sortable by date: ``CMP-20261125-000123``."""
    return f"CMP-{day}-{sequence:06d}"
