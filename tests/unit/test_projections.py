"""Case view and timeline logic (pure): status from all services' events, causal order, as-of rebuilds."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from services.feedback.projections import (
    causal_order,
    evolve_case,
    message_from_entry,
    rebuild_case,
    recorded_by,
    timeline_entry,
)
from services.feedback.projections.logs import Part
from shared.contracts import EventMessage
from shared.errors import InvalidValue
from tests.unit.helpers import NOW, message

RECEIVED = {"case_number": "CMP-20261125-000001", "channel": "phone", "store_id": "SH-001"}
TRIAGED = {"category": "price", "severity": "urgent"}
SECOND = timedelta(seconds=1)


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


def recorded(msg: EventMessage, at: datetime, cause: EventMessage | None = None) -> EventMessage:
    """The message as recorded at ``at``, caused by ``cause``."""
    causation_id = cause.envelope.event_id if cause else None
    return msg.model_copy(
        update={"envelope": msg.envelope.model_copy(update={"recorded_at": at, "causation_id": causation_id})}
    )


def case_events(case_id: UUID) -> list[EventMessage]:
    """One case's events as the four services record them, a second apart."""
    received = recorded(message("ComplaintReceived", "intake", RECEIVED, case_id, nid=1), NOW)
    acknowledged = recorded(
        message("AcknowledgementPrepared", "feedback", {"case_number": "CMP-20261125-000001"}, case_id, nid=1),
        NOW + SECOND,
        received,
    )
    triaged = recorded(message("ComplaintTriaged", "routing", TRIAGED, case_id, nid=1), NOW + SECOND * 2, received)
    opened = recorded(message("ResolutionOpened", "resolution", TRIAGED, case_id, nid=1), NOW + SECOND * 3, triaged)
    return [received, acknowledged, triaged, opened]


def test_a_timeline_entry_gives_back_its_whole_message() -> None:
    for msg in case_events(uuid4()):
        assert message_from_entry(json.loads(json.dumps(timeline_entry(msg)))) == msg


def test_case_view_is_the_same_whatever_order_the_events_arrive_in() -> None:
    case_id = uuid4()
    events = case_events(case_id)
    # A re-triage later on, and another at the same instant written with another offset (a tie).
    later = NOW + SECOND * 4
    retriaged = recorded(
        message("ComplaintTriaged", "routing", {"category": "product_quality", "severity": "general"}, case_id, 2),
        later,
    )
    tied = recorded(
        message("ComplaintTriaged", "routing", {"category": "service", "severity": "serious"}, case_id, 3),
        later.astimezone(timezone(timedelta(hours=8))),
    )
    views = []
    for order in itertools.permutations([*events, retriaged, tied]):
        view = None
        for msg in order:
            view = evolve_case(view, msg)
        views.append(view)
    assert all(view == views[0] for view in views)
    assert (views[0]["status"], views[0]["category"], views[0]["severity"]) == ("triaged", "service", "serious")
    assert views[0]["updated_at"] == views[0]["triaged_at"] == later.isoformat()
    assert views[0]["event_count"] == 6


def test_rebuild_as_of_each_instant_gives_the_view_of_the_events_recorded_by_then() -> None:
    events = case_events(uuid4())
    entries = [timeline_entry(msg) for msg in reversed(events)]
    for k, msg in enumerate(events, start=1):
        live = None
        for earlier in events[:k]:
            live = evolve_case(live, earlier)
        as_of = msg.envelope.recorded_at
        assert rebuild_case(recorded_by(entries, as_of)) == live
        # Just before the next event, and the same instant in another timezone, give the same view.
        assert rebuild_case(recorded_by(entries, as_of + SECOND / 2)) == live
        assert rebuild_case(recorded_by(entries, as_of.astimezone(timezone(timedelta(hours=8))))) == live
    assert recorded_by(entries, NOW - SECOND) == [] and rebuild_case([]) is None


def test_as_of_without_a_timezone_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidValue) as refused:
        recorded_by([], NOW.replace(tzinfo=None))
    assert refused.value.field == "as_of" and "timezone" in refused.value.message


def routing_event(type_: str, payload: dict[str, object], case_id: UUID, nid: int, at: datetime) -> EventMessage:
    return recorded(message(type_, "routing", payload, case_id, nid=nid), at)


def test_rejection_appeal_and_rejection_again_give_the_latest_status_whatever_the_order() -> None:
    # Given a triaged case rejected, appealed (reopened) and rejected again
    case_id = uuid4()
    received, _, triaged, _ = case_events(case_id)
    rejected = {"well_founded": False, "reason": "超出保修期", "case_number": "C1", "language": "zh"}
    steps = [
        received,
        triaged,
        routing_event("ValidityDecided", rejected, case_id, 10, NOW + SECOND * 10),
        routing_event("AppealLodged", {"reason": "保修卡在这里"}, case_id, 11, NOW + SECOND * 11),
    ]
    again = routing_event("ValidityDecided", rejected, case_id, 12, NOW + SECOND * 12)
    # When they arrive in any order
    statuses = set()
    for order in itertools.permutations(steps):
        view = None
        for msg in order:
            view = evolve_case(view, msg)
        statuses.add(view["status"])
    # Then the appeal's reopening is the status; one more rejection after it makes it rejected again
    assert statuses == {"reopened"}
    view = None
    for msg in [again, *steps]:
        view = evolve_case(view, msg)
    assert (view["status"], view["well_founded"]) == ("rejected", False)


def test_a_well_founded_decision_leaves_the_status_and_withdrawal_beats_everything() -> None:
    case_id = uuid4()
    received, _, triaged, _ = case_events(case_id)
    upheld = routing_event(
        "ValidityDecided", {"well_founded": True, "case_number": "C1", "language": "zh"}, case_id, 10, NOW + SECOND * 9
    )
    view = evolve_case(evolve_case(evolve_case(None, received), triaged), upheld)
    assert (view["status"], view["well_founded"]) == ("triaged", True)
    withdrawn = recorded(message("ComplaintWithdrawn", "intake", {"reason": "已解决"}, case_id, nid=5), NOW + SECOND)
    assert evolve_case(view, withdrawn)["status"] == "withdrawn"


def test_owner_is_the_latest_of_assignment_transfer_and_escalation_and_flags_accumulate() -> None:
    case_id = uuid4()
    owner = {"team": "store_service", "queue": "store_service@SH-001", "assignee": "SH-001-F1", "tier": "frontline"}
    up = {"team": "store_management", "queue": "store_management@SH-001", "assignee": "SH-001-M1", "tier": "cs_manager"}
    events = [
        routing_event("CaseAssigned", {**owner, "reason": "rule default"}, case_id, 1, NOW),
        routing_event("SlaBreached", {"clock": "acknowledge"}, case_id, 2, NOW + SECOND),
        routing_event(
            "CaseEscalated", {**up, "from_tier": "frontline", "clock": "acknowledge"}, case_id, 3, NOW + SECOND
        ),
        routing_event("EmergencyDeclared", {"reason": "critical"}, case_id, 4, NOW + SECOND * 2),
    ]
    for order in itertools.permutations(events):
        view = None
        for msg in order:
            view = evolve_case(view, msg)
        assert (view["team"], view["assignee"], view["tier"]) == ("store_management", "SH-001-M1", "cs_manager")
        assert view["flags"] == ["emergency", "escalated", "sla_breached"]


def test_case_view_keeps_each_clocks_latest_change_whatever_the_order() -> None:
    # Given an acknowledge clock started, paused, resumed and stopped, and a resolve clock started at the same instant
    case_id = uuid4()

    def clock(**state: object) -> dict[str, object]:
        return {"name": "acknowledge", "started_at": NOW.isoformat(), "duration": "PT24H", **state}

    events = [
        routing_event("ClockStarted", {"clock": clock(), "reason": "received"}, case_id, 1, NOW),
        routing_event(
            "ClockStarted", {"clock": {**clock(), "name": "resolve", "duration": "P7D"}, "reason": "received"},
            case_id, 2, NOW,
        ),
        routing_event("ClockPaused", {"clock": clock(paused_since=(NOW + SECOND).isoformat()), "reason": "asked"}, case_id, 3, NOW + SECOND),
        routing_event("ClockResumed", {"clock": clock(), "reason": "answered"}, case_id, 4, NOW + SECOND * 2),
        routing_event(
            "ClockStopped", {"clock": clock(stopped_at=(NOW + SECOND * 2).isoformat()), "reason": "acknowledged", "met": True}, case_id, 5,
            NOW + SECOND * 2,
        ),
    ]  # fmt: skip
    # When they arrive in any order
    views = []
    for order in itertools.permutations(events):
        view = None
        for msg in order:
            view = evolve_case(view, msg)
        views.append(view)
    # Then the view is the same, with the stop winning over the resume of the same instant
    assert all(v == views[0] for v in views)
    assert {name: c["state"] for name, c in views[0]["clocks"].items()} == {
        "acknowledge": "stopped",
        "resolve": "running",
    }


@pytest.mark.parametrize("parts", [1, 2, 3, 5, 16])
def test_the_parts_of_a_rebuild_cover_every_case_once_in_key_order(parts: int) -> None:
    # Given the parts of the cases a rebuild's workers share
    split = [Part(index, parts) for index in range(parts)]
    # Then every case id falls in exactly one part, and part after part the ids rise
    for case_id in (str(uuid4()) for _ in range(200)):
        assert sum(part.holds(case_id) for part in split) == 1
    assert "".join(part.digits for part in split) == "0123456789abcdef"


def test_a_part_outside_its_range_is_refused() -> None:
    for index, parts in ((0, 0), (2, 2), (-1, 3), (0, 17)):
        with pytest.raises(ValueError):
            Part(index, parts)
