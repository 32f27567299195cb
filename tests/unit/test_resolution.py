"""The ``Resolution`` aggregate on the shipped authority config: Given a resolution (and the events of earlier
commands) / When a command by an actor at an instant / Then the new events (``collect_events``) or the error, and
nothing recorded after an error. Replaying the events rebuilds the same state."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.resolution.domain import Resolution
from services.resolution.domain.compensation import (
    AppraisalRequired,
    AuthorityPolicy,
    CompensationStandards,
    RemedyLine,
    RootCause,
    Suggestion,
    suggest,
)
from services.resolution.domain.resolution import EvidenceKind, Measure, Stage, TaskKind
from shared.configfiles import load_config
from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import EventContext
from shared.settings import REPO_ROOT
from shared.vocabulary import Category, Remedy, Role
from tests.unit.helpers import CLERK, NOW

POLICY = load_config(REPO_ROOT / "config" / "authority.yaml", AuthorityPolicy)
STANDARDS = load_config(REPO_ROOT / "config" / "compensation.yaml", CompensationStandards)
H = timedelta(hours=1)
D = timedelta(days=1)
SHA = "ab" * 32

CLERK2 = Actor(id="SH-001-F2", role=Role.FRONTLINE, store="SH-001")
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")
MANAGER2 = Actor(id="SH-002-M1", role=Role.CS_MANAGER, store="SH-002")
REGIONAL = Actor(id="RM-east", role=Role.REGIONAL_MANAGER)
HQ = Actor(id="HQ-1", role=Role.HQ)
LEGAL = Actor(id="LEGAL-1", role=Role.LEGAL)
APPRAISER = Actor(id="AP-1", role=Role.APPRAISER)
CUSTOMER = Actor(id="customer", role=Role.CUSTOMER)


# --- builders ---------------------------------------------------------------------------------------------------


def by(resolution: Resolution, actor: Actor = CLERK, after: timedelta = H) -> EventContext:
    """A resolution context for ``resolution``, ``after`` NOW, by ``actor``."""
    return EventContext(
        case_id=resolution.case_id, actor=actor, service="resolution", recorded_at=NOW + after, correlation_id=uuid4()
    )


def opened(
    category: str = "product_quality", severity: str = "general", subcategory: str | None = "defect"
) -> Resolution:
    """Given a resolution opened at NOW; its events are already collected."""
    case_id = uuid4()
    ctx = EventContext(case_id=case_id, actor=CLERK, service="resolution", recorded_at=NOW, correlation_id=uuid4())
    resolution = Resolution.open(uuid4(), ctx, category=category, severity=severity, subcategory=subcategory)
    resolution.collect_events()
    return resolution


def new_events(resolution: Resolution) -> list[Any]:
    return list(resolution.collect_events())


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def replay(events: list[Any]) -> Resolution:
    """Rebuild the aggregate from its events, as the repository does."""
    first, *rest = events
    aggregate = first.mutate(None)
    for event in rest:
        aggregate = event.mutate(aggregate)
    return aggregate


def line(remedy: Remedy, amount: str = "0") -> RemedyLine:
    return RemedyLine(remedy=remedy, amount=Decimal(amount))


def suggestion() -> Suggestion:
    return suggest(STANDARDS, category=Category.PRODUCT_QUALITY, root_cause=RootCause.PRODUCTION, price_paid=None)


def propose(resolution: Resolution, actor: Actor, *lines: RemedyLine) -> dict[str, Any]:
    return resolution.propose(by(resolution, actor, 2 * H), list(lines), suggestion(), POLICY)


def proposed(*lines: RemedyLine, actor: Actor = MANAGER, severity: str = "general") -> Resolution:
    """Given a proposal made (by default by a manager, within tier); events collected."""
    resolution = opened(severity=severity)
    propose(resolution, actor, *(lines or (line(Remedy.REFUND, "1500.00"),)))
    resolution.collect_events()
    return resolution


def offered(*lines: RemedyLine) -> Resolution:
    resolution = proposed(*lines)
    resolution.offer(by(resolution, MANAGER, 3 * H))
    resolution.collect_events()
    return resolution


def accepted(*lines: RemedyLine) -> Resolution:
    resolution = offered(*lines)
    resolution.accept(by(resolution, CUSTOMER, 4 * H))
    resolution.collect_events()
    return resolution


# --- opening ----------------------------------------------------------------------------------------------------


class TestOpening:
    def test_opening_records_category_severity_and_subcategory(self) -> None:
        case_id = uuid4()
        ctx = EventContext(case_id=case_id, actor=CLERK, service="resolution", recorded_at=NOW, correlation_id=uuid4())
        # When
        resolution = Resolution.open(uuid4(), ctx, category="product_quality", severity="urgent", subcategory="defect")
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "ResolutionOpened"
        assert (event.category, event.severity, event.subcategory) == ("product_quality", "urgent", "defect")
        assert event.envelope["case_id"] == str(case_id)
        assert (resolution.case_id, resolution.stage, resolution.authenticity_dispute) == (case_id, Stage.OPEN, False)
        assert (resolution.appraised, resolution.fraud_established, resolution.proposals) == (False, False, [])

    def test_an_authenticity_subcategory_opens_an_authenticity_dispute(self) -> None:
        resolution = opened(subcategory="authenticity")
        assert resolution.authenticity_dispute is True


# --- investigation ----------------------------------------------------------------------------------------------


class TestInvestigationPlan:
    def test_the_plan_is_recorded_and_the_investigation_starts(self) -> None:
        resolution = opened()
        # When
        resolution.plan_investigation(by(resolution, MANAGER), "  check CCTV and the sales record  ")
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "InvestigationPlanned"
        assert (event.plan, event.authenticity_dispute) == ("check CCTV and the sales record", False)
        assert event.envelope["actor"]["id"] == MANAGER.id
        assert resolution.stage is Stage.INVESTIGATING

    def test_the_plan_can_declare_an_authenticity_dispute(self) -> None:
        resolution = opened()
        resolution.plan_investigation(by(resolution, MANAGER), "appraise the stone", authenticity_dispute=True)
        [event] = new_events(resolution)
        assert event.authenticity_dispute is True
        assert resolution.authenticity_dispute is True

    @pytest.mark.parametrize("plan", ["", "   "])
    def test_a_blank_plan_is_refused(self, plan: str) -> None:
        resolution = opened()
        with pytest.raises(InvalidValue) as error:
            resolution.plan_investigation(by(resolution, MANAGER), plan)
        assert error.value.field == "plan"
        assert new_events(resolution) == []
        assert resolution.stage is Stage.OPEN

    def test_no_plan_once_a_proposal_awaits_approval(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        assert resolution.stage is Stage.AWAITING_APPROVAL
        with pytest.raises(InvalidTransition):
            resolution.plan_investigation(by(resolution, MANAGER, 3 * H), "look again")
        assert new_events(resolution) == []


def _assign(resolution: Resolution) -> None:
    resolution.assign_task(by(resolution), TaskKind.STORE_CHECK, "SH-001-M1", "check the counter", NOW + D)


def _evidence(resolution: Resolution) -> None:
    resolution.record_evidence(by(resolution), EvidenceKind.CCTV, "counter camera 14:00-14:30", SHA)


def _interview(resolution: Resolution) -> None:
    resolution.record_interview(by(resolution), "SH-001-F3", "confirms the sale")


def _findings(resolution: Resolution) -> None:
    resolution.record_findings(by(resolution), "the clasp was soldered badly", RootCause.PRODUCTION)


def _fraud(resolution: Resolution) -> None:
    resolution.establish_fraud(by(resolution, LEGAL), "the stone was sold as natural, it is synthetic")


STEPS = {
    "InvestigationTaskAssigned": _assign,
    "EvidenceItemRecorded": _evidence,
    "InterviewRecorded": _interview,
    "FindingsRecorded": _findings,
    "FraudEstablished": _fraud,
}


class TestInvestigationSteps:
    @pytest.mark.parametrize("event_name", list(STEPS))
    def test_the_first_investigative_step_starts_the_investigation(self, event_name: str) -> None:
        # Given an open resolution with no plan
        resolution = opened()
        assert resolution.stage is Stage.OPEN
        # When
        STEPS[event_name](resolution)
        # Then
        assert names(new_events(resolution)) == [event_name]
        assert resolution.stage is Stage.INVESTIGATING

    @pytest.mark.parametrize("event_name", list(STEPS))
    def test_the_stage_is_the_same_after_replaying_the_events(self, event_name: str) -> None:
        # Given the events of an opening and one investigative step (nothing collected yet)
        case_id = uuid4()
        ctx = EventContext(case_id=case_id, actor=CLERK, service="resolution", recorded_at=NOW, correlation_id=uuid4())
        live = Resolution.open(uuid4(), ctx, category="product_quality", severity="general", subcategory="defect")
        STEPS[event_name](live)
        events = new_events(live)
        # When rebuilt from them
        rebuilt = replay(events)
        # Then
        assert names(events) == ["ResolutionOpened", event_name]
        assert rebuilt.stage is live.stage is Stage.INVESTIGATING
        assert (rebuilt.id, rebuilt.version, rebuilt.case_id) == (live.id, live.version, case_id)
        assert (rebuilt.tasks, rebuilt.root_cause, rebuilt.fraud_established) == (
            live.tasks, live.root_cause, live.fraud_established
        )  # fmt: skip

    def test_a_replayed_open_resolution_stays_open(self) -> None:
        ctx = EventContext(case_id=uuid4(), actor=CLERK, service="resolution", recorded_at=NOW, correlation_id=uuid4())
        live = Resolution.open(uuid4(), ctx, category="service", severity="general")
        assert replay(new_events(live)).stage is Stage.OPEN

    def test_findings_set_the_root_cause(self) -> None:
        resolution = opened()
        _findings(resolution)
        [event] = new_events(resolution)
        assert (event.findings, event.root_cause) == ("the clasp was soldered badly", "production")
        assert resolution.root_cause == "production"

    def test_an_appraisal_report_must_be_a_stored_file(self) -> None:
        resolution = opened(subcategory="authenticity")
        with pytest.raises(InvalidValue) as error:
            resolution.record_evidence(by(resolution), EvidenceKind.APPRAISAL_REPORT, "report", None)
        assert error.value.field == "sha256"
        assert new_events(resolution) == []
        assert (resolution.appraised, resolution.stage) == (False, Stage.OPEN)

    def test_no_investigation_step_once_proposed(self) -> None:
        resolution = proposed()
        for step in STEPS.values():
            with pytest.raises(InvalidTransition):
                step(resolution)
        assert new_events(resolution) == []


class TestTasks:
    def test_tasks_get_ids_owners_and_deadlines(self) -> None:
        resolution = opened()
        # When
        first = resolution.assign_task(
            by(resolution, MANAGER), TaskKind.APPRAISAL, "AP-1", "appraise the ring", NOW + 2 * D
        )
        second = resolution.assign_task(
            by(resolution, MANAGER), TaskKind.TECHNICAL_TEST, "TECH-1", "test the clasp", NOW + 3 * D
        )
        # Then
        assert (first, second) == ("T1", "T2")
        events = new_events(resolution)
        assert names(events) == ["InvestigationTaskAssigned"] * 2
        assert (events[0].task_id, events[0].kind, events[0].owner, events[0].description, events[0].due_at) == (
            "T1", "appraisal", "AP-1", "appraise the ring", (NOW + 2 * D).isoformat()
        )  # fmt: skip
        assert (events[1].task_id, events[1].kind, events[1].owner) == ("T2", "technical_test", "TECH-1")
        assert resolution.tasks["T1"]["done"] is False
        assert resolution.stage is Stage.INVESTIGATING

    @pytest.mark.parametrize("due_at", [NOW + H - timedelta(seconds=1), NOW + H, NOW - D])
    def test_a_deadline_not_in_the_future_is_refused(self, due_at: datetime) -> None:
        resolution = opened()
        # When the task is assigned at NOW + 1 h with a deadline at or before that instant
        with pytest.raises(InvalidValue) as error:
            resolution.assign_task(by(resolution, MANAGER, H), TaskKind.APPRAISAL, "AP-1", "appraise", due_at)
        # Then
        assert error.value.field == "due_at"
        assert new_events(resolution) == []
        assert (resolution.tasks, resolution.stage) == ({}, Stage.OPEN)

    def test_a_deadline_without_a_timezone_is_refused(self) -> None:
        resolution = opened()
        naive = (NOW + D).replace(tzinfo=None)
        with pytest.raises(InvalidValue) as error:
            resolution.assign_task(by(resolution, MANAGER), TaskKind.APPRAISAL, "AP-1", "appraise", naive)
        assert error.value.field == "due_at"
        assert new_events(resolution) == []

    @pytest.mark.parametrize(
        ("owner", "description", "field"), [("  ", "appraise", "owner"), ("AP-1", "", "description")]
    )
    def test_a_blank_owner_or_description_is_refused(self, owner: str, description: str, field: str) -> None:
        resolution = opened()
        with pytest.raises(InvalidValue) as error:
            resolution.assign_task(by(resolution, MANAGER), TaskKind.APPRAISAL, owner, description, NOW + D)
        assert error.value.field == field
        assert new_events(resolution) == []

    def test_completing_a_task_records_its_result(self) -> None:
        resolution = opened()
        resolution.assign_task(by(resolution, MANAGER), TaskKind.STORE_CHECK, "SH-001-M1", "check", NOW + D)
        resolution.collect_events()
        # When
        resolution.complete_task(by(resolution, MANAGER, 2 * H), "T1", "the display was dusty", None)
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "InvestigationTaskCompleted"
        assert (event.task_id, event.result, event.report_sha256) == ("T1", "the display was dusty", None)
        assert resolution.tasks["T1"]["done"] is True
        assert resolution.tasks["T1"]["result"] == "the display was dusty"

    def test_completing_an_unknown_task_is_refused_with_the_known_ones(self) -> None:
        resolution = opened()
        resolution.assign_task(by(resolution, MANAGER), TaskKind.STORE_CHECK, "SH-001-M1", "check", NOW + D)
        resolution.assign_task(by(resolution, MANAGER), TaskKind.OTHER, "SH-001-M1", "call the supplier", NOW + D)
        resolution.collect_events()
        # When / Then
        with pytest.raises(InvalidValue) as error:
            resolution.complete_task(by(resolution, MANAGER, 2 * H), "T9", "done", None)
        assert error.value.field == "task_id"
        assert error.value.allowed == ["T1", "T2"]
        assert new_events(resolution) == []

    def test_completing_a_task_on_a_resolution_without_tasks_lists_none(self) -> None:
        resolution = opened()
        with pytest.raises(InvalidValue) as error:
            resolution.complete_task(by(resolution, MANAGER), "T1", "done", None)
        assert error.value.allowed == []
        assert new_events(resolution) == []

    def test_completing_a_task_twice_is_refused(self) -> None:
        resolution = opened()
        resolution.assign_task(by(resolution, MANAGER), TaskKind.STORE_CHECK, "SH-001-M1", "check", NOW + D)
        resolution.complete_task(by(resolution, MANAGER, 2 * H), "T1", "done", None)
        resolution.collect_events()
        with pytest.raises(InvalidTransition):
            resolution.complete_task(by(resolution, MANAGER, 3 * H), "T1", "done again", None)
        assert new_events(resolution) == []


# --- appraisal gate ---------------------------------------------------------------------------------------------


class TestAppraisalGate:
    def test_a_refund_is_refused_before_the_appraisal(self) -> None:
        # Given an authenticity dispute without an appraisal
        resolution = opened(subcategory="authenticity")
        # When / Then (409)
        with pytest.raises(AppraisalRequired) as error:
            propose(resolution, MANAGER, line(Remedy.REFUND, "1500.00"))
        assert isinstance(error.value, InvalidTransition)
        assert new_events(resolution) == []
        assert (resolution.stage, resolution.proposals) == (Stage.OPEN, [])

    def test_a_dispute_declared_in_the_plan_is_gated_too(self) -> None:
        resolution = opened()
        resolution.plan_investigation(by(resolution, MANAGER), "appraise", authenticity_dispute=True)
        resolution.collect_events()
        with pytest.raises(AppraisalRequired):
            propose(resolution, MANAGER, line(Remedy.EXCHANGE, "1500.00"))
        assert new_events(resolution) == []

    def test_an_apology_and_explanation_are_allowed_before_the_appraisal(self) -> None:
        resolution = opened(subcategory="authenticity")
        propose(resolution, CLERK, line(Remedy.APOLOGY), line(Remedy.EXPLANATION))
        assert names(new_events(resolution)) == ["RemedyProposed"]
        assert resolution.stage is Stage.PROPOSED

    def test_a_refund_is_allowed_after_an_appraisal_report(self) -> None:
        resolution = opened(subcategory="authenticity")
        resolution.record_evidence(by(resolution, APPRAISER), EvidenceKind.APPRAISAL_REPORT, "GIA report", SHA)
        assert resolution.appraised is True
        resolution.collect_events()
        # When
        propose(resolution, MANAGER, line(Remedy.REFUND, "1500.00"))
        # Then
        assert names(new_events(resolution)) == ["RemedyProposed"]
        assert resolution.stage is Stage.PROPOSED

    def test_a_refund_is_allowed_after_an_appraisal_task_completed_with_its_report(self) -> None:
        resolution = opened(subcategory="authenticity")
        task = resolution.assign_task(by(resolution, MANAGER), TaskKind.APPRAISAL, "AP-1", "appraise", NOW + D)
        resolution.complete_task(by(resolution, APPRAISER, 2 * H), task, "natural diamond, as sold", SHA)
        assert resolution.appraised is True
        resolution.collect_events()
        propose(resolution, MANAGER, line(Remedy.REFUND, "1500.00"))
        assert names(new_events(resolution)) == ["RemedyProposed"]

    def test_the_appraisal_survives_a_replay(self) -> None:
        ctx = EventContext(case_id=uuid4(), actor=CLERK, service="resolution", recorded_at=NOW, correlation_id=uuid4())
        live = Resolution.open(uuid4(), ctx, category="product_quality", severity="general", subcategory="authenticity")
        task = live.assign_task(by(live, MANAGER), TaskKind.APPRAISAL, "AP-1", "appraise", NOW + D)
        live.complete_task(by(live, APPRAISER, 2 * H), task, "synthetic", SHA)
        rebuilt = replay(new_events(live))
        assert (rebuilt.authenticity_dispute, rebuilt.appraised, rebuilt.tasks) == (True, True, live.tasks)

    @pytest.mark.parametrize(
        ("kind", "report"), [(TaskKind.APPRAISAL, None), (TaskKind.APPRAISAL, ""), (TaskKind.TECHNICAL_TEST, SHA)]
    )
    def test_an_appraisal_task_without_a_report_or_another_task_does_not_clear_the_gate(
        self, kind: TaskKind, report: str | None
    ) -> None:
        resolution = opened(subcategory="authenticity")
        task = resolution.assign_task(by(resolution, MANAGER), kind, "AP-1", "look at it", NOW + D)
        resolution.complete_task(by(resolution, APPRAISER, 2 * H), task, "looked", report)
        resolution.collect_events()
        assert resolution.appraised is False
        with pytest.raises(AppraisalRequired):
            propose(resolution, MANAGER, line(Remedy.REFUND, "1500.00"))
        assert new_events(resolution) == []

    def test_other_evidence_does_not_clear_the_gate(self) -> None:
        resolution = opened(subcategory="authenticity")
        resolution.record_evidence(by(resolution, MANAGER), EvidenceKind.TEST_REPORT, "lab test", SHA)
        resolution.collect_events()
        with pytest.raises(AppraisalRequired):
            propose(resolution, MANAGER, line(Remedy.REFUND, "1500.00"))


# --- fraud ------------------------------------------------------------------------------------------------------


class TestFraud:
    @pytest.mark.parametrize("actor", [HQ, LEGAL])
    def test_hq_or_legal_establish_fraud(self, actor: Actor) -> None:
        resolution = opened()
        resolution.establish_fraud(by(resolution, actor), "  sold as natural, synthetic  ")
        [event] = new_events(resolution)
        assert type(event).__name__ == "FraudEstablished"
        assert event.reason == "sold as natural, synthetic"
        assert event.envelope["actor"]["role"] == actor.role.value
        assert resolution.fraud_established is True

    @pytest.mark.parametrize("actor", [MANAGER, REGIONAL, CLERK, APPRAISER])
    def test_anyone_else_is_forbidden(self, actor: Actor) -> None:
        resolution = opened()
        with pytest.raises(Forbidden):
            resolution.establish_fraud(by(resolution, actor), "looks like fraud")
        assert new_events(resolution) == []
        assert (resolution.fraud_established, resolution.stage) == (False, Stage.OPEN)

    def test_fraud_is_established_once(self) -> None:
        resolution = opened()
        resolution.establish_fraud(by(resolution, HQ), "synthetic")
        resolution.collect_events()
        with pytest.raises(InvalidTransition):
            resolution.establish_fraud(by(resolution, LEGAL, 2 * H), "synthetic indeed")
        assert new_events(resolution) == []

    def test_a_blank_reason_is_refused(self) -> None:
        resolution = opened()
        with pytest.raises(InvalidValue) as error:
            resolution.establish_fraud(by(resolution, HQ), " ")
        assert error.value.field == "reason"
        assert new_events(resolution) == []


# --- proposal ---------------------------------------------------------------------------------------------------


class TestPropose:
    def test_within_the_proposers_tier_the_proposal_stands(self) -> None:
        resolution = opened()
        resolution.plan_investigation(by(resolution, MANAGER), "check")
        resolution.collect_events()
        # When a manager proposes a ¥1,500 refund (within ¥2,000)
        sugg = suggestion()
        resolution.propose(by(resolution, MANAGER, 2 * H), [line(Remedy.REFUND, "1500.00")], sugg, POLICY)
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "RemedyProposed"
        assert (event.proposal, event.total, event.proposer_tier, event.required_tier) == (
            1, Decimal("1500.00"), "cs_manager", "cs_manager"
        )  # fmt: skip
        assert event.remedies == [{"remedy": "refund", "amount": "1500.00", "note": None}]
        assert event.suggestion == sugg.model_dump(mode="json")
        assert resolution.stage is Stage.PROPOSED
        current = resolution.proposals[-1]
        assert (current["proposer"], current["state"], current["approvals"]) == (MANAGER.id, "proposed", [])

    def test_a_proposer_above_the_tier_needed_grants_it_alone(self) -> None:
        resolution = opened()
        propose(resolution, REGIONAL, line(Remedy.REFUND, "1500.00"))
        [event] = new_events(resolution)
        assert (event.proposer_tier, event.required_tier) == ("cs_manager", "cs_manager")
        assert resolution.stage is Stage.PROPOSED

    @pytest.mark.parametrize(
        ("actor", "lines", "required"),
        [
            (CLERK, [line(Remedy.REFUND, "1.00")], "cs_manager"),
            (CLERK, [line(Remedy.COUPON, "200.01")], "cs_manager"),
            (MANAGER, [line(Remedy.REFUND, "2000.01")], "regional_manager"),
            (REGIONAL, [line(Remedy.COMPENSATION, "20000.01")], "hq"),
        ],
    )
    def test_beyond_the_proposers_tier_the_proposal_awaits_approval(
        self, actor: Actor, lines: list[RemedyLine], required: str
    ) -> None:
        resolution = opened()
        propose(resolution, actor, *lines)
        [event] = new_events(resolution)
        assert (event.proposer_tier, event.required_tier) == (POLICY.tier_of(actor.role), required)
        assert resolution.stage is Stage.AWAITING_APPROVAL
        assert resolution.proposals[-1]["state"] == "awaiting_approval"

    def test_frontline_grants_a_coupon_of_200_alone(self) -> None:
        resolution = opened(category="service", subcategory=None)
        propose(resolution, CLERK, line(Remedy.APOLOGY), line(Remedy.COUPON, "200.00"), line(Remedy.STAFF_ACTION))
        [event] = new_events(resolution)
        assert (event.proposer_tier, event.required_tier, event.total) == ("frontline", "frontline", Decimal("200.00"))
        assert resolution.stage is Stage.PROPOSED

    def test_a_critical_case_needs_hq_even_for_an_apology(self) -> None:
        resolution = opened(severity="critical")
        propose(resolution, REGIONAL, line(Remedy.APOLOGY))
        [event] = new_events(resolution)
        assert event.required_tier == "hq"
        assert resolution.stage is Stage.AWAITING_APPROVAL

    @pytest.mark.parametrize("actor", [APPRAISER, CUSTOMER])
    def test_a_role_without_a_tier_may_not_propose(self, actor: Actor) -> None:
        resolution = opened()
        with pytest.raises(Forbidden):
            propose(resolution, actor, line(Remedy.APOLOGY))
        assert new_events(resolution) == []

    def test_an_empty_proposal_is_refused(self) -> None:
        resolution = opened()
        with pytest.raises(InvalidValue) as error:
            propose(resolution, MANAGER)
        assert error.value.field == "remedies"
        assert new_events(resolution) == []

    def test_an_amount_on_an_apology_is_refused(self) -> None:
        resolution = opened()
        with pytest.raises(InvalidValue) as error:
            propose(resolution, MANAGER, line(Remedy.APOLOGY, "10.00"))
        assert error.value.field == "remedies.0.amount"
        assert new_events(resolution) == []

    def test_no_second_proposal_while_one_is_open(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        with pytest.raises(InvalidTransition):
            propose(resolution, MANAGER, line(Remedy.REFUND, "100.00"))
        resolution2 = proposed()
        with pytest.raises(InvalidTransition):
            propose(resolution2, MANAGER, line(Remedy.REFUND, "100.00"))
        assert new_events(resolution) == new_events(resolution2) == []
        assert len(resolution.proposals) == len(resolution2.proposals) == 1


# --- approval ---------------------------------------------------------------------------------------------------


class TestApprove:
    def test_a_manager_approves_a_frontline_refund(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        # When
        final = resolution.approve(by(resolution, MANAGER, 3 * H), POLICY)
        # Then
        assert final is True
        [event] = new_events(resolution)
        assert type(event).__name__ == "ProposalApproved"
        assert (event.proposal, event.approver_tier, event.final) == (1, "cs_manager", True)
        assert resolution.stage is Stage.PROPOSED
        assert resolution.proposals[-1]["approvals"] == [{"by": MANAGER.id, "tier": "cs_manager"}]

    def test_the_proposer_may_not_approve_their_own_proposal(self) -> None:
        # Given a manager's ¥5,000 proposal (needs regional)
        resolution = proposed(line(Remedy.REFUND, "5000.00"), actor=MANAGER)
        # When the same person approves (409)
        with pytest.raises(InvalidTransition):
            resolution.approve(by(resolution, MANAGER, 3 * H), POLICY)
        assert new_events(resolution) == []
        assert resolution.stage is Stage.AWAITING_APPROVAL

    def test_the_proposer_may_not_approve_even_with_a_higher_role(self) -> None:
        # the same person id, whatever role they act in now
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        promoted = Actor(id=CLERK.id, role=Role.CS_MANAGER, store="SH-001")
        with pytest.raises(InvalidTransition):
            resolution.approve(by(resolution, promoted, 3 * H), POLICY)
        assert new_events(resolution) == []

    @pytest.mark.parametrize(
        ("proposer", "approver"), [(CLERK, CLERK2), (MANAGER, MANAGER2), (MANAGER, CLERK), (MANAGER, APPRAISER)]
    )
    def test_an_approver_at_or_below_the_proposers_tier_is_forbidden(self, proposer: Actor, approver: Actor) -> None:
        resolution = proposed(line(Remedy.REFUND, "5000.00"), actor=proposer)
        with pytest.raises(Forbidden):
            resolution.approve(by(resolution, approver, 3 * H), POLICY)
        assert new_events(resolution) == []
        assert resolution.stage is Stage.AWAITING_APPROVAL
        assert resolution.proposals[-1]["approvals"] == []

    def test_a_chain_of_approvals_up_to_the_tier_needed(self) -> None:
        # Given frontline proposes ¥15,000 (needs regional_manager)
        resolution = proposed(line(Remedy.REFUND, "15000.00"), actor=CLERK)
        assert resolution.proposals[-1]["required_tier"] == "regional_manager"
        # When a cs_manager approves: an endorsement, not final
        assert resolution.approve(by(resolution, MANAGER, 3 * H), POLICY) is False
        [endorsement] = new_events(resolution)
        assert type(endorsement).__name__ == "ProposalApproved"
        assert (endorsement.approver_tier, endorsement.final) == ("cs_manager", False)
        assert resolution.stage is Stage.AWAITING_APPROVAL
        # And the same manager approves again: refused (409)
        with pytest.raises(InvalidTransition):
            resolution.approve(by(resolution, MANAGER, 4 * H), POLICY)
        assert new_events(resolution) == []
        # When the regional manager approves: final
        assert resolution.approve(by(resolution, REGIONAL, 5 * H), POLICY) is True
        [approval] = new_events(resolution)
        assert (approval.approver_tier, approval.final) == ("regional_manager", True)
        # Then
        assert resolution.stage is Stage.PROPOSED
        assert resolution.proposals[-1]["state"] == "proposed"
        assert resolution.proposals[-1]["approvals"] == [
            {"by": MANAGER.id, "tier": "cs_manager"},
            {"by": REGIONAL.id, "tier": "regional_manager"},
        ]

    def test_hq_approves_a_frontline_15000_proposal_at_once(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "15000.00"), actor=CLERK)
        assert resolution.approve(by(resolution, HQ, 3 * H), POLICY) is True
        assert resolution.stage is Stage.PROPOSED

    def test_nothing_to_approve_when_the_proposal_stands(self) -> None:
        resolution = proposed()  # within the manager's tier
        with pytest.raises(InvalidTransition):
            resolution.approve(by(resolution, REGIONAL, 3 * H), POLICY)
        assert new_events(resolution) == []


class TestReject:
    def test_a_rejection_with_its_reason_reopens_the_investigation(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        # When
        resolution.reject_proposal(by(resolution, MANAGER, 3 * H), "  the receipt is missing  ", POLICY)
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "ProposalRejected"
        assert (event.proposal, event.reason) == (1, "the receipt is missing")
        assert resolution.stage is Stage.INVESTIGATING
        assert resolution.proposals[-1]["state"] == "rejected"
        # And a new proposal may be made
        propose(resolution, CLERK, line(Remedy.APOLOGY), line(Remedy.COUPON, "50.00"))
        [event] = new_events(resolution)
        assert type(event).__name__ == "RemedyProposed"
        assert event.proposal == 2
        assert resolution.stage is Stage.PROPOSED

    def test_a_rejection_needs_a_reason(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        with pytest.raises(InvalidValue) as error:
            resolution.reject_proposal(by(resolution, MANAGER, 3 * H), "  ", POLICY)
        assert error.value.field == "reason"
        assert new_events(resolution) == []
        assert resolution.stage is Stage.AWAITING_APPROVAL

    def test_the_proposer_may_not_reject_and_a_peer_is_forbidden(self) -> None:
        resolution = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        with pytest.raises(InvalidTransition):
            resolution.reject_proposal(by(resolution, CLERK, 3 * H), "changed my mind", POLICY)
        with pytest.raises(Forbidden):
            resolution.reject_proposal(by(resolution, CLERK2, 3 * H), "too generous", POLICY)
        assert new_events(resolution) == []


# --- the customer -----------------------------------------------------------------------------------------------


class TestOffer:
    def test_an_approved_proposal_is_offered_to_the_customer(self) -> None:
        resolution = proposed(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"))
        # When
        resolution.offer(by(resolution, MANAGER, 3 * H))
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "ProposalOffered"
        assert (event.proposal, event.total) == (1, Decimal("1500.00"))
        assert [r["remedy"] for r in event.remedies] == ["apology", "refund"]
        assert resolution.stage is Stage.AWAITING_CUSTOMER

    def test_only_a_proposed_resolution_is_offered(self) -> None:
        awaiting = proposed(line(Remedy.REFUND, "100.00"), actor=CLERK)
        fresh = opened()
        offered_once = offered()
        for resolution in (awaiting, fresh, offered_once):
            with pytest.raises(InvalidTransition):
                resolution.offer(by(resolution, MANAGER, 5 * H))
            assert new_events(resolution) == []


class TestCustomerAnswer:
    def test_accepting_makes_one_execution_task_per_remedy(self) -> None:
        resolution = offered(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"), line(Remedy.STAFF_ACTION))
        # When
        resolution.accept(by(resolution, CUSTOMER, 4 * H))
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "CustomerAccepted"
        assert event.proposal == 1
        assert resolution.stage is Stage.RESOLVING
        assert resolution.execution == [
            {"index": 0, "remedy": "apology", "amount": "0.00", "done": False, "reference": None},
            {"index": 1, "remedy": "refund", "amount": "1500.00", "done": False, "reference": None},
            {"index": 2, "remedy": "staff_action", "amount": "0.00", "done": False, "reference": None},
        ]

    def test_the_customer_answers_only_an_offer(self) -> None:
        resolution = proposed()
        with pytest.raises(InvalidTransition):
            resolution.accept(by(resolution, CUSTOMER, 4 * H))
        with pytest.raises(InvalidTransition):
            resolution.refuse(by(resolution, CUSTOMER, 4 * H), "too little")
        with pytest.raises(InvalidTransition):
            resolution.counter(by(resolution, CUSTOMER, 4 * H), "I want ¥2,000", Decimal("2000.00"))
        assert new_events(resolution) == []

    @pytest.mark.parametrize("reason", ["", "  "])
    def test_a_refusal_needs_a_reason(self, reason: str) -> None:
        resolution = offered()
        with pytest.raises(InvalidValue) as error:
            resolution.refuse(by(resolution, CUSTOMER, 4 * H), reason)
        assert error.value.field == "reason"
        assert new_events(resolution) == []
        assert (resolution.refusals, resolution.stage) == (0, Stage.AWAITING_CUSTOMER)

    def test_refusals_are_counted(self) -> None:
        resolution = offered()
        # When the customer refuses the first offer
        assert resolution.refuse(by(resolution, CUSTOMER, 4 * H), "  too little  ") == 1
        [event] = new_events(resolution)
        assert type(event).__name__ == "CustomerRefused"
        assert (event.proposal, event.reason, event.refusals) == (1, "too little", 1)
        assert resolution.stage is Stage.INVESTIGATING
        assert resolution.proposals[-1]["state"] == "refused"
        # And a second proposal is made, offered and refused
        propose(resolution, MANAGER, line(Remedy.REFUND, "1800.00"))
        resolution.offer(by(resolution, MANAGER, 5 * H))
        resolution.collect_events()
        assert resolution.refuse(by(resolution, CUSTOMER, 6 * H), "still too little") == 2
        [event] = new_events(resolution)
        assert (event.proposal, event.refusals) == (2, 2)
        assert resolution.refusals == 2

    def test_a_counter_reopens_the_investigation(self) -> None:
        resolution = offered()
        resolution.counter(by(resolution, CUSTOMER, 4 * H), "  a refund of ¥2,000  ", Decimal("2000.00"))
        [event] = new_events(resolution)
        assert type(event).__name__ == "CustomerCountered"
        assert (event.proposal, event.counter, event.amount) == (1, "a refund of ¥2,000", Decimal("2000.00"))
        assert resolution.stage is Stage.INVESTIGATING
        assert resolution.proposals[-1]["state"] == "countered"
        assert resolution.refusals == 0
        # a new proposal may follow
        propose(resolution, MANAGER, line(Remedy.REFUND, "2000.00"))
        assert resolution.stage is Stage.PROPOSED

    def test_a_counter_without_an_amount_is_allowed_and_a_negative_one_refused(self) -> None:
        resolution = offered()
        with pytest.raises(InvalidValue) as error:
            resolution.counter(by(resolution, CUSTOMER, 4 * H), "pay me", Decimal("-1.00"))
        assert error.value.field == "amount"
        assert new_events(resolution) == []
        resolution.counter(by(resolution, CUSTOMER, 4 * H), "an exchange instead", None)
        [event] = new_events(resolution)
        assert event.amount is None


# --- execution --------------------------------------------------------------------------------------------------


class TestExecute:
    def test_a_wrong_index_is_refused_with_the_allowed_ones(self) -> None:
        resolution = accepted(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"))
        for index in (2, -1):
            with pytest.raises(InvalidValue) as error:
                resolution.execute(by(resolution, MANAGER, 5 * H), index, "RF-1", None, None)
            assert error.value.field == "index"
            assert error.value.allowed == ["0", "1"]
        assert new_events(resolution) == []

    @pytest.mark.parametrize("reference", [None, "", "   "])
    def test_a_refund_needs_its_reference(self, reference: str | None) -> None:
        resolution = accepted(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"))
        with pytest.raises(InvalidValue) as error:
            resolution.execute(by(resolution, MANAGER, 5 * H), 1, reference, None, None)
        assert error.value.field == "reference"
        assert new_events(resolution) == []
        assert resolution.execution[1]["done"] is False

    def test_executing_a_remedy_records_it(self) -> None:
        resolution = accepted(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"))
        # When the refund is issued first
        done = resolution.execute(by(resolution, MANAGER, 5 * H), 1, "RF-2026-0001", SHA, "to the original card")
        # Then
        assert done is False
        [event] = new_events(resolution)
        assert type(event).__name__ == "RemedyExecuted"
        assert (event.index, event.remedy, event.reference, event.evidence_sha256, event.note) == (
            1, "refund", "RF-2026-0001", SHA, "to the original card"
        )  # fmt: skip
        assert resolution.execution[1]["done"] is True
        assert resolution.stage is Stage.RESOLVING

    def test_executing_the_last_remedy_resolves_the_case(self) -> None:
        resolution = accepted(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"))
        resolution.execute(by(resolution, MANAGER, 5 * H), 1, "RF-2026-0001", None, None)
        resolution.collect_events()
        # When the apology (no reference needed) is the last
        done = resolution.execute(by(resolution, MANAGER, 6 * H), 0, None, None, "apologised by phone")
        # Then
        assert done is True
        events = new_events(resolution)
        assert names(events) == ["RemedyExecuted", "CaseResolved"]
        assert events[1].summary == "remedies carried out: apology, refund"
        assert resolution.stage is Stage.RESOLVED

    def test_executing_a_remedy_twice_is_refused(self) -> None:
        resolution = accepted(line(Remedy.APOLOGY), line(Remedy.REFUND, "1500.00"))
        resolution.execute(by(resolution, MANAGER, 5 * H), 1, "RF-1", None, None)
        resolution.collect_events()
        with pytest.raises(InvalidTransition):
            resolution.execute(by(resolution, MANAGER, 6 * H), 1, "RF-2", None, None)
        assert new_events(resolution) == []
        assert resolution.execution[1]["reference"] == "RF-1"

    def test_nothing_is_executed_after_the_case_is_resolved(self) -> None:
        resolution = accepted(line(Remedy.REFUND, "1500.00"))
        assert resolution.execute(by(resolution, MANAGER, 5 * H), 0, "RF-1", None, None) is True
        resolution.collect_events()
        with pytest.raises(InvalidTransition):
            resolution.execute(by(resolution, MANAGER, 6 * H), 0, "RF-1", None, None)
        assert new_events(resolution) == []

    def test_nothing_is_executed_before_the_customer_accepts(self) -> None:
        resolution = offered()
        with pytest.raises(InvalidTransition):
            resolution.execute(by(resolution, MANAGER, 5 * H), 0, "RF-1", None, None)
        assert new_events(resolution) == []

    def test_the_whole_lifecycle_replays_to_the_same_state(self) -> None:
        # Given every event of a case from opening to resolution (nothing collected on the way)
        ctx = EventContext(case_id=uuid4(), actor=CLERK, service="resolution", recorded_at=NOW, correlation_id=uuid4())
        live = Resolution.open(uuid4(), ctx, category="product_quality", severity="general", subcategory="defect")
        live.plan_investigation(by(live, MANAGER), "check")
        live.record_findings(by(live, MANAGER), "bad solder", RootCause.PRODUCTION)
        propose(live, CLERK, line(Remedy.EXCHANGE, "15000.00"), line(Remedy.STAFF_ACTION))
        live.approve(by(live, MANAGER, 3 * H), POLICY)
        live.approve(by(live, REGIONAL, 3 * H), POLICY)
        live.offer(by(live, MANAGER, 3 * H))
        live.accept(by(live, CUSTOMER, 4 * H))
        live.execute(by(live, MANAGER, 5 * H), 0, "SHIP-1", None, None)
        live.execute(by(live, MANAGER, 5 * H), 1, None, None, "training")
        live.record_accountability(by(live, MANAGER, 6 * H), "SH-001-F3", Measure.TRAINING, "solder check")
        events = new_events(live)
        # When
        rebuilt = replay(events)
        # Then
        assert names(events)[-3:] == ["RemedyExecuted", "CaseResolved", "AccountabilityRecorded"]
        assert rebuilt.stage is live.stage is Stage.RESOLVED
        for attribute in ("proposals", "execution", "accountability", "root_cause", "refusals", "version"):
            assert getattr(rebuilt, attribute) == getattr(live, attribute), attribute


# --- accountability ---------------------------------------------------------------------------------------------


class TestAccountability:
    def test_no_one_is_held_accountable_before_the_findings(self) -> None:
        resolution = opened()
        resolution.plan_investigation(by(resolution, MANAGER), "check")
        resolution.collect_events()
        with pytest.raises(InvalidTransition):
            resolution.record_accountability(by(resolution, MANAGER, 2 * H), "SH-001-F3", Measure.WARNING, "rude")
        assert new_events(resolution) == []
        assert resolution.accountability == []

    def test_after_the_findings_accountability_is_recorded(self) -> None:
        resolution = opened(category="service", subcategory=None)
        resolution.record_findings(by(resolution, MANAGER), "the clerk shouted", RootCause.STAFF_CONDUCT)
        resolution.collect_events()
        # When
        resolution.record_accountability(by(resolution, MANAGER, 2 * H), "  SH-001-F3 ", Measure.WARNING, " rude ")
        # Then
        [event] = new_events(resolution)
        assert type(event).__name__ == "AccountabilityRecorded"
        assert (event.staff_id, event.measure, event.note) == ("SH-001-F3", "warning", "rude")
        assert resolution.accountability == [{"staff_id": "SH-001-F3", "measure": "warning", "note": "rude"}]

    @pytest.mark.parametrize(("staff_id", "note", "field"), [(" ", "rude", "staff_id"), ("SH-001-F3", "", "note")])
    def test_blank_staff_or_note_is_refused(self, staff_id: str, note: str, field: str) -> None:
        resolution = opened()
        resolution.record_findings(by(resolution, MANAGER), "the clerk shouted", RootCause.STAFF_CONDUCT)
        resolution.collect_events()
        with pytest.raises(InvalidValue) as error:
            resolution.record_accountability(by(resolution, MANAGER, 2 * H), staff_id, Measure.TRAINING, note)
        assert error.value.field == field
        assert new_events(resolution) == []


class TestGoodsValuedRemedies:
    """DOMAIN.md: an exchange counts at the goods' value, so the tier sees what the customer really gets."""

    GOODS = Decimal("18000.00")

    def propose_at(self, actor: Actor, *lines: RemedyLine) -> Resolution:
        resolution = opened()
        resolution.propose(by(resolution, actor, 2 * H), list(lines), suggestion(), POLICY, self.GOODS)
        return resolution

    def test_an_exchange_without_an_amount_counts_at_the_goods_value(self) -> None:
        # Given ¥18,000 goods; When a store manager (¥2,000 limit) proposes an exchange and ¥500 compensation
        resolution = self.propose_at(MANAGER, line(Remedy.EXCHANGE), line(Remedy.COMPENSATION, "500.00"))
        # Then the proposal is worth ¥18,500 to the tiers and waits for the regional manager
        [event] = new_events(resolution)
        assert (event.tier_value, event.required_tier) == (Decimal("18500.00"), "regional_manager")
        assert resolution.stage is Stage.AWAITING_APPROVAL
        assert resolution.proposals[-1]["tier_value"] == Decimal("18500.00")

    def test_a_repair_counts_at_the_goods_value_though_it_carries_no_amount(self) -> None:
        resolution = self.propose_at(MANAGER, line(Remedy.REPAIR))
        [event] = new_events(resolution)
        assert (event.total, event.tier_value, event.required_tier) == (
            Decimal("0.00"), self.GOODS, "regional_manager"
        )  # fmt: skip

    def test_an_exchange_valued_below_the_goods_needs_a_reason(self) -> None:
        # When the value is lowered without a word, Then it is refused naming the note
        with pytest.raises(InvalidValue, match="remedies.0.note"):
            self.propose_at(MANAGER, line(Remedy.EXCHANGE, "1500.00"))
        # And with the reason said, the stated value counts
        reasoned = RemedyLine(remedy=Remedy.EXCHANGE, amount=Decimal("1500.00"), note="the strap only, not the watch")
        [event] = new_events(self.propose_at(MANAGER, reasoned))
        assert (event.tier_value, event.required_tier) == (Decimal("1500.00"), "cs_manager")

    def test_without_a_known_goods_value_the_amounts_count_as_given(self) -> None:
        resolution = opened()
        resolution.propose(by(resolution, MANAGER, 2 * H), [line(Remedy.EXCHANGE)], suggestion(), POLICY)
        [event] = new_events(resolution)
        assert (event.tier_value, event.required_tier) == (Decimal("0.00"), "cs_manager")
