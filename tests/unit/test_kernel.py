"""The kernel: contracts leave private fields behind, logs carry context and never personal data."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from uuid import uuid4

import structlog
from eventsourcing.persistence import JSONTranscoder

from services.intake.domain import Complaint
from shared.audit import chain
from shared.contracts import CONTRACTS, EventMessage
from shared.eventstore import reader_mapper, to_message
from shared.logs import configure_logging, safe_error
from shared.publicjson import public_json
from tests.support import record
from tests.unit.helpers import context


def test_public_message_carries_no_personal_data_and_money_as_string() -> None:
    filed = record(
        channel="web",
        customer={"name": "王芳", "phone": "13800138000", "email": "wang@example.com"},
        description="手镯断了",
        amount_paid=Decimal("3980.50"),
    )
    complaint = Complaint.receive(
        context(),
        filed,
        customer_id=uuid4(),
        assign_number=lambda: "CMP-20261125-000001",
        seal=lambda field, plaintext: f"enc:test:{field}",
    )
    [event, _] = complaint.collect_events()
    message = to_message("intake", 7, event)
    assert message is not None
    wire = message.model_dump_json()
    for personal in ("王芳", "13800138000", "wang@example.com"):
        assert personal not in wire
    assert message.payload["amount_paid"] == "3980.50"
    assert (message.subject, message.msg_id) == ("ombud.intake.ComplaintReceived", "intake:7")
    assert EventMessage.model_validate_json(wire).contract().amount_paid == Decimal("3980.50")


def test_a_stored_event_decodes_without_its_domain_event_to_its_message() -> None:
    # Given a complaint's event stored as intake stores it: transcoded, hash-chained and sealed
    complaint = Complaint.receive(
        context(),
        record(channel="web", description="手镯断了", amount_paid=Decimal("3980.50")),
        customer_id=uuid4(),
        assign_number=lambda: "CMP-20261125-000001",
        seal=lambda field, plaintext: f"enc:test:{field}",
    )
    [event, _] = complaint.collect_events()
    mapper = reader_mapper(JSONTranscoder())
    object.__setattr__(event, "_chain_link", chain.GENESIS)
    stored = mapper.to_stored_event(event)
    # When it is decoded from the stored bytes (the rebuild's lean path)
    decoded = public_json(stored.topic, stored.state, mapper)
    # Then it is the relay's message in its JSON form
    message = to_message("intake", 7, event)
    assert message is not None
    assert decoded == (message.type, message.envelope.model_dump(mode="json"), message.payload)
    # and no contract names a field like the chain's own keys in the sealed state
    assert not [c for c in CONTRACTS.values() if {"prev_hash", "hash"} & c.model_fields.keys()]


def test_every_log_line_has_service_case_and_correlation_and_no_contact() -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    structlog.contextvars.bind_contextvars(service="intake", correlation_id="c-1")
    structlog.get_logger().info("complaint filed by 13800138000 wang@example.com", phone="13800138000")
    structlog.contextvars.clear_contextvars()
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["service"] == "intake" and line["correlation_id"] == "c-1" and line["case_id"] is None
    assert "13800138000" not in out.getvalue() and "wang@example.com" not in out.getvalue()


def test_ids_are_not_mistaken_for_phone_numbers() -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    case_id = "8022f978-0b2e-4059-85d3-a75d6d99adaf"
    structlog.get_logger().info("handled", case_id=case_id, msg_id="intake:1234567")
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (line["case_id"], line["msg_id"]) == (case_id, "intake:1234567")


def test_validation_errors_are_logged_without_their_input() -> None:
    try:
        EventMessage.model_validate({"service": "x", "payload": {"name": "王芳"}})
    except Exception as error:  # noqa: BLE001
        text = safe_error(error)
    assert "王芳" not in text and "notification_id" in text
