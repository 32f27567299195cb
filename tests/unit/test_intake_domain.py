"""Complaint and CustomerPrivacy: Given (prior events) / When a command / Then new events or a named error."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate

from services.intake.domain import (
    Complaint,
    CustomerPrivacy,
    case_number,
    customer_id_for,
    normalise_contact,
    privacy_record_id,
)
from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.eventstore import EventContext
from shared.vocabulary import Role
from tests.unit.helpers import NOW, context

CUSTOMER = {"name": "王芳", "phone": "13800138000", "email": "wang@example.com", "address": "长宁路1号"}
LEGAL = Actor(id="HQ-L1", role=Role.LEGAL)


def fake_seal(field: str, plaintext: str) -> str:
    """Stands in for the application's cipher: tells which field was sealed, never the plaintext."""
    return f"sealed:{field}:{len(plaintext)}"


def receive(**overrides: object) -> Complaint:
    fields: dict[str, object] = {
        "assign_number": lambda: "CMP-20261125-000001",
        "seal": fake_seal,
        "channel": "phone",
        "store_id": "SH-001",
        "customer_id": uuid4(),
        "customer": {"name": "王芳", "phone": "13800138000"},
        "description": "手镯断了",
    }
    fields.update(overrides)
    return Complaint.receive(context(), **fields)  # type: ignore[arg-type]


def given(*events: Any) -> Any:
    """The aggregate these events make (the Given of a scenario)."""
    return project_aggregate(None, events)


def as_actor(ctx: EventContext, actor: Actor) -> EventContext:
    return ctx.model_copy(update={"actor": actor})


class TestReceive:
    def test_records_complaint_received_with_envelope(self) -> None:
        # When
        complaint = receive(amount_paid=Decimal("3980.00"))
        # Then
        [event] = complaint.collect_events()
        assert type(event).__name__ == "ComplaintReceived"
        assert event.case_number == "CMP-20261125-000001"
        assert event.amount_paid == Decimal("3980.00")
        assert event.envelope["case_id"] == str(complaint.id)
        assert event.envelope["actor"]["role"] == "frontline"
        assert event.envelope["service"] == "intake"
        assert event.timestamp == NOW

    def test_rejects_unknown_channel_naming_allowed_values(self) -> None:
        with pytest.raises(InvalidValue) as error:
            receive(channel="fax")
        assert error.value.field == "channel"
        assert "regulator" in (error.value.allowed or [])

    def test_rejects_complaint_without_phone_or_email(self) -> None:
        with pytest.raises(InvalidValue, match="customer"):
            receive(customer={"name": "王芳"})

    @pytest.mark.parametrize(("key", "value"), [("phone", "12ab"), ("email", "not-an-address")])
    def test_rejects_malformed_contact(self, key: str, value: str) -> None:
        with pytest.raises(InvalidValue, match=f"customer.{key}"):
            receive(customer={"name": "王芳", key: value})

    def test_rejects_occurrence_in_the_future(self) -> None:
        with pytest.raises(InvalidValue, match="occurred_at"):
            receive(occurred_at=NOW + timedelta(minutes=1))

    def test_accepts_occurrence_in_the_past_and_stamps_it(self) -> None:
        complaint = receive(occurred_at=NOW - timedelta(days=2))
        [event] = complaint.collect_events()
        assert datetime.fromisoformat(event.envelope["occurred_at"]) == NOW - timedelta(days=2)

    def test_refused_complaint_uses_no_case_number(self) -> None:
        issued: list[str] = []
        with pytest.raises(InvalidValue):
            receive(description="   ", assign_number=lambda: issued.append("n") or "n")
        assert issued == []

    def test_refused_complaint_seals_nothing(self) -> None:
        sealed: list[str] = []
        with pytest.raises(InvalidValue):
            receive(channel="fax", seal=lambda field, text: sealed.append(field) or "t")
        assert sealed == []

    def test_records_contact_and_original_description_only_sealed(self) -> None:
        # When
        complaint = receive(
            customer=CUSTOMER, description="请打电话 13800138000 找王芳", demand="发邮件 wang@example.com"
        )
        # Then
        [event] = complaint.collect_events()
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

    @pytest.mark.parametrize("role", [Role.AUDITOR, Role.QUALITY_ANALYST, Role.CUSTOMER, Role.SYSTEM])
    def test_refuses_a_role_that_may_not_read_contact_details(self, role: Role) -> None:
        complaint = given(*receive().collect_events())
        with pytest.raises(Forbidden, match=role.value):
            complaint.record_contact_read(as_actor(context(complaint.id), Actor(id="x", role=role)), fields=["name"])
        assert complaint.collect_events() == []

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
    customer_id = UUID("6f1c2a52-8a53-4d1e-9b8e-1c2f3a4b5c6d")

    def erase(self, record: CustomerPrivacy | None = None, **overrides: Any) -> CustomerPrivacy:
        fields: dict[str, Any] = {
            "customer_id": self.customer_id,
            "reason": "customer asked in writing (letter of 2026-11-20)",
            "approved_by": LEGAL,
            "keys_held": 2,
            "case_ids": [uuid4(), uuid4()],
        }
        fields.update(overrides)
        return CustomerPrivacy.erase(record, context(privacy_record_id(self.customer_id)), **fields)

    def test_first_erasure_opens_the_record_and_records_who_why_and_what(self) -> None:
        # When
        record = self.erase()
        # Then
        opened, erased = record.collect_events()
        assert type(opened).__name__ == "PrivacyRecordOpened" and opened.customer_id == self.customer_id
        assert type(erased).__name__ == "ErasureRecorded"
        assert erased.requested_by["id"] == "SH-001-F1" and erased.approved_by["id"] == "HQ-L1"
        assert (erased.keys_destroyed, len(erased.case_ids)) == (2, 2)
        assert record.id == privacy_record_id(self.customer_id)

    def test_refuses_an_unknown_customer(self) -> None:
        with pytest.raises(NotFound):
            self.erase(keys_held=0, case_ids=[])

    def test_refuses_the_requester_approving_their_own_erasure(self) -> None:
        with pytest.raises(InvalidTransition, match="different person"):
            self.erase(approved_by=Actor(id="SH-001-F1", role=Role.LEGAL))

    @pytest.mark.parametrize("role", [Role.FRONTLINE, Role.CS_MANAGER, Role.AUDITOR])
    def test_refuses_an_approver_whose_role_may_not_approve(self, role: Role) -> None:
        with pytest.raises(Forbidden, match=role.value):
            self.erase(approved_by=Actor(id="M-1", role=role))

    @pytest.mark.parametrize("role", [Role.LEGAL, Role.HQ, Role.ADMIN])
    def test_legal_hq_and_admin_may_approve(self, role: Role) -> None:
        assert len(self.erase(approved_by=Actor(id="A-1", role=role)).collect_events()) == 2

    def test_refuses_an_empty_reason(self) -> None:
        with pytest.raises(InvalidValue, match="reason"):
            self.erase(reason="  ")

    def test_refuses_to_erase_an_erased_customer_again(self) -> None:
        # Given
        record = given(*self.erase().collect_events())
        # When / Then
        with pytest.raises(InvalidTransition, match="already erased"):
            self.erase(record, keys_held=0, case_ids=[])
        assert record.collect_events() == []

    def test_erases_again_what_a_customer_filed_after_their_erasure(self) -> None:
        # Given
        record = given(*self.erase().collect_events())
        # When
        self.erase(record, keys_held=1, case_ids=[uuid4()])
        # Then
        [event] = record.collect_events()
        assert type(event).__name__ == "ErasureRecorded" and event.keys_destroyed == 1
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
