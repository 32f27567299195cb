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

from shared.contracts import Actor
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


class Customer(BaseModel):
    """Who complained and how to reach them: a name and a phone number or an e-mail address."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=300)
    member_id: str | None = Field(default=None, max_length=64)

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

    id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=100)
    position: str | None = Field(default=None, max_length=100)
    role: Role = Role.FRONTLINE
    store: str | None = Field(default=None, max_length=32)


class ComplaintRecord(BaseModel):
    """Everything intake records of a complaint when it is received."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    channel_details: dict[str, str] = Field(default_factory=dict, validate_default=True)
    customer: Customer
    # What the complaint is about.
    store_id: str = Field(min_length=1, max_length=32)
    merchant_id: str | None = Field(default=None, max_length=64, description="a mall tenant, if about one")
    staff_id: str | None = Field(default=None, max_length=64, description="the member of staff complained about")
    order_id: str | None = Field(default=None, max_length=64)
    sku: str | None = Field(default=None, max_length=64)
    batch: str | None = Field(default=None, max_length=64)
    serial: str | None = Field(default=None, max_length=64)
    # What happened, when and where, and what the customer wants.
    description: str = Field(min_length=1, max_length=20_000)
    occurred_at: datetime | None = None
    occurred_where: str | None = Field(default=None, max_length=300)
    demand: str | None = Field(default=None, max_length=2_000)
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
