"""Complaint: Given (no events) / When receive / Then ComplaintReceived or a named error."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.intake.domain import Complaint, case_number, customer_id_for, normalise_contact
from shared.errors import InvalidValue
from tests.unit.helpers import NOW, context


def receive(**overrides: object) -> Complaint:
    fields: dict[str, object] = {
        "assign_number": lambda: "CMP-20261125-000001",
        "channel": "phone",
        "store_id": "SH-001",
        "customer_id": uuid4(),
        "customer": {"name": "王芳", "phone": "13800138000"},
        "description": "手镯断了",
    }
    fields.update(overrides)
    return Complaint.receive(context(), **fields)  # type: ignore[arg-type]


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
