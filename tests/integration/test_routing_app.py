"""Routing's Application on SQLite and on PostgreSQL: balancing, durable timers, pauses, escalation, work queues,
the acknowledgement, the emergency protocol, mall merchants and regulator transfers. Time moves only by a ManualClock.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.routing.application import Routing
from shared.clock import ManualClock
from shared.contracts import Actor, EventMessage
from shared.errors import NotFound
from shared.eventstore import aggregate_id
from shared.settings import Settings
from shared.vocabulary import Role, Severity
from tests.support import event_types
from tests.unit.helpers import NOW, message

GENERAL = "手镯戴了一周就断了，质量太差，要求退货"
URGENT = "手镯断了，无法使用"
CRITICAL = "手镯断了，我已经找了律师，准备起诉"
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")
H = timedelta(hours=1)


class Feed:
    """Messages as intake and feedback would publish them, each with a notification id of its own."""

    def __init__(self) -> None:
        self._nid = itertools.count(1)
        self._number = itertools.count(1)

    def received(self, description: str = GENERAL, store_id: str = "SH-001", channel: str = "phone",
                 **extra: Any) -> EventMessage:  # fmt: skip
        payload = {
            "case_number": f"CMP-20261125-{next(self._number):06d}",
            "channel": channel,
            "store_id": store_id,
            "customer_id": str(uuid4()),
            "description": description,
            "amount_paid": "399.00",
            **extra,
        }
        return message("ComplaintReceived", "intake", payload, case_id=uuid4(), nid=next(self._nid))

    def withdrawn(self, case_id: UUID) -> EventMessage:
        return message("ComplaintWithdrawn", "intake", {"reason": "customer withdrew"}, case_id=case_id,
                       nid=next(self._nid))  # fmt: skip

    def acknowledged(self, case_id: UUID, nid: int = 1) -> EventMessage:
        payload = {"case_number": "CMP-20261125-000001", "language": "zh", "template": "ack_zh"}
        return message("AcknowledgementPrepared", "feedback", payload, case_id=case_id, nid=nid)


@pytest.fixture
def routing(settings: Settings, clock: ManualClock) -> Iterator[Routing]:
    app = Routing(settings, clock)
    yield app
    app.close()


@pytest.fixture
def feed() -> Feed:
    return Feed()


def triaged(routing: Routing, msg: EventMessage) -> UUID:
    assert routing.handle(msg) is True
    return msg.envelope.case_id


def events(routing: Routing, case_id: UUID) -> list[Any]:
    """The case's routing events, in order."""
    stored = routing.recorder.select_events(aggregate_id(case_id, routing.name))
    return [routing.mapper.to_domain_event(s) for s in stored]


def names(evts: list[Any]) -> list[str]:
    return [type(e).__name__ for e in evts]


def owner_of(routing: Routing, case_id: UUID) -> tuple[str, str | None]:
    owner = routing.get_triage(case_id).owner
    assert owner is not None
    return owner.queue, owner.assignee


def timers(routing: Routing, case_id: UUID) -> set[tuple[str, str]]:
    rows = routing.side.query(f"SELECT clock, kind FROM {routing.tables.timers} WHERE case_id = ?", (str(case_id),))
    return {(r["clock"], r["kind"]) for r in rows}


def clock_view(routing: Routing, case_id: UUID, name: str) -> dict[str, Any]:
    return next(c for c in routing.clocks(case_id) if c["clock"] == name)


def fired(routing: Routing, case_id: UUID, since: int) -> list[tuple[Any, ...]]:
    """The events recorded after the first ``since`` ones, as (type, clock, detail)."""
    out: list[tuple[Any, ...]] = []
    for e in events(routing, case_id)[since:]:
        kind = type(e).__name__
        if kind == "ClockWarned":
            out.append((kind, e.clock, e.threshold))
        elif kind == "SlaBreached":
            out.append((kind, e.clock))
        elif kind == "CaseEscalated":
            out.append((kind, e.clock, e.from_tier, e.queue, e.assignee))
        else:
            out.append((kind,))
    return out


# --- balancing ------------------------------------------------------------------------------------------------


def test_critical_cases_alternate_on_hq_desk_by_open_cases_then_longest_idle(
    routing: Routing, clock: ManualClock, feed: Feed
) -> None:
    def next_case() -> UUID:
        clock.advance(timedelta(minutes=1))
        return triaged(routing, feed.received(CRITICAL))

    a = next_case()
    assert owner_of(routing, a) == ("hq_desk", "HQ-01")  # both idle and never assigned: by id
    b = next_case()
    assert owner_of(routing, b) == ("hq_desk", "HQ-02")  # fewest open cases
    c = next_case()
    assert owner_of(routing, c) == ("hq_desk", "HQ-01")  # 1 each: HQ-01 idle longer
    d = next_case()
    assert owner_of(routing, d) == ("hq_desk", "HQ-02")  # 2 vs 1
    assert {m: load.open_cases for m, load in routing.tables.loads(["HQ-01", "HQ-02"]).items()} == {
        "HQ-01": 2,
        "HQ-02": 2,
    }

    # When one of HQ-02's cases is withdrawn, HQ-02 has fewer open cases although HQ-01 was idle longer
    assert routing.handle(feed.withdrawn(b)) is True
    assert routing.get_triage(b).state.value == "withdrawn"
    assert routing.tables.loads(["HQ-02"])["HQ-02"].open_cases == 1
    e = next_case()
    assert owner_of(routing, e) == ("hq_desk", "HQ-02")
    # Then with 2 each again, the longest idle (HQ-01, last given c) gets the next
    f = next_case()
    assert owner_of(routing, f) == ("hq_desk", "HQ-01")


def test_a_batch_of_critical_cases_splits_evenly_across_hq_desk(routing: Routing, feed: Feed) -> None:
    batch = [feed.received(CRITICAL) for _ in range(4)]
    routing.handle_batch(batch)
    owners = [owner_of(routing, m.envelope.case_id) for m in batch]
    assert {queue for queue, _ in owners} == {"hq_desk"}
    assert Counter(assignee for _, assignee in owners) == {"HQ-01": 2, "HQ-02": 2}
    loads = routing.tables.loads(["HQ-01", "HQ-02"])
    assert (loads["HQ-01"].open_cases, loads["HQ-02"].open_cases) == (2, 2)
    # Each message is tracked: a redelivery applies nothing
    assert routing.handle(batch[0]) is False


def test_a_redelivered_complaint_does_not_skew_the_next_assignment(
    routing: Routing, clock: ManualClock, feed: Feed
) -> None:
    first = feed.received(CRITICAL)
    assert owner_of(routing, triaged(routing, first)) == ("hq_desk", "HQ-01")
    clock.advance(timedelta(minutes=1))
    assert routing.handle(first) is False  # redelivered: nothing recorded
    clock.advance(timedelta(minutes=1))
    second = triaged(routing, feed.received(CRITICAL))
    # HQ-01 has one open case, HQ-02 none: HQ-02 gets it
    assert owner_of(routing, second) == ("hq_desk", "HQ-02")


# --- durable timers -------------------------------------------------------------------------------------------


def test_timers_survive_a_restart_and_fire_exactly_once(settings: Settings, clock: ManualClock, feed: Feed) -> None:
    first = Routing(settings, clock)
    try:
        case = triaged(first, feed.received())
        assert owner_of(first, case) == ("store_service@SH-001", "SH-001-F1")
        assert first.fire_due_timers() == 0
        before = len(events(first, case))
    finally:
        first.close()

    # When routing is down past the acknowledge clock's 75 %, 90 % and breach (general: 24 h)
    clock.advance(25 * H)
    again = Routing(settings, clock)
    try:
        # Then the new process fires what fell due while it was down
        assert again.fire_due_timers() == 4
        assert fired(again, case, before) == [
            ("ClockWarned", "acknowledge", "75"),
            ("ClockWarned", "acknowledge", "90"),
            ("SlaBreached", "acknowledge"),
            ("CaseEscalated", "acknowledge", "frontline", "store_management@SH-001", "SH-001-M1"),
        ]
        assert again.fire_due_timers() == 0
        assert len(events(again, case)) == before + 4
        assert not any(clock_name == "acknowledge" for clock_name, _ in timers(again, case))
        assert timers(again, case) == {("resolve", "warn_75"), ("resolve", "warn_90"), ("resolve", "breach")}
        triage = again.get_triage(case)
        assert {"sla_breached", "escalated"} <= triage.flags
        assert clock_view(again, case, "acknowledge")["state"] == "breached"
    finally:
        again.close()


def test_a_paused_clock_does_not_fire_and_resumes_with_its_remaining_time(
    routing: Routing, clock: ManualClock, feed: Feed
) -> None:
    case = triaged(routing, feed.received())
    clock.advance(10 * H)
    routing.await_customer(case, MANAGER, "waiting for the receipt photo")
    assert timers(routing, case) == set()
    ack = clock_view(routing, case, "acknowledge")
    assert (ack["state"], ack["due_at"], ack["remaining_seconds"]) == ("paused", None, 14 * 3600)

    # While paused, a day and more passes: nothing fires
    clock.advance(30 * H)
    assert routing.fire_due_timers() == 0
    ack = clock_view(routing, case, "acknowledge")
    assert (ack["state"], ack["elapsed_seconds"], ack["paused_seconds"]) == ("paused", 10 * 3600, 30 * 3600)

    # When the customer answers (at NOW + 40 h), 14 h are left: warnings at +8 h and +11.6 h, breach at +14 h
    routing.customer_responded(case, MANAGER)
    resumed = NOW + 40 * H
    ack = clock_view(routing, case, "acknowledge")
    assert ack["state"] == "running"
    assert datetime.fromisoformat(ack["due_at"]) == resumed + 14 * H
    assert ack["remaining_seconds"] == 14 * 3600
    assert routing.get_triage(case).awaiting_customer is False
    before = len(events(routing, case))

    clock.advance(8 * H - timedelta(seconds=1))
    assert routing.fire_due_timers() == 0
    clock.advance(timedelta(seconds=1))
    assert routing.fire_due_timers() == 1
    assert fired(routing, case, before) == [("ClockWarned", "acknowledge", "75")]
    clock.advance(6 * H)  # resumed + 14 h
    assert routing.fire_due_timers() == 3
    assert fired(routing, case, before)[1:] == [
        ("ClockWarned", "acknowledge", "90"),
        ("SlaBreached", "acknowledge"),
        ("CaseEscalated", "acknowledge", "frontline", "store_management@SH-001", "SH-001-M1"),
    ]


# --- escalation -----------------------------------------------------------------------------------------------


def test_successive_breaches_escalate_one_tier_at_a_time_up_to_hq(
    routing: Routing, clock: ManualClock, feed: Feed
) -> None:
    # A 12315 transfer (urgent) about a mall merchant: four clocks, each breaching at its own time
    case = triaged(
        routing,
        feed.received(
            store_id="HZ-050",
            channel="regulator",
            merchant_id="HZ-050-T01",
            channel_details={"reference": "12315-0001", "regulator_due_at": (NOW + 48 * H).isoformat()},
        ),
    )
    assert routing.get_triage(case).severity == Severity.URGENT
    assert owner_of(routing, case) == ("mall_desk@HZ-050", "HZ-050-F1")
    assert {c["clock"] for c in routing.clocks(case)} == {"acknowledge", "resolve", "regulator", "merchant_response"}

    def step(to: timedelta) -> list[tuple[Any, ...]]:
        before = len(events(routing, case))
        clock.advance(NOW + to - clock.now())
        routing.fire_due_timers()
        return fired(routing, case, before)

    # acknowledge (urgent 4 h): frontline -> cs_manager
    assert step(4 * H) == [
        ("ClockWarned", "acknowledge", "75"),
        ("ClockWarned", "acknowledge", "90"),
        ("SlaBreached", "acknowledge"),
        ("CaseEscalated", "acknowledge", "frontline", "store_management@HZ-050", "HZ-050-M1"),
    ]
    # merchant_response (urgent 12 h): cs_manager -> regional_manager
    assert step(12 * H) == [
        ("ClockWarned", "merchant_response", "75"),
        ("ClockWarned", "merchant_response", "90"),
        ("SlaBreached", "merchant_response"),
        ("CaseEscalated", "merchant_response", "cs_manager", "regional_office@east", "RM-east"),
    ]
    # regulator (its own deadline, 48 h): regional_manager -> hq
    assert step(48 * H) == [
        ("ClockWarned", "regulator", "75"),
        ("ClockWarned", "regulator", "90"),
        ("SlaBreached", "regulator"),
        ("CaseEscalated", "regulator", "regional_manager", "hq_desk", "HQ-01"),
    ]
    # resolve (urgent 3 days): already at HQ, so the breach is recorded and nobody is above
    assert step(72 * H) == [
        ("ClockWarned", "resolve", "75"),
        ("ClockWarned", "resolve", "90"),
        ("SlaBreached", "resolve"),
    ]
    triage = routing.get_triage(case)
    assert (triage.owner.queue, triage.owner.tier.value) == ("hq_desk", "hq")
    assert {"sla_breached", "escalated"} <= triage.flags
    assert timers(routing, case) == set()
    assert routing.fire_due_timers() == 0


# --- work queues ----------------------------------------------------------------------------------------------


def test_work_queue_lists_nearest_due_first_with_pages_and_drops_rejected(routing: Routing, feed: Feed) -> None:
    general = triaged(routing, feed.received(GENERAL))
    urgent = triaged(routing, feed.received(URGENT))
    critical = triaged(routing, feed.received(CRITICAL))
    assert owner_of(routing, urgent) == ("store_management@SH-001", "SH-001-M1")
    assert owner_of(routing, critical)[0] == "hq_desk"
    # Bring all three into the store's service queue, to SH-001-F1
    for case in (urgent, critical):
        routing.assign_case(case, MANAGER, "store_service", "SH-001-F1", "the store handles it")
        assert owner_of(routing, case) == ("store_service@SH-001", "SH-001-F1")

    total, rows = routing.tables.work_queue(queue="store_service@SH-001", limit=50, offset=0)
    assert total == 3
    assert [r["case_id"] for r in rows] == [str(critical), str(urgent), str(general)]
    assert [r["severity"] for r in rows] == ["critical", "urgent", "general"]
    assert [r["next_due_at"] for r in rows] == [(NOW + h * H).isoformat() for h in (1, 4, 24)]
    assert {(r["role"], r["assignee"], r["state"]) for r in rows} == {("lead", "SH-001-F1", "open")}

    total, page = routing.tables.work_queue(queue="store_service@SH-001", limit=2, offset=0)
    assert (total, [r["case_id"] for r in page]) == (3, [str(critical), str(urgent)])
    total, page = routing.tables.work_queue(queue="store_service@SH-001", limit=2, offset=2)
    assert (total, [r["case_id"] for r in page]) == (3, [str(general)])

    total, mine = routing.tables.work_queue(assignee="SH-001-F1", limit=50, offset=0)
    assert (total, [r["case_id"] for r in mine]) == (3, [str(critical), str(urgent), str(general)])

    # When one is found not well-founded it leaves the open queue
    routing.decide_validity(general, MANAGER, False, "the damage came from a fall")
    total, rows = routing.tables.work_queue(queue="store_service@SH-001", limit=50, offset=0)
    assert (total, [r["case_id"] for r in rows]) == (2, [str(critical), str(urgent)])
    total, rejected = routing.tables.work_queue(queue="store_service@SH-001", state="rejected", limit=50, offset=0)
    assert (total, [r["case_id"] for r in rejected]) == (1, [str(general)])
    assert timers(routing, general) == set()
    assert routing.tables.loads(["SH-001-F1"])["SH-001-F1"].open_cases == 2


# --- acknowledgement ------------------------------------------------------------------------------------------


def test_acknowledgement_stops_the_acknowledge_clock_met_and_drops_its_timers(
    routing: Routing, clock: ManualClock, feed: Feed
) -> None:
    received = feed.received()
    case = received.envelope.case_id
    ack = feed.acknowledged(case)

    # Before the case is triaged the acknowledgement cannot apply: it raises (the consumer retries), records nothing
    with pytest.raises(NotFound):
        routing.handle(ack)
    assert event_types(routing) == []
    assert not routing.side.has_tracking("feedback", 1)

    triaged(routing, received)
    assert ("acknowledge", "breach") in timers(routing, case)
    clock.advance(timedelta(minutes=10))
    before = len(events(routing, case))
    assert routing.handle(ack) is True
    [stopped] = events(routing, case)[before:]
    assert type(stopped).__name__ == "ClockStopped"
    assert (stopped.clock["name"], stopped.met, stopped.reason) == ("acknowledge", True, "acknowledged")
    assert timers(routing, case) == {("resolve", "warn_75"), ("resolve", "warn_90"), ("resolve", "breach")}
    view = clock_view(routing, case, "acknowledge")
    assert (view["state"], view["met"], view["elapsed_seconds"]) == ("stopped", True, 600)
    # A redelivery applies nothing, and the stopped clock never warns
    assert routing.handle(ack) is False
    clock.advance(25 * H)
    assert routing.fire_due_timers() == 0
    assert len(events(routing, case)) == before + 1


def test_a_complaint_and_its_acknowledgement_in_one_batch_apply_together(routing: Routing, feed: Feed) -> None:
    # Given a complaint and, right after it, its acknowledgement, fetched in one batch (feedback answers fast)
    received = feed.received()
    case = received.envelope.case_id
    ack = feed.acknowledged(case)
    # When routing applies the batch
    routing.handle_batch([received, ack])
    # Then both are applied in that one transaction (the acknowledgement finds the triage the complaint made, not
    # yet saved): the case is triaged and its acknowledge clock stopped, each message tracked once
    kinds = names(events(routing, case))
    assert kinds[0] == "ComplaintTriaged" and kinds[-1] == "ClockStopped"
    assert clock_view(routing, case, "acknowledge")["state"] == "stopped"
    assert routing.side.has_tracking("intake", received.notification_id)
    assert routing.side.has_tracking("feedback", ack.notification_id)
    assert routing.handle(ack) is False and routing.handle(received) is False


# --- emergency, mall merchants, regulator transfers ---------------------------------------------------------


def test_a_critical_complaint_declares_the_emergency_with_four_owned_tasks(routing: Routing, feed: Feed) -> None:
    case = triaged(routing, feed.received(CRITICAL))
    triage = routing.get_triage(case)
    assert triage.severity == "critical" and "emergency" in triage.flags
    [declared] = [e for e in events(routing, case) if type(e).__name__ == "EmergencyDeclared"]
    assert declared.crisis_queue == "crisis"
    assert set(declared.notify) == {"HQ-01", "HQ-02", "HQ-03"}  # hq and legal, scope *
    tasks = {t["task"]: t for t in declared.tasks}
    due_in = {
        "information_release_control": (1, "crisis", {"HQ-01", "HQ-02", "HQ-03"}),
        "public_opinion_watch": (2, "crisis", {"HQ-01", "HQ-02", "HQ-03"}),
        "legal_review": (4, "legal", {"HQ-03"}),
        "regulator_contact": (4, "hq_desk", {"HQ-01", "HQ-02"}),
    }
    assert set(tasks) == set(due_in)
    for name, (hours, queue, members) in due_in.items():
        assert tasks[name]["queue"] == queue
        assert tasks[name]["owner"] in members
        assert datetime.fromisoformat(tasks[name]["due_at"]) == NOW + hours * H
    assert [t["done"] for t in triage.emergency_tasks.values()] == [False] * 4
    # The lead is HQ and the store's managers support
    assert owner_of(routing, case) == ("hq_desk", "HQ-01")
    assert triage.supporting == ["store_management@SH-001"]
    # Emergency tasks are not counted as lead cases for balancing
    assert routing.tables.loads(["HQ-01", "HQ-02", "HQ-03"]).keys() == {"HQ-01"}


def test_a_mall_merchant_complaint_goes_to_the_mall_desk_and_chases_the_merchant(routing: Routing, feed: Feed) -> None:
    case = triaged(routing, feed.received(store_id="HZ-050", merchant_id="HZ-050-T03"))
    queue, assignee = owner_of(routing, case)
    assert queue == "mall_desk@HZ-050" and assignee in {"HZ-050-F1", "HZ-050-M1"}
    evts = events(routing, case)
    [chased] = [e for e in evts if type(e).__name__ == "MerchantChased"]
    assert chased.merchant_id == "HZ-050-T03"
    merchant = clock_view(routing, case, "merchant_response")
    assert (merchant["state"], merchant["budget_seconds"]) == ("running", 48 * 3600)
    assert datetime.fromisoformat(merchant["due_at"]) == NOW + 48 * H
    assert ("merchant_response", "breach") in timers(routing, case)
    # The merchant's answer stops that clock, met
    routing.record_merchant_response(case, MANAGER, "the shop will replace it")
    merchant = clock_view(routing, case, "merchant_response")
    assert (merchant["state"], merchant["met"]) == ("stopped", True)
    assert not any(c == "merchant_response" for c, _ in timers(routing, case))


def test_a_regulator_transfer_gets_the_regulators_deadline_which_does_not_pause(
    routing: Routing, clock: ManualClock, feed: Feed
) -> None:
    due = "2026-11-28T18:00:00+08:00"
    case = triaged(
        routing, feed.received(channel="regulator", channel_details={"reference": "12315-77", "regulator_due_at": due})
    )
    triage = routing.get_triage(case)
    assert triage.severity == "urgent" and any(r == "channel_regulator" for r in triage.severity_reasons)
    regulator = clock_view(routing, case, "regulator")
    assert datetime.fromisoformat(regulator["due_at"]) == datetime.fromisoformat(due)
    assert regulator["due_at_local"] == "2026-11-28T18:00:00+08:00"
    assert {("regulator", k) for k in ("warn_75", "warn_90", "breach")} <= timers(routing, case)
    # Waiting on the customer pauses the others but not the regulator's deadline
    clock.advance(H)
    routing.await_customer(case, MANAGER, "asked for the invoice")
    states = {c["clock"]: c["state"] for c in routing.clocks(case)}
    assert states == {"acknowledge": "paused", "resolve": "paused", "regulator": "running"}
    assert {c for c, _ in timers(routing, case)} == {"regulator"}
