"""The ``Triage`` aggregate on the shipped config: Given a triaged case (and the events of earlier commands) /
When a command at a given instant / Then the new events (``collect_events``) or the error. Time is a parameter."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from services.routing.calendar import BusinessCalendar, CalendarConfig, ClockMode
from services.routing.clocks import Clock, ClockName, ClockPolicy, TimerKind
from services.routing.domain import (
    CaseState,
    Intake,
    Owner,
    Party,
    SeverityRules,
    Taxonomy,
    Tier,
    Triage,
    assess_severity,
    classify,
)
from shared.configfiles import load_config
from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import EventContext
from shared.settings import REPO_ROOT
from shared.vocabulary import Category, Role, Severity
from tests.unit.helpers import NOW, context

TAXONOMY = load_config(REPO_ROOT / "config" / "taxonomy.yaml", Taxonomy)
RULES = load_config(REPO_ROOT / "config" / "severity.yaml", SeverityRules)
POLICY = load_config(REPO_ROOT / "config" / "clocks.yaml", ClockPolicy)
CAL = BusinessCalendar.from_config(load_config(REPO_ROOT / "config" / "calendar.yaml", CalendarConfig))
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
D = timedelta(days=1)
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")

GENERAL_TEXT = "手镯断了"  # product_quality/defect, general
CRITICAL_TEXT = "不解决我就找律师起诉你们"  # legal threat: critical
ROUTINE_TEXT = "包装有点旧"  # urgent when it comes from the regulator (12315)

STORE_SERVICE = Owner(team="store_service", queue="store_service@SH-001", assignee="SH-001-F1", tier=Tier.FRONTLINE)
STORE_MANAGEMENT = Owner(
    team="store_management", queue="store_management@SH-001", assignee="SH-001-M1", tier=Tier.CS_MANAGER
)
REGIONAL = Owner(team="regional_office", queue="regional_office@east", assignee="RM-east", tier=Tier.REGIONAL_MANAGER)


# --- builders ---------------------------------------------------------------------------------------------------


def intake(channel: str = "phone", merchant_id: str | None = None, received_at: datetime = NOW) -> Intake:
    return Intake(
        case_number="C-2026-000123", store_id="SH-001", region="east", channel=channel, merchant_id=merchant_id,
        language="zh", received_at=received_at,
    )  # fmt: skip


def at(triage: Triage, after: timedelta = timedelta(0), actor: Actor | None = None) -> EventContext:
    """A routing context for ``triage``, ``after`` the receipt (NOW), by the clerk or ``actor``."""
    if actor is None:
        return context(triage.case_id, service="routing", at=NOW + after)
    return EventContext(
        case_id=triage.case_id, actor=actor, service="routing", recorded_at=NOW + after, correlation_id=uuid4()
    )


def triaged(
    text: str = GENERAL_TEXT,
    channel: str = "phone",
    merchant_id: str | None = None,
    received_at: datetime = NOW,
    policy: ClockPolicy = POLICY,
    regulator_due_at: datetime | None = None,
    clocks: bool = True,
) -> Triage:
    """Given a case triaged (and its clocks started) at ``received_at``; its events are already collected."""
    case_id = uuid4()
    ctx = context(case_id, service="routing", at=received_at)
    triage = Triage.triage(
        uuid4(),
        ctx,
        intake(channel, merchant_id, received_at),
        classify(text, TAXONOMY),
        assess_severity(text, channel, None, RULES),
    )
    if clocks:
        triage.start_clocks(ctx, policy, regulator_due_at)
    triage.collect_events()
    return triage


def new_events(triage: Triage) -> list[Any]:
    return list(triage.collect_events())


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def clock_of(event: Any) -> Clock:
    return Clock.model_validate(event.clock)


# --- triage and clocks ------------------------------------------------------------------------------------------


class TestTriageAndClocks:
    def test_triage_records_the_classification_evidence(self) -> None:
        # When
        triage = Triage.triage(
            uuid4(),
            context(uuid4(), service="routing"),
            intake(),
            classify(GENERAL_TEXT, TAXONOMY),
            assess_severity(GENERAL_TEXT, "phone", None, RULES),
        )
        # Then
        [event] = new_events(triage)
        assert type(event).__name__ == "ComplaintTriaged"
        assert (event.category, event.subcategory, event.severity) == ("product_quality", "defect", "general")
        assert event.matched_terms == ["断了"]
        assert event.confidence == Decimal("0.50")
        assert event.intake["case_number"] == "C-2026-000123"
        assert (triage.state, triage.well_founded, triage.owner) == (CaseState.OPEN, None, None)

    @pytest.mark.parametrize(
        ("text", "acknowledge", "resolve"),
        [(GENERAL_TEXT, 24 * H, 7 * D), (CRITICAL_TEXT, H, 24 * H)],
    )
    def test_start_clocks_runs_acknowledge_and_resolve_from_receipt(
        self, text: str, acknowledge: timedelta, resolve: timedelta
    ) -> None:
        # Given a case received at NOW, triaged an hour later
        triage = triaged(text, clocks=False)
        # When
        triage.start_clocks(at(triage, H), POLICY, None)
        # Then
        events = new_events(triage)
        assert names(events) == ["ClockStarted", "ClockStarted"]
        ack, res = (clock_of(e) for e in events)
        assert (ack.name, ack.started_at, ack.duration, ack.mode) == (
            ClockName.ACKNOWLEDGE, NOW, acknowledge, ClockMode.WALL
        )  # fmt: skip
        assert (res.name, res.started_at, res.duration) == (ClockName.RESOLVE, NOW, resolve)
        assert all(e.reason == "received" for e in events)
        assert triage.clocks[ClockName.ACKNOWLEDGE].due_at(CAL) == NOW + acknowledge

    def test_a_transfer_adds_the_regulator_clock_with_its_absolute_deadline(self) -> None:
        triage = triaged(ROUTINE_TEXT, channel="regulator", clocks=False)
        deadline = NOW + 10 * D
        # When
        triage.start_clocks(at(triage), POLICY, deadline)
        # Then
        events = new_events(triage)
        assert names(events) == ["ClockStarted"] * 3
        regulator = clock_of(events[2])
        assert (regulator.name, regulator.started_at, regulator.deadline) == (ClockName.REGULATOR, NOW, deadline)
        assert (regulator.duration, regulator.pausable) == (None, False)
        assert events[2].reason == "12315"
        assert triage.clocks[ClockName.REGULATOR].due_at(CAL) == deadline


# --- classification and severity -------------------------------------------------------------------------------


class TestOverrideCategory:
    def test_records_the_previous_category_and_the_reason(self) -> None:
        triage = triaged()
        # When
        triage.override_category(at(triage, H), Category.SERVICE, None, "  the customer means the clerk  ")
        # Then
        [event] = new_events(triage)
        assert type(event).__name__ == "CategoryOverridden"
        assert (event.category, event.subcategory, event.previous_category, event.reason) == (
            "service", None, "product_quality", "the customer means the clerk"
        )  # fmt: skip
        assert (triage.category, triage.subcategory) == ("service", None)

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_a_blank_reason_is_refused(self, reason: str) -> None:
        triage = triaged()
        with pytest.raises(InvalidValue) as error:
            triage.override_category(at(triage, H), Category.SERVICE, None, reason)
        assert error.value.field == "reason"
        assert new_events(triage) == []

    def test_the_same_category_and_subcategory_is_refused(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidTransition):
            triage.override_category(at(triage, H), Category.PRODUCT_QUALITY, "defect", "double-checked")
        assert new_events(triage) == []

    def test_the_same_category_with_another_subcategory_is_an_override(self) -> None:
        triage = triaged()
        triage.override_category(at(triage, H), Category.PRODUCT_QUALITY, "authenticity", "the stone is fake")
        assert names(new_events(triage)) == ["CategoryOverridden"]

    def test_a_rejected_case_is_not_reclassified(self) -> None:
        # Given a rejected case
        triage = triaged()
        triage.decide_validity(at(triage, H), False, "the product was bought elsewhere", CAL)
        triage.collect_events()
        # When / Then
        with pytest.raises(InvalidTransition):
            triage.override_category(at(triage, 2 * H), Category.SERVICE, None, "wrong category")
        assert new_events(triage) == []


class TestChangeSeverity:
    def test_raising_replans_open_clocks_keeping_time_used(self) -> None:
        # Given a general case (acknowledge 24 h, resolve 7 d), 2 h after receipt
        triage = triaged()
        # When the clerk raises it to urgent (acknowledge 4 h, resolve 3 d)
        triage.change_severity(at(triage, 2 * H), Severity.URGENT, "customer is elderly", POLICY, CAL)
        # Then
        events = new_events(triage)
        assert names(events) == ["SeverityChanged", "ClockReplanned", "ClockReplanned"]
        assert (events[0].severity, events[0].previous_severity, events[0].reason) == (
            "urgent", "general", "customer is elderly"
        )  # fmt: skip
        replanned = {clock_of(e).name: clock_of(e) for e in events[1:]}
        assert replanned[ClockName.ACKNOWLEDGE].duration == 4 * H
        assert replanned[ClockName.RESOLVE].duration == 3 * D
        assert all(e.reason == "severity urgent" for e in events[1:])
        # the 2 h already used still count: 2 h of the 4 remain
        ack = triage.clocks[ClockName.ACKNOWLEDGE]
        assert ack.remaining(NOW + 2 * H, CAL) == 2 * H
        assert ack.due_at(CAL) == NOW + 4 * H
        assert triage.severity == "urgent"

    def test_stopped_and_absolute_clocks_are_not_replanned(self) -> None:
        # Given a transfer (urgent) whose acknowledge clock was already stopped
        triage = triaged(ROUTINE_TEXT, channel="regulator", regulator_due_at=NOW + 10 * D)
        triage.stop_clock(at(triage, H), ClockName.ACKNOWLEDGE, "acknowledged", CAL)
        triage.collect_events()
        # When raised to critical
        triage.change_severity(at(triage, 2 * H), Severity.CRITICAL, "media involved", POLICY, CAL)
        # Then only the resolve clock is re-planned
        events = new_events(triage)
        assert names(events) == ["SeverityChanged", "ClockReplanned"]
        assert clock_of(events[1]).name is ClockName.RESOLVE
        assert triage.clocks[ClockName.REGULATOR].deadline == NOW + 10 * D

    def test_lowering_by_frontline_is_forbidden_and_records_nothing(self) -> None:
        triage = triaged(ROUTINE_TEXT, channel="regulator")  # urgent
        with pytest.raises(Forbidden):
            triage.change_severity(at(triage, H), Severity.GENERAL, "not that bad", POLICY, CAL)
        assert new_events(triage) == []
        assert triage.severity == "urgent"
        assert triage.clocks[ClockName.ACKNOWLEDGE].duration == 4 * H

    def test_lowering_by_a_cs_manager_is_recorded(self) -> None:
        triage = triaged(ROUTINE_TEXT, channel="regulator")  # urgent
        # When
        triage.change_severity(at(triage, H, MANAGER), Severity.GENERAL, "not that bad", POLICY, CAL)
        # Then
        events = new_events(triage)
        assert names(events) == ["SeverityChanged", "ClockReplanned", "ClockReplanned"]
        assert (events[0].severity, events[0].previous_severity) == ("general", "urgent")
        assert events[0].envelope["actor"]["role"] == "cs_manager"
        assert triage.clocks[ClockName.ACKNOWLEDGE].due_at(CAL) == NOW + 24 * H

    def test_the_same_severity_is_refused(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidTransition):
            triage.change_severity(at(triage, H), Severity.GENERAL, "check", POLICY, CAL)
        assert new_events(triage) == []


# --- validity, appeal and responsibility ------------------------------------------------------------------------


class TestDecideValidity:
    @pytest.mark.parametrize("reason", [None, "", "  "])
    def test_not_well_founded_needs_a_reason(self, reason: str | None) -> None:
        triage = triaged()
        with pytest.raises(InvalidValue) as error:
            triage.decide_validity(at(triage, H), False, reason, CAL)
        assert error.value.field == "reason"
        assert new_events(triage) == []
        assert triage.state is CaseState.OPEN

    def test_not_well_founded_rejects_the_case_and_stops_every_open_clock(self) -> None:
        triage = triaged(regulator_due_at=NOW + 10 * D)
        # When
        triage.decide_validity(at(triage, 3 * H), False, "bought at another shop", CAL)
        # Then
        events = new_events(triage)
        assert names(events) == ["ValidityDecided", "ClockStopped", "ClockStopped", "ClockStopped"]
        decided = events[0]
        assert (decided.well_founded, decided.reason, decided.case_number, decided.language) == (
            False, "bought at another shop", "C-2026-000123", "zh"
        )  # fmt: skip
        stopped = [clock_of(e) for e in events[1:]]
        assert {c.name for c in stopped} == {ClockName.ACKNOWLEDGE, ClockName.RESOLVE, ClockName.REGULATOR}
        assert all(c.stopped_at == NOW + 3 * H for c in stopped)
        assert all(e.reason == "rejected" and e.met for e in events[1:])
        assert (triage.state, triage.well_founded, triage.is_open) == (CaseState.REJECTED, False, False)

    def test_deciding_not_well_founded_again_is_refused(self) -> None:
        triage = triaged()
        triage.decide_validity(at(triage, H), False, "bought elsewhere", CAL)
        triage.collect_events()
        with pytest.raises(InvalidTransition):
            triage.decide_validity(at(triage, 2 * H), False, "bought elsewhere", CAL)
        assert new_events(triage) == []

    def test_well_founded_records_only_the_decision(self) -> None:
        triage = triaged()
        # When
        triage.decide_validity(at(triage, H), True, None, CAL)
        # Then
        [event] = new_events(triage)
        assert type(event).__name__ == "ValidityDecided"
        assert (event.well_founded, event.reason, event.case_number) == (True, None, "C-2026-000123")
        assert (triage.state, triage.well_founded) == (CaseState.OPEN, True)
        assert triage.clocks[ClockName.RESOLVE].stopped_at is None

    def test_deciding_well_founded_again_is_refused(self) -> None:
        triage = triaged()
        triage.decide_validity(at(triage, H), True, None, CAL)
        triage.collect_events()
        with pytest.raises(InvalidTransition):
            triage.decide_validity(at(triage, 2 * H), True, None, CAL)
        assert new_events(triage) == []


class TestAppeal:
    def test_an_open_case_cannot_be_appealed(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidTransition):
            triage.appeal(at(triage, H), "I disagree", POLICY)
        assert new_events(triage) == []

    def test_an_appeal_reopens_the_case_with_a_fresh_resolve_clock(self) -> None:
        # Given a case rejected an hour after receipt
        triage = triaged()
        triage.decide_validity(at(triage, H), False, "bought elsewhere", CAL)
        triage.collect_events()
        # When the customer appeals three days later
        triage.appeal(at(triage, 3 * D), "here is the receipt", POLICY)
        # Then
        events = new_events(triage)
        assert names(events) == ["AppealLodged", "ClockStarted"]
        assert events[0].reason == "here is the receipt"
        resolve = clock_of(events[1])
        assert (resolve.name, resolve.started_at, resolve.duration, resolve.used) == (
            ClockName.RESOLVE, NOW + 3 * D, 7 * D, timedelta(0)
        )  # fmt: skip
        assert events[1].reason == "appeal"
        assert triage.clocks[ClockName.RESOLVE].due_at(CAL) == NOW + 10 * D
        assert (triage.state, triage.well_founded) == (CaseState.OPEN, None)

    def test_an_appeal_after_a_rejection_while_waiting_can_wait_on_the_customer_again(self) -> None:
        # Given a case waiting on the customer, rejected, then appealed (fresh running resolve clock)
        triage = triaged()
        triage.await_customer(at(triage, H), "asked for photos", CAL)
        triage.decide_validity(at(triage, 2 * H), False, "bought elsewhere", CAL)
        triage.appeal(at(triage, D), "here is the receipt", POLICY)
        triage.collect_events()
        # When the case waits on the customer again
        triage.await_customer(at(triage, 2 * D), "asked for the receipt original", CAL)
        # Then the fresh resolve clock pauses
        assert names(new_events(triage)) == ["AwaitingCustomer", "ClockPaused"]


class TestResponsibility:
    def test_the_primary_party_cannot_also_be_secondary(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidValue) as error:
            triage.determine_responsibility(at(triage, H), Party.STORE, [Party.SUPPLIER, Party.STORE], "mixed up")
        assert error.value.field == "secondary"
        assert new_events(triage) == []

    def test_records_primary_and_sorted_distinct_secondary_parties(self) -> None:
        triage = triaged()
        triage.determine_responsibility(
            at(triage, H), Party.MERCHANT, [Party.SUPPLIER, Party.LOGISTICS, Party.SUPPLIER], "defect from supplier"
        )
        [event] = new_events(triage)
        assert type(event).__name__ == "ResponsibilityDetermined"
        assert (event.primary, event.secondary, event.reason) == (
            "merchant", ["logistics", "supplier"], "defect from supplier"
        )  # fmt: skip
        assert triage.responsibility == {
            "primary": "merchant", "secondary": ["logistics", "supplier"], "reason": "defect from supplier"
        }  # fmt: skip


# --- ownership --------------------------------------------------------------------------------------------------


class TestAssign:
    def test_the_first_assignment_is_recorded(self) -> None:
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default", rule="default", supporting=["quality", "appraisal"])
        [event] = new_events(triage)
        assert type(event).__name__ == "CaseAssigned"
        assert (event.team, event.queue, event.assignee, event.tier, event.rule, event.supporting) == (
            "store_service", "store_service@SH-001", "SH-001-F1", "frontline", "default", ["appraisal", "quality"]
        )  # fmt: skip
        assert triage.owner is not None and triage.owner.since == NOW
        assert triage.supporting == ["appraisal", "quality"]

    def test_the_same_owner_again_is_refused(self) -> None:
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default")
        triage.collect_events()
        with pytest.raises(InvalidTransition):
            triage.assign(at(triage, H), STORE_SERVICE, "again")
        assert new_events(triage) == []

    def test_another_member_of_the_same_queue_is_a_reassignment(self) -> None:
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default")
        triage.collect_events()
        triage.assign(at(triage, H), STORE_SERVICE.model_copy(update={"assignee": "SH-001-F2"}), "F1 is on leave")
        [event] = new_events(triage)
        assert (type(event).__name__, event.assignee) == ("CaseAssigned", "SH-001-F2")

    def test_another_queue_is_a_transfer(self) -> None:
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default")
        triage.collect_events()
        # When
        triage.assign(at(triage, H), STORE_MANAGEMENT, "needs a manager")
        # Then
        [event] = new_events(triage)
        assert type(event).__name__ == "CaseTransferred"
        assert (event.from_queue, event.queue, event.assignee, event.tier, event.reason) == (
            "store_service@SH-001", "store_management@SH-001", "SH-001-M1", "cs_manager", "needs a manager"
        )  # fmt: skip
        assert triage.owner is not None and triage.owner.queue == "store_management@SH-001"

    def test_a_supporting_team_is_added_once(self) -> None:
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default")
        triage.add_supporting_team(at(triage, H), "quality", "check the batch")
        assert names(new_events(triage)) == ["CaseAssigned", "SupportingTeamAdded"]
        with pytest.raises(InvalidTransition):
            triage.add_supporting_team(at(triage, 2 * H), "quality", "check the batch again")
        with pytest.raises(InvalidTransition):  # the lead is not a supporting team
            triage.add_supporting_team(at(triage, 2 * H), "store_service@SH-001", "help")
        assert new_events(triage) == []
        assert triage.supporting == ["quality"]


class TestMerchant:
    def test_a_case_without_merchant_cannot_chase_one(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidTransition):
            triage.chase_merchant(at(triage, H), POLICY)
        assert new_events(triage) == []

    def test_chasing_starts_the_merchant_response_clock(self) -> None:
        triage = triaged(merchant_id="SH-050-T01")
        # When
        triage.chase_merchant(at(triage, H), POLICY)
        # Then
        events = new_events(triage)
        assert names(events) == ["MerchantChased", "ClockStarted"]
        assert events[0].merchant_id == "SH-050-T01"
        clock = clock_of(events[1])
        assert (clock.name, clock.started_at, clock.duration) == (ClockName.MERCHANT_RESPONSE, NOW + H, 48 * H)
        assert events[1].reason == "merchant chased"
        with pytest.raises(InvalidTransition):  # already chased
            triage.chase_merchant(at(triage, 2 * H), POLICY)

    def test_the_response_stops_the_clock_once(self) -> None:
        # Given a merchant chased an hour after receipt
        triage = triaged(merchant_id="SH-050-T01")
        triage.chase_merchant(at(triage, H), POLICY)
        triage.collect_events()
        # When the merchant responds 5 h later
        triage.record_merchant_response(at(triage, 6 * H), "will replace the item", CAL)
        # Then
        events = new_events(triage)
        assert names(events) == ["MerchantResponded", "ClockStopped"]
        assert events[0].note == "will replace the item"
        stopped = clock_of(events[1])
        assert (stopped.name, stopped.used, stopped.stopped_at) == (ClockName.MERCHANT_RESPONSE, 5 * H, NOW + 6 * H)
        assert events[1].met is True
        # And a second response is refused
        with pytest.raises(InvalidTransition):
            triage.record_merchant_response(at(triage, 7 * H), "again", CAL)
        assert new_events(triage) == []


class TestAwaitingCustomer:
    def test_every_pausable_clock_pauses_and_keeps_its_remaining_time(self) -> None:
        # Given a transfer (acknowledge, resolve and the regulator's clock), 2 h after receipt
        triage = triaged(regulator_due_at=NOW + 10 * D)
        # When the case waits on the customer for 3 days
        triage.await_customer(at(triage, 2 * H), "asked for the receipt", CAL)
        paused_events = new_events(triage)
        triage.customer_responded(at(triage, 3 * D + 2 * H))
        resumed_events = new_events(triage)
        # Then the regulator's clock never paused
        assert names(paused_events) == ["AwaitingCustomer", "ClockPaused", "ClockPaused"]
        assert {clock_of(e).name for e in paused_events[1:]} == {ClockName.ACKNOWLEDGE, ClockName.RESOLVE}
        assert all(e.reason == "asked for the receipt" for e in paused_events[1:])
        assert names(resumed_events) == ["CustomerResponded", "ClockResumed", "ClockResumed"]
        assert {clock_of(e).name for e in resumed_events[1:]} == {ClockName.ACKNOWLEDGE, ClockName.RESOLVE}
        # And the remaining time was kept exactly, the pause counted apart
        now = NOW + 3 * D + 2 * H
        ack = triage.clocks[ClockName.ACKNOWLEDGE]
        assert ack.remaining(now, CAL) == 22 * H
        assert ack.paused(now) == 3 * D
        assert ack.due_at(CAL) == now + 22 * H
        assert triage.clocks[ClockName.RESOLVE].remaining(now, CAL) == 7 * D - 2 * H
        regulator = triage.clocks[ClockName.REGULATOR]
        assert (regulator.elapsed(now, CAL), regulator.paused(now)) == (3 * D + 2 * H, timedelta(0))
        assert not triage.awaiting_customer

    def test_while_waiting_the_clocks_have_no_due_time(self) -> None:
        triage = triaged()
        triage.await_customer(at(triage, 2 * H), "asked for photos", CAL)
        assert triage.awaiting_customer
        assert triage.next_due_at(CAL) is None
        assert triage.clocks[ClockName.ACKNOWLEDGE].remaining(NOW + 5 * D, CAL) == 22 * H

    def test_waiting_twice_is_refused(self) -> None:
        triage = triaged()
        triage.await_customer(at(triage, 2 * H), "asked for photos", CAL)
        triage.collect_events()
        with pytest.raises(InvalidTransition):
            triage.await_customer(at(triage, 3 * H), "asked again", CAL)
        assert new_events(triage) == []

    def test_a_response_when_not_waiting_is_refused(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidTransition):
            triage.customer_responded(at(triage, 2 * H))
        assert new_events(triage) == []


# --- timers -----------------------------------------------------------------------------------------------------


class TestFire:
    """Given a general case: acknowledge in 24 h warns at 18 h (75 %) and 21 h 36 min (90 %)."""

    def test_the_first_warning_at_75_percent(self) -> None:
        triage = triaged()
        assert triage.fire(at(triage, 18 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is True
        [event] = new_events(triage)
        assert type(event).__name__ == "ClockWarned"
        assert (event.clock, event.threshold) == ("acknowledge", "75")
        assert datetime.fromisoformat(event.due_at) == NOW + 24 * H

    def test_a_warning_is_announced_once(self) -> None:
        triage = triaged()
        triage.fire(at(triage, 18 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL)
        triage.collect_events()
        assert triage.fire(at(triage, 19 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is False
        assert new_events(triage) == []

    def test_a_timer_firing_early_records_nothing(self) -> None:
        triage = triaged()
        assert triage.fire(at(triage, 18 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_90, CAL) is False
        assert triage.fire(at(triage, 17 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is False
        assert new_events(triage) == []

    def test_a_paused_clocks_timers_record_nothing(self) -> None:
        # Given the case waiting on the customer since 1 h after receipt
        triage = triaged()
        triage.await_customer(at(triage, H), "asked for photos", CAL)
        triage.collect_events()
        # When the old timers fall due
        for kind, after in ((TimerKind.WARN_75, 18 * H), (TimerKind.WARN_90, 22 * H), (TimerKind.BREACH, 25 * H)):
            assert triage.fire(at(triage, after), ClockName.ACKNOWLEDGE, kind, CAL) is False
        # Then
        assert new_events(triage) == []
        assert "sla_breached" not in triage.flags

    def test_a_clock_the_case_does_not_have_records_nothing(self) -> None:
        triage = triaged()
        assert triage.fire(at(triage, 30 * D), ClockName.REGULATOR, TimerKind.BREACH, CAL) is False
        assert new_events(triage) == []

    def test_the_breach_after_the_due_time_flags_the_case(self) -> None:
        triage = triaged()
        assert triage.fire(at(triage, 24 * H), ClockName.ACKNOWLEDGE, TimerKind.BREACH, CAL) is True
        [event] = new_events(triage)
        assert type(event).__name__ == "SlaBreached"
        assert (event.clock, datetime.fromisoformat(event.due_at)) == ("acknowledge", NOW + 24 * H)
        assert "sla_breached" in triage.flags

    def test_a_breach_before_the_due_time_records_nothing(self) -> None:
        triage = triaged()
        just_before = at(triage, 24 * H - timedelta(seconds=1))
        assert triage.fire(just_before, ClockName.ACKNOWLEDGE, TimerKind.BREACH, CAL) is False
        assert new_events(triage) == []
        assert "sla_breached" not in triage.flags

    def test_after_a_replan_the_warnings_can_fire_again(self) -> None:
        # Given an urgent case (acknowledge 4 h) warned at 3 h, then lowered to general (24 h) by a manager
        triage = triaged(ROUTINE_TEXT, channel="regulator")
        assert triage.fire(at(triage, 3 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL)
        triage.change_severity(at(triage, 3 * H, MANAGER), Severity.GENERAL, "minor", POLICY, CAL)
        assert names(triage.collect_events()) == ["ClockWarned", "SeverityChanged", "ClockReplanned", "ClockReplanned"]
        # When the old 75 % timer (4 h) fires, then the new one (18 h)
        assert triage.fire(at(triage, 4 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is False
        assert triage.fire(at(triage, 18 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is True
        # Then the warning is announced for the new plan
        [event] = new_events(triage)
        assert (type(event).__name__, event.threshold, datetime.fromisoformat(event.due_at)) == (
            "ClockWarned", "75", NOW + 24 * H
        )  # fmt: skip

    def test_pending_timers_are_the_unannounced_ones(self) -> None:
        triage = triaged()
        triage.fire(at(triage, 18 * H), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL)
        pending = triage.pending_timers(CAL)
        assert pending == [
            (ClockName.ACKNOWLEDGE, TimerKind.WARN_90, NOW + timedelta(hours=21, minutes=36)),
            (ClockName.ACKNOWLEDGE, TimerKind.BREACH, NOW + 24 * H),
            (ClockName.RESOLVE, TimerKind.WARN_75, NOW + timedelta(days=5.25)),
            (ClockName.RESOLVE, TimerKind.WARN_90, NOW + timedelta(days=6.3)),
            (ClockName.RESOLVE, TimerKind.BREACH, NOW + 7 * D),
        ]

    def test_a_stopped_clock_has_no_pending_timers(self) -> None:
        triage = triaged()
        triage.stop_clock(at(triage, H), ClockName.ACKNOWLEDGE, "acknowledged", CAL)
        assert {c for c, _, _ in triage.pending_timers(CAL)} == {ClockName.RESOLVE}
        assert triage.fire(at(triage, 24 * H), ClockName.ACKNOWLEDGE, TimerKind.BREACH, CAL) is False


class TestEscalate:
    def test_one_tier_up_notifies_the_new_and_the_previous_assignee(self) -> None:
        # Given a case with the store's frontline
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default")
        triage.collect_events()
        # When the acknowledge clock breached
        triage.escalate(at(triage, 24 * H), STORE_MANAGEMENT, ClockName.ACKNOWLEDGE)
        # Then
        [event] = new_events(triage)
        assert type(event).__name__ == "CaseEscalated"
        assert (event.from_tier, event.tier, event.queue, event.assignee, event.clock) == (
            "frontline", "cs_manager", "store_management@SH-001", "SH-001-M1", "acknowledge"
        )  # fmt: skip
        assert event.notify == ["SH-001-F1", "SH-001-M1"]
        assert "escalated" in triage.flags
        assert triage.owner is not None and triage.owner.tier is Tier.CS_MANAGER

    def test_skipping_a_tier_is_refused(self) -> None:
        triage = triaged()
        triage.assign(at(triage), STORE_SERVICE, "rule default")
        triage.collect_events()
        with pytest.raises(InvalidTransition):
            triage.escalate(at(triage, 24 * H), REGIONAL, ClockName.ACKNOWLEDGE)
        assert new_events(triage) == []
        assert "escalated" not in triage.flags

    def test_a_case_without_owner_cannot_be_escalated(self) -> None:
        triage = triaged()
        with pytest.raises(InvalidTransition):
            triage.escalate(at(triage, 24 * H), STORE_MANAGEMENT, ClockName.ACKNOWLEDGE)
        assert new_events(triage) == []


# --- emergency --------------------------------------------------------------------------------------------------

# The checklist as the application hands it over: one task per item, with its queue, owner and deadline.
TASKS = [
    {
        "task": "information_release_control",
        "title": "信息发布控制",
        "queue": "crisis",
        "owner": "HQ-01",
        "due_at": (NOW + H).isoformat(),
    },
    {
        "task": "legal_review",
        "title": "法务评估",
        "queue": "legal",
        "owner": "HQ-03",
        "due_at": (NOW + 4 * H).isoformat(),
    },
]


class TestEmergency:
    def declared(self) -> Triage:
        triage = triaged(CRITICAL_TEXT)
        triage.declare_emergency(at(triage), "legal threat with media", "crisis", ["HQ-03", "HQ-01"], TASKS)
        triage.collect_events()
        return triage

    def test_declaring_records_the_tasks(self) -> None:
        triage = triaged(CRITICAL_TEXT)
        triage.declare_emergency(at(triage), "legal threat with media", "crisis", ["HQ-03", "HQ-01"], TASKS)
        [event] = new_events(triage)
        assert type(event).__name__ == "EmergencyDeclared"
        assert (event.reason, event.crisis_queue, event.notify, event.tasks) == (
            "legal threat with media", "crisis", ["HQ-01", "HQ-03"], TASKS
        )  # fmt: skip
        assert "emergency" in triage.flags
        assert sorted(triage.emergency_tasks) == ["information_release_control", "legal_review"]
        assert triage.emergency_tasks["legal_review"]["done"] is False

    def test_a_second_declaration_is_refused(self) -> None:
        triage = self.declared()
        with pytest.raises(InvalidTransition):
            triage.declare_emergency(at(triage, H), "again", "crisis", [], TASKS)
        assert new_events(triage) == []

    def test_a_step_on_an_unknown_task_names_the_tasks(self) -> None:
        triage = self.declared()
        with pytest.raises(InvalidValue) as error:
            triage.record_emergency_step(at(triage, H), "press_conference", "held", True)
        assert error.value.field == "task"
        assert error.value.allowed == ["information_release_control", "legal_review"]
        assert new_events(triage) == []

    def test_a_done_task_takes_no_more_steps(self) -> None:
        triage = self.declared()
        triage.record_emergency_step(at(triage, H), "legal_review", "counsel called", False)
        triage.record_emergency_step(at(triage, 2 * H), "legal_review", "opinion received", True)
        events = new_events(triage)
        assert names(events) == ["EmergencyStepRecorded", "EmergencyStepRecorded"]
        assert [(e.task, e.done) for e in events] == [("legal_review", False), ("legal_review", True)]
        assert triage.emergency_tasks["legal_review"] == {**TASKS[1], "done": True, "steps": 2}
        with pytest.raises(InvalidTransition):
            triage.record_emergency_step(at(triage, 3 * H), "legal_review", "one more", False)
        assert new_events(triage) == []

    def test_no_step_without_a_declaration(self) -> None:
        triage = triaged(CRITICAL_TEXT)
        with pytest.raises(InvalidTransition):
            triage.record_emergency_step(at(triage, H), "legal_review", "counsel called", False)


# --- withdrawal -------------------------------------------------------------------------------------------------


class TestCloseWithdrawn:
    def test_every_clock_stops(self) -> None:
        triage = triaged(regulator_due_at=NOW + 10 * D)
        # When
        triage.close_withdrawn(at(triage, 5 * H), CAL)
        # Then
        events = new_events(triage)
        assert names(events) == ["TriageClosed", "ClockStopped", "ClockStopped", "ClockStopped"]
        assert all(e.reason == "withdrawn" for e in events[1:])
        assert all(c.stopped_at == NOW + 5 * H for c in triage.clocks.values())
        assert triage.state is CaseState.WITHDRAWN
        assert triage.pending_timers(CAL) == [] and triage.next_due_at(CAL) is None

    def test_a_second_withdrawal_records_nothing(self) -> None:
        triage = triaged()
        triage.close_withdrawn(at(triage, 5 * H), CAL)
        triage.collect_events()
        triage.close_withdrawn(at(triage, 6 * H), CAL)
        assert new_events(triage) == []


# --- working-time clocks ----------------------------------------------------------------------------------------


def working_policy() -> ClockPolicy:
    """The shipped policy, with acknowledge counted in working time (general: 8 working hours)."""
    data = POLICY.model_dump(mode="json", exclude_none=True)
    [acknowledge] = [c for c in data["clocks"] if c["name"] == "acknowledge"]
    acknowledge.update(mode="working", durations={"critical": "PT2H", "urgent": "PT4H", "general": "PT8H"})
    return ClockPolicy.model_validate(data)


def sh(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


class TestWorkingTimeClocks:
    policy = working_policy()

    def test_a_case_before_national_day_is_due_after_the_holiday(self) -> None:
        # Given a general case received Wednesday 30 September 2026 at 16:00: 2 h count that day
        received = sh(date(2026, 9, 30), 16)
        triage = triaged(received_at=received, policy=self.policy)
        # Then the other 6 h fall on the first working day after the holiday
        first = date(2026, 10, 1)
        while not chinese_calendar.is_workday(first):
            first += timedelta(days=1)
        assert first > date(2026, 10, 7)
        ack = triage.clocks[ClockName.ACKNOWLEDGE]
        assert ack.mode is ClockMode.WORKING and ack.duration == 8 * H
        assert ack.due_at(CAL) == sh(first, 15)
        # And the holiday uses no time: the 75 % warning (6 h) is not reached before that day
        assert ack.elapsed(sh(first, 9), CAL) == 2 * H
        assert triage.fire(at(triage, sh(first, 9) - NOW), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is False
        assert triage.fire(at(triage, sh(first, 13) - NOW), ClockName.ACKNOWLEDGE, TimerKind.WARN_75, CAL) is True
        # while the wall-time resolve clock keeps counting through the holiday
        assert triage.clocks[ClockName.RESOLVE].due_at(CAL) == received + 7 * D

    def test_a_makeup_saturday_counts_as_working_time(self) -> None:
        # Given a 调休 Saturday of 2026 and the working day before it
        saturday = next(
            d for d in chinese_calendar.get_workdays(date(2026, 1, 1), date(2026, 12, 31)) if d.weekday() == 5
        )
        assert chinese_calendar.is_workday(saturday)
        before = saturday - timedelta(days=1)
        while not chinese_calendar.is_workday(before):
            before -= timedelta(days=1)
        # When a general case arrives at 16:00 that day (2 working hours left)
        triage = triaged(received_at=sh(before, 16), policy=self.policy)
        # Then the remaining 6 h are worked on the Saturday, not on the following Monday
        assert triage.clocks[ClockName.ACKNOWLEDGE].due_at(CAL) == sh(saturday, 15)

    def test_a_pause_in_working_time_keeps_the_working_hours_left(self) -> None:
        # Given the National Day case, waiting on the customer from 17:00 (1 h used)
        triage = triaged(received_at=sh(date(2026, 9, 30), 16), policy=self.policy)
        triage.await_customer(at(triage, sh(date(2026, 9, 30), 17) - NOW), "asked for photos", CAL)
        # When the customer answers on 9 October at 10:00
        triage.customer_responded(at(triage, sh(date(2026, 10, 9), 10) - NOW))
        # Then 7 working hours are left: due at 17:00 that day
        ack = triage.clocks[ClockName.ACKNOWLEDGE]
        assert ack.remaining(sh(date(2026, 10, 9), 10), CAL) == 7 * H
        assert ack.due_at(CAL) == sh(date(2026, 10, 9), 17)
