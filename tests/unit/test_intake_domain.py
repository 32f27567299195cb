"""Complaint and CustomerPrivacy: Given (prior events) / When a command / Then new events or a named error."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate
from pydantic import ValidationError

from services.intake.domain import (
    CHANNEL_DETAILS,
    Complaint,
    ComplaintRecord,
    CustomerPrivacy,
    case_number,
    privacy_record_id,
)
from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.eventstore import EventContext
from shared.privacy import customer_id_for, normalise_contact
from shared.vocabulary import Channel, Role
from tests.unit.helpers import CLERK, NOW, context

CUSTOMER = {"name": "王芳", "phone": "13800138000", "email": "wang@example.com", "address": "长宁路1号"}
LEGAL = Actor(id="HQ-L1", role=Role.LEGAL)


def fake_seal(field: str, plaintext: str) -> str:
    """Stands in for the application's cipher: tells which field was sealed, never the plaintext."""
    return f"sealed:{field}:{len(plaintext)}"


def receive(**overrides: object) -> Complaint:
    """A received complaint; overrides go to the record or, for the command's own arguments, to it."""
    kwargs: dict[str, Any] = {"assign_number": lambda: "CMP-20261125-000001", "seal": fake_seal, "customer_id": uuid4()}
    fields: dict[str, Any] = {
        "channel": "phone",
        "store_id": "SH-001",
        "customer": {"name": "王芳", "phone": "13800138000"},
        "description": "手镯断了",
    }
    for key, value in overrides.items():
        (fields if key in ComplaintRecord.model_fields else kwargs)[key] = value
    return Complaint.receive(context(), ComplaintRecord.model_validate(fields), **kwargs)


def given(*events: Any) -> Any:
    """The aggregate these events make (the Given of a scenario)."""
    return project_aggregate(None, events)


def as_actor(ctx: EventContext, actor: Actor) -> EventContext:
    return ctx.model_copy(update={"actor": actor})


class TestRecord:
    """The record form's own rules (pydantic: a bad request is a 422 naming the field)."""

    def test_rejects_unknown_channel_naming_allowed_values(self) -> None:
        with pytest.raises(ValidationError) as error:
            receive(channel="fax")
        assert error.value.errors()[0]["loc"] == ("channel",)
        assert "regulator" in error.value.errors()[0]["msg"]

    def test_rejects_complaint_without_phone_or_email(self) -> None:
        with pytest.raises(ValidationError, match="phone number or an e-mail"):
            receive(customer={"name": "王芳"})

    @pytest.mark.parametrize(("key", "value"), [("phone", "12ab"), ("email", "not-an-address")])
    def test_rejects_malformed_contact(self, key: str, value: str) -> None:
        with pytest.raises(ValidationError, match=f"customer.{key}"):
            receive(customer={"name": "王芳", key: value})

    def test_regulator_transfer_needs_its_reference_and_deadline(self) -> None:
        with pytest.raises(ValidationError, match="needs reference, regulator_due_at"):
            receive(channel="regulator")
        with pytest.raises(ValidationError, match="needs a timezone"):
            receive(
                channel="regulator", channel_details={"reference": "12315-1", "regulator_due_at": "2026-12-01T10:00"}
            )

    def test_channel_details_name_what_the_channel_knows(self) -> None:
        with pytest.raises(ValidationError, match="phone knows call_id, hotline; not post_url"):
            receive(channel="phone", channel_details={"post_url": "https://weibo.example/1"})

    @pytest.mark.parametrize("channel", list(CHANNEL_DETAILS))
    def test_every_channel_takes_its_own_details(self, channel: Channel) -> None:
        required, optional = CHANNEL_DETAILS[channel]
        details = {
            key: "2026-12-01T10:00:00+08:00" if key.endswith("_at") else f"{key}-1" for key in required + optional
        }
        [received, _] = receive(channel=channel.value, channel_details=details).collect_events()
        assert received.channel_details == details


class TestReceive:
    def test_records_complaint_received_and_owes_an_acknowledgement(self) -> None:
        # When
        complaint = receive(amount_paid=Decimal("3980.00"), language="en")
        # Then
        received, due = complaint.collect_events()
        assert type(received).__name__ == "ComplaintReceived"
        assert received.case_number == "CMP-20261125-000001"
        assert received.amount_paid == Decimal("3980.00")
        assert received.envelope["case_id"] == str(complaint.id)
        assert received.envelope["actor"]["role"] == "frontline"
        assert received.envelope["service"] == "intake"
        assert received.timestamp == NOW
        assert (type(due).__name__, due.case_number, due.language) == (
            "AcknowledgementDue",
            "CMP-20261125-000001",
            "en",
        )

    def test_records_the_full_form(self) -> None:
        complaint = receive(
            merchant_id="M-0001", staff_id="SH-001-F2", sku="RING-01", batch="B7", serial="S123",
            occurred_where="二楼柜台", received_by={"id": "SH-001-F1", "name": "李娜", "position": "客服专员"},
        )  # fmt: skip
        [received, _] = complaint.collect_events()
        assert (received.merchant_id, received.staff_id, received.serial) == ("M-0001", "SH-001-F2", "S123")
        assert received.occurred_where == "二楼柜台"
        assert received.received_by["position"] == "客服专员"

    def test_rejects_occurrence_in_the_future(self) -> None:
        with pytest.raises(InvalidValue, match="occurred_at"):
            receive(occurred_at=NOW + timedelta(minutes=1))

    def test_accepts_occurrence_in_the_past_and_stamps_it(self) -> None:
        [received, _] = receive(occurred_at=NOW - timedelta(days=2)).collect_events()
        assert datetime.fromisoformat(received.envelope["occurred_at"]) == NOW - timedelta(days=2)

    def test_refused_complaint_uses_no_case_number_and_seals_nothing(self) -> None:
        issued: list[str] = []
        sealed: list[str] = []
        with pytest.raises(InvalidValue):
            receive(
                occurred_at=NOW + timedelta(days=1),
                assign_number=lambda: issued.append("n") or "n",
                seal=lambda field, text: sealed.append(field) or "t",
            )
        assert issued == sealed == []

    def test_records_contact_and_original_description_only_sealed(self) -> None:
        # When
        complaint = receive(
            customer=CUSTOMER, description="请打电话 13800138000 找王芳", demand="发邮件 wang@example.com"
        )
        # Then
        [event, _] = complaint.collect_events()
        assert event.customer_sealed.startswith("sealed:customer:")
        assert event.description_sealed.startswith("sealed:description:")
        assert event.description == "请打电话 [phone] 找[name]"
        assert event.demand == "发邮件 [email]"
        stored = repr(vars(event))
        for personal in CUSTOMER.values():
            assert personal not in stored


class TestReadContact:
    def test_records_who_read_which_fields(self) -> None:
        # Given
        complaint = given(*receive().collect_events())
        # When
        complaint.record_contact_read(context(complaint.id), fields=["name", "phone", "description"])
        # Then
        [event] = complaint.collect_events()
        assert type(event).__name__ == "ContactDetailsRead"
        assert event.fields == ["name", "phone", "description"]
        assert event.envelope["actor"]["id"] == "SH-001-F1"
        assert complaint.contact_reads == 1

    def test_refuses_to_record_a_read_after_erasure(self) -> None:
        # Given
        received = receive()
        received.record_erasure(context(received.id), LEGAL)
        complaint = given(*received.collect_events())
        # When / Then
        with pytest.raises(InvalidTransition, match="erased"):
            complaint.record_contact_read(context(complaint.id), fields=["name"])
        assert complaint.collect_events() == []


class TestComplaintErasure:
    def test_records_the_erasure_with_its_approver(self) -> None:
        complaint = given(*receive().collect_events())
        complaint.record_erasure(context(complaint.id), LEGAL)
        [event] = complaint.collect_events()
        assert type(event).__name__ == "CustomerErased"
        assert (event.customer_id, event.approved_by["id"]) == (complaint.customer_id, "HQ-L1")
        assert complaint.customer_erased

    def test_a_second_erasure_of_the_same_case_records_nothing(self) -> None:
        received = receive()
        received.record_erasure(context(received.id), LEGAL)
        complaint = given(*received.collect_events())
        complaint.record_erasure(context(complaint.id), LEGAL)
        assert complaint.collect_events() == []


class TestEraseCustomer:
    """Erasure takes two people: one asks (any manager), another approves (legal, hq or admin)."""

    customer_id = UUID("6f1c2a52-8a53-4d1e-9b8e-1c2f3a4b5c6d")
    reason = "customer asked in writing (letter of 2026-11-20)"

    def ctx(self, actor: Actor) -> EventContext:
        return context(privacy_record_id(self.customer_id)).model_copy(update={"actor": actor})

    def requested(self, record: CustomerPrivacy | None = None, keys_held: int = 2) -> CustomerPrivacy:
        return CustomerPrivacy.request_erasure(
            record, self.ctx(CLERK), customer_id=self.customer_id, reason=self.reason, keys_held=keys_held
        )

    def approve(self, record: CustomerPrivacy, approver: Actor = LEGAL, keys_held: int = 2) -> CustomerPrivacy:
        record.approve_erasure(self.ctx(approver), keys_held=keys_held, case_ids=[uuid4() for _ in range(keys_held)])
        return record

    def erased(self) -> CustomerPrivacy:
        """A record whose first erasure was asked for and approved."""
        asked = self.requested().collect_events()
        return given(*asked, *self.approve(given(*asked)).collect_events())

    def test_a_request_opens_the_record_and_destroys_nothing_yet(self) -> None:
        # When
        record = self.requested()
        # Then
        opened, asked = record.collect_events()
        assert type(opened).__name__ == "PrivacyRecordOpened" and opened.customer_id == self.customer_id
        assert type(asked).__name__ == "ErasureRequested" and asked.requested_by["id"] == CLERK.id
        assert record.erasures == 0 and record.pending is not None

    def test_approval_by_another_person_records_who_asked_who_approved_why_and_what(self) -> None:
        # Given
        record = given(*self.requested().collect_events())
        # When
        self.approve(record)
        # Then
        [erased] = record.collect_events()
        assert type(erased).__name__ == "ErasureRecorded"
        assert erased.requested_by["id"] == CLERK.id and erased.approved_by["id"] == "HQ-L1"
        assert (erased.keys_destroyed, len(erased.case_ids), erased.reason) == (2, 2, self.reason)
        assert record.pending is None and record.erasures == 1

    def test_refuses_an_unknown_customer(self) -> None:
        with pytest.raises(NotFound):
            self.requested(keys_held=0)

    def test_refuses_the_requester_approving_their_own_erasure(self) -> None:
        record = given(*self.requested().collect_events())
        with pytest.raises(InvalidTransition, match="different person"):
            self.approve(record, approver=Actor(id=CLERK.id, role=Role.LEGAL))

    def test_refuses_an_approval_with_no_request_waiting(self) -> None:
        record = self.erased()
        with pytest.raises(InvalidTransition, match="awaits approval"):
            self.approve(record, keys_held=1)

    @pytest.mark.parametrize("role", [Role.FRONTLINE, Role.CS_MANAGER, Role.AUDITOR])
    def test_refuses_an_approver_whose_role_may_not_approve(self, role: Role) -> None:
        record = given(*self.requested().collect_events())
        with pytest.raises(Forbidden, match=role.value):
            self.approve(record, approver=Actor(id="M-1", role=role))

    @pytest.mark.parametrize("role", [Role.LEGAL, Role.HQ, Role.ADMIN])
    def test_legal_hq_and_admin_may_approve(self, role: Role) -> None:
        record = given(*self.requested().collect_events())
        assert len(self.approve(record, approver=Actor(id="A-1", role=role)).collect_events()) == 1

    def test_refuses_an_empty_reason(self) -> None:
        with pytest.raises(InvalidValue, match="reason"):
            CustomerPrivacy.request_erasure(None, self.ctx(CLERK), customer_id=self.customer_id, reason=" ", keys_held=1)

    def test_refuses_a_second_request_while_one_waits(self) -> None:
        record = given(*self.requested().collect_events())
        with pytest.raises(InvalidTransition, match="already awaits"):
            self.requested(record)

    def test_refuses_to_erase_an_erased_customer_again(self) -> None:
        # Given
        record = self.erased()
        # When / Then
        with pytest.raises(InvalidTransition, match="already erased"):
            self.requested(record, keys_held=0)

    def test_erases_again_what_a_customer_filed_after_their_erasure(self) -> None:
        # Given
        record = self.erased()
        # When
        self.approve(self.requested(record, keys_held=1), keys_held=1)
        # Then
        asked, erased = record.collect_events()
        assert type(erased).__name__ == "ErasureRecorded" and erased.keys_destroyed == 1
        assert record.erasures == 2


class TestCustomerIdentity:
    def test_same_phone_written_differently_is_one_customer(self) -> None:
        key = b"k"
        a = customer_id_for(normalise_contact("+86 138-0013-8000", None), key)
        b = customer_id_for(normalise_contact("13800138000", None), key)
        assert a == b

    def test_email_is_case_insensitive_and_key_changes_the_id(self) -> None:
        assert normalise_contact(None, " Wang@Example.COM ") == "wang@example.com"
        assert customer_id_for("x", b"k1") != customer_id_for("x", b"k2")


def test_case_number_is_sortable_by_date() -> None:
    assert case_number("20261125", 123) == "CMP-20261125-000123"
    assert case_number("20261125", 999) < case_number("20261126", 1)
