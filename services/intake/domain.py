"""Intake's domain: the ``Complaint`` aggregate (receipt and record of a complaint). Pure."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.errors import InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Channel

PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Complaint(CaseAggregate):
    """A customer's complaint as received: who, about what, what happened, what they demand."""

    class ComplaintReceived(CaseAggregate.Created):
        case_number: str
        channel: str
        store_id: str
        customer_id: UUID
        customer: dict[str, Any]
        description: str
        demand: str | None
        order_id: str | None
        sku: str | None
        batch: str | None
        amount_paid: Decimal | None
        language: str

    def __init__(
        self,
        envelope: dict[str, Any],
        case_number: str,
        channel: str,
        store_id: str,
        customer_id: UUID,
        customer: dict[str, Any],
        description: str,
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
        self.customer = customer
        self.description = description
        self.demand = demand
        self.order_id = order_id
        self.sku = sku
        self.batch = batch
        self.amount_paid = amount_paid
        self.language = language

    @classmethod
    def receive(
        cls,
        ctx: EventContext,
        *,
        assign_number: Callable[[], str],
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

        The case number is asked of ``assign_number`` only once every rule has passed, so a
        refused complaint uses no number.
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
        return cls._start(
            cls.ComplaintReceived,
            ctx.case_id,
            ctx.model_copy(update={"occurred_at": occurred_at}),
            case_number=assign_number(),
            channel=channel,
            store_id=store_id,
            customer_id=customer_id,
            customer=customer,
            description=description.strip(),
            demand=demand,
            order_id=order_id,
            sku=sku,
            batch=batch,
            amount_paid=amount_paid,
            language=language,
        )


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
