"""The complaint record form (消费者投诉处理记录表) as intake takes it, from any channel. Pure.

One model serves the HTTP body, the CSV import and the e-mail listener, so every channel is
checked by the same rules. Channel-specific details are a small map checked against
``CHANNEL_DETAILS``: which keys a channel knows, and which it requires.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from shared.bounds import AnyInstant
from shared.contracts import Actor
from shared.masking import mask_contact, mask_known
from shared.textinput import line, text
from shared.vocabulary import Channel, Role

PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# channel -> (required keys, optional keys) of ``channel_details``.
CHANNEL_DETAILS: dict[Channel, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Channel.PHONE: ((), ("call_id", "hotline")),
    Channel.STORE: ((), ("counter", "staff_id")),
    Channel.WEB: ((), ("session_id", "form_id", "page_url")),
    Channel.APP: ((), ("session_id", "app_version", "device")),
    Channel.EMAIL: ((), ("message_id", "subject", "mailbox")),
    Channel.LETTER: ((), ("scan_ref", "postmarked_on", "sender_reference")),
    Channel.SOCIAL: (("post_url",), ("platform", "visibility")),
    Channel.CHAT: ((), ("transcript_id", "agent_id", "platform")),
    Channel.REGULATOR: (("reference", "regulator_due_at"), ("authority", "officer")),
    Channel.SUGGESTION_BOX: ((), ("box_id", "collected_on")),
}

# Details that are identifiers, dates or the chain's own numbers: masked only where the customer's own contact
# occurs in them (a call id would pass for a phone number). Every other detail is free text, masked in full.
CHANNEL_DETAIL_IDS = frozenset({
    "call_id", "hotline", "counter", "staff_id", "session_id", "form_id", "app_version", "message_id", "mailbox",
    "scan_ref", "postmarked_on", "transcript_id", "agent_id", "reference", "regulator_due_at", "box_id",
    "collected_on",
})  # fmt: skip


def masked_details(details: dict[str, str], contact: dict[str, str]) -> dict[str, str]:
    """Channel details as events keep them: published and shown like the description, so the customer's own
    ``contact`` is masked in every one; the contact patterns only in free text (a call id would pass for a phone)."""
    return {
        key: mask_known(value, contact) if key in CHANNEL_DETAIL_IDS else mask_contact(value, contact)
        for key, value in details.items()
    }


class Customer(BaseModel):
    """Who complained and how to reach them: a name and a phone number or an e-mail address."""

    model_config = ConfigDict(extra="forbid")

    name: line(100, min_length=1)
    phone: line(32) | None = None
    email: line(254) | None = None
    address: line(300) | None = None
    member_id: line(64) | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.phone or self.email):
            raise ValueError("a phone number or an e-mail address is required")
        if self.phone and not PHONE.match(self.phone):
            raise ValueError("customer.phone is not a phone number (digits, spaces, dashes, optional +)")
        if self.email and not EMAIL.match(self.email):
            raise ValueError("customer.email is not an e-mail address")
        return self

    def contact(self) -> dict[str, str]:
        """The personal data to seal: every field given."""
        return {key: value for key, value in self.model_dump().items() if value}


class ReceivedBy(BaseModel):
    """The member of staff who took the complaint (name and position, as the record form asks)."""

    model_config = ConfigDict(extra="forbid")

    id: line(64, min_length=1)
    name: line(100) | None = None
    position: line(100) | None = None
    role: Role = Role.FRONTLINE
    store: line(32) | None = None


class ComplaintRecord(BaseModel):
    """Everything intake records of a complaint when it is received."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    channel_details: dict[line(32), line(300)] = Field(default_factory=dict, max_length=8, validate_default=True)
    customer: Customer
    # What the complaint is about.
    store_id: line(32, min_length=1)
    merchant_id: line(64) | None = Field(default=None, description="a mall tenant, if about one")
    staff_id: line(64) | None = Field(default=None, description="the member of staff complained about")
    order_id: line(64) | None = None
    sku: line(64) | None = None
    batch: line(64) | None = None
    serial: line(64) | None = None
    # What happened, when and where, and what the customer wants.
    description: text(20_000, min_length=1)
    occurred_at: AnyInstant | None = None
    occurred_where: line(300) | None = None
    demand: text(2_000) | None = None
    amount_paid: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    language: str = Field(default="zh", pattern="^(zh|en)$")
    received_by: ReceivedBy | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("occurred_at needs a timezone (e.g. 2026-11-25T10:00:00+08:00)")
        return value

    @field_validator("channel_details")
    @classmethod
    def _channel_details(cls, details: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        channel = info.data.get("channel")
        if channel is None:  # the channel itself was refused; that error says enough
            return details
        required, optional = CHANNEL_DETAILS[channel]
        unknown = set(details) - set(required) - set(optional)
        if unknown:
            raise ValueError(
                f"{channel.value} knows {', '.join(required + optional)}; not {', '.join(sorted(unknown))}"
            )
        missing = [key for key in required if not details.get(key)]
        if missing:
            raise ValueError(f"{channel.value} needs {', '.join(missing)}")
        if channel is Channel.REGULATOR:
            try:
                due = datetime.fromisoformat(details["regulator_due_at"])
            except ValueError as error:
                raise ValueError("regulator_due_at is not an ISO 8601 time") from error
            if due.tzinfo is None:
                raise ValueError("regulator_due_at needs a timezone")
        return details

    def subject(self) -> dict[str, Any]:
        """What the complaint is about, as recorded on the event."""
        return self.model_dump(include={"store_id", "merchant_id", "staff_id", "order_id", "sku", "batch", "serial"})


def receiver_of(record: ComplaintRecord) -> Actor:
    """Who records the complaint: the member of staff who received it, else the channel itself."""
    if record.received_by:
        by = record.received_by
        return Actor(id=by.id, role=by.role, store=by.store)
    return Actor(id=f"channel-{record.channel.value}", role=Role.CUSTOMER)


class Changes(BaseModel):
    """The new values of a correction or supplement, each checked as the record form checks it.

    A field left out stays as it is; ``null`` clears an optional one. The contact is changed as a whole.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer: Customer | None = None
    store_id: line(32, min_length=1) | None = None
    merchant_id: line(64) | None = None
    staff_id: line(64) | None = None
    order_id: line(64) | None = None
    sku: line(64) | None = None
    batch: line(64) | None = None
    serial: line(64) | None = None
    description: text(20_000, min_length=1) | None = None
    occurred_at: AnyInstant | None = None
    occurred_where: line(300) | None = None
    demand: text(2_000) | None = None
    amount_paid: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)

    def given(self) -> dict[str, Any]:
        """The fields the caller gave, by name (``None`` for a field to clear)."""
        return {name: getattr(self, name) for name in self.model_fields_set}
