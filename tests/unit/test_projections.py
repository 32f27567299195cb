"""Case view and timeline logic (pure): status from all services' events, causal order."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from services.feedback.projections import causal_order, evolve_case, timeline_entry
from tests.unit.helpers import message

RECEIVED = {"case_number": "CMP-20261125-000001", "channel": "phone", "store_id": "SH-001"}
TRIAGED = {"category": "price", "severity": "urgent"}


def test_case_view_follows_received_then_triaged() -> None:
    case_id = uuid4()
    view = evolve_case(None, message("ComplaintReceived", "intake", RECEIVED, case_id))
    assert (view["status"], view["case_number"], view["category"]) == ("received", "CMP-20261125-000001", None)
    view = evolve_case(view, message("ComplaintTriaged", "routing", TRIAGED, case_id))
    assert (view["status"], view["category"], view["severity"], view["event_count"]) == (
        "triaged",
        "price",
        "urgent",
        2,
    )


def test_late_received_event_does_not_move_status_back() -> None:
    case_id = uuid4()
    view = evolve_case(None, message("ComplaintTriaged", "routing", TRIAGED, case_id))
    view = evolve_case(view, message("ComplaintReceived", "intake", RECEIVED, case_id))
    assert view["status"] == "triaged" and view["case_number"] == "CMP-20261125-000001"


def test_timeline_puts_each_event_after_its_cause_even_with_skewed_clocks() -> None:
    received = timeline_entry(message("ComplaintReceived", "intake", RECEIVED, nid=1))
    triaged_msg = message("ComplaintTriaged", "routing", TRIAGED, nid=1)
    triaged = timeline_entry(triaged_msg)
    triaged["causation_id"] = received["event_id"]
    # routing's clock runs behind intake's: recorded earlier than its cause
    triaged["recorded_at"] = (triaged_msg.envelope.recorded_at - timedelta(seconds=5)).isoformat()
    opened = timeline_entry(message("ResolutionOpened", "resolution", TRIAGED, nid=1))
    opened["causation_id"] = triaged["event_id"]
    assert [e["type"] for e in causal_order([opened, triaged, received])] == [
        "ComplaintReceived",
        "ComplaintTriaged",
        "ResolutionOpened",
    ]
