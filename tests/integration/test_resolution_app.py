"""A case's resolution in the resolution service on SQLite and on PostgreSQL: the case facts from intake and routing,
one resolution per triaged case, the critical tier, and a case from investigation to resolved, read back by a new
service on the same store. Time moves only by a ManualClock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.resolution.application import ResolutionService
from services.resolution.domain.compensation import AppraisalRequired, RemedyLine, RootCause
from services.resolution.domain.resolution import Measure, Stage, TaskKind
from shared.clock import ManualClock
from shared.contracts import Actor, EventMessage
from shared.customerlinks import Purpose
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.settings import Settings
from shared.vocabulary import Remedy, Role
from tests.channels import issue_link
from tests.support import event_types
from tests.unit.helpers import NOW, message

FRONTLINE = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")
REGIONAL = Actor(id="RM-east", role=Role.REGIONAL_MANAGER)
HQ = Actor(id="HQ-01", role=Role.HQ)
LEGAL = Actor(id="HQ-03", role=Role.LEGAL)
PRICE = Decimal("3980.00")
SHA = "cd" * 32


class Feed:
    """Messages as intake and routing would publish them, each with a notification id of its own."""

    def __init__(self) -> None:
        self._nid = itertools.count(1)

    def received(
        self, case_id: UUID, sku: str | None = "JW-GOLD-BR-01", amount: str | None = "3980.00"
    ) -> EventMessage:
        nid = next(self._nid)
        payload: dict[str, Any] = {
            "case_number": f"CMP-20261125-{nid:06d}",
            "channel": "phone",
            "store_id": "SH-001",
            "customer_id": str(uuid4()),
            "description": "手镯戴了一周就断了，质量太差，要求退货",
            "sku": sku,
            "amount_paid": amount,
        }
        return message("ComplaintReceived", "intake", payload, case_id=case_id, nid=nid)

    def triaged(self, case_id: UUID, severity: str = "general", category: str = "product_quality",
                subcategory: str | None = "breakage") -> EventMessage:  # fmt: skip
        payload: dict[str, Any] = {
            "category": category,
            "subcategory": subcategory,
            "confidence": "0.85",
            "matched_terms": ["断了", "质量"],
            "severity": severity,
            "severity_reasons": [] if severity == "general" else [f"{severity} words"],
        }
        return message("ComplaintTriaged", "routing", payload, case_id=case_id, nid=next(self._nid))


@pytest.fixture
def resolution(settings: Settings, clock: ManualClock) -> Iterator[ResolutionService]:
    app = ResolutionService(settings, clock)
    yield app
    app.close()


@pytest.fixture
def feed() -> Feed:
    return Feed()


def opened(app: ResolutionService, feed: Feed, severity: str = "general", **triage: Any) -> UUID:
    """A case received and triaged: its resolution is open."""
    case_id = uuid4()
    assert app.handle(feed.received(case_id))
    assert app.handle(feed.triaged(case_id, severity, **triage))
    return case_id


def test_the_case_facts_learn_the_amount_and_product_then_the_category(
    resolution: ResolutionService, feed: Feed
) -> None:
    case_id = uuid4()
    assert resolution.case_facts(case_id) is None
    assert resolution.handle(feed.received(case_id))
    facts = resolution.case_facts(case_id)
    assert facts is not None
    assert (facts["amount_paid"], facts["sku"], facts["store_id"], facts["channel"]) == (
        PRICE,
        "JW-GOLD-BR-01",
        "SH-001",
        "phone",
    )
    assert (facts["category"], facts["severity"]) == (None, None)
    assert facts["received_at"] == NOW
    # no resolution before routing has triaged the case
    with pytest.raises(NotFound):
        resolution.get_resolution(case_id)

    assert resolution.handle(feed.triaged(case_id, "urgent"))
    facts = resolution.case_facts(case_id)
    assert facts is not None
    assert (facts["category"], facts["severity"], facts["amount_paid"]) == ("product_quality", "urgent", PRICE)
    found = resolution.get_resolution(case_id)
    assert (found.category, found.subcategory, found.severity, found.stage) == (
        "product_quality",
        "breakage",
        "urgent",
        Stage.OPEN,
    )

    # A complaint without an amount keeps none
    other = uuid4()
    assert resolution.handle(feed.received(other, sku=None, amount=None))
    facts = resolution.case_facts(other)
    assert facts is not None and (facts["amount_paid"], facts["sku"]) == (None, None)


def test_a_redelivered_triage_opens_one_resolution(resolution: ResolutionService, feed: Feed) -> None:
    case_id = uuid4()
    received = feed.received(case_id)
    triaged = feed.triaged(case_id)
    assert resolution.handle(received)
    assert resolution.handle(triaged)
    recorded = event_types(resolution)
    assert recorded.count("ResolutionOpened") == 1
    # Redelivered: nothing more is recorded, and the facts are as they were
    facts = resolution.case_facts(case_id)
    assert resolution.handle(triaged) is False
    assert resolution.handle(received) is False
    assert event_types(resolution) == recorded
    assert resolution.case_facts(case_id) == facts
    assert resolution.get_resolution(case_id).version == 1


def test_a_critical_case_needs_hq_for_any_proposal(resolution: ResolutionService, feed: Feed) -> None:
    case_id = opened(resolution, feed, "critical")
    apology = [RemedyLine(remedy=Remedy.APOLOGY)]
    found = resolution.propose(case_id, FRONTLINE, apology)
    [proposal] = found.proposals
    assert (proposal["required_tier"], proposal["proposer_tier"], found.stage) == (
        "hq",
        "frontline",
        Stage.AWAITING_APPROVAL,
    )
    # the managers below HQ only endorse it
    assert resolution.approve_proposal(case_id, MANAGER).stage is Stage.AWAITING_APPROVAL
    assert resolution.approve_proposal(case_id, REGIONAL).stage is Stage.AWAITING_APPROVAL
    approved = resolution.approve_proposal(case_id, HQ)
    assert approved.stage is Stage.PROPOSED
    assert [(a["by"], a["tier"]) for a in approved.proposals[0]["approvals"]] == [
        ("SH-001-M1", "cs_manager"),
        ("RM-east", "regional_manager"),
        ("HQ-01", "hq"),
    ]

    # HQ (or legal) proposing grants it alone, even a large refund
    other = opened(resolution, feed, "critical")
    found = resolution.propose(other, LEGAL, [RemedyLine(remedy=Remedy.REFUND, amount=PRICE)])
    assert (found.proposals[0]["required_tier"], found.stage) == ("hq", Stage.PROPOSED)

    # a general case of the same apology is the frontline's own
    general = opened(resolution, feed)
    found = resolution.propose(general, FRONTLINE, apology)
    assert (found.proposals[0]["required_tier"], found.stage) == ("frontline", Stage.PROPOSED)


def test_a_case_runs_to_resolved_and_reads_back_the_same(
    resolution: ResolutionService, feed: Feed, settings: Settings, clock: ManualClock
) -> None:
    case_id = opened(resolution, feed)

    # Investigation: a plan with an authenticity dispute, an appraisal task, findings
    resolution.plan_investigation(case_id, FRONTLINE, "check the bracelet and the batch", True)
    task = resolution.assign_task(
        case_id, MANAGER, TaskKind.APPRAISAL, "HQ-04", "appraise the gold content", NOW + timedelta(days=2)
    )
    [task_id] = task.tasks
    resolution.record_interview(case_id, FRONTLINE, "SH-001-F2", "sold it on the 18th")
    resolution.record_findings(case_id, FRONTLINE, "weak solder joint", RootCause.PRODUCTION)
    suggestion = resolution.suggest_compensation(case_id)
    assert (suggestion.basis, suggestion.total) == ("product_defect", PRICE)
    assert [(r.remedy, r.amount) for r in suggestion.remedies] == [(Remedy.EXCHANGE, PRICE)]

    refund = [RemedyLine(remedy=Remedy.REFUND, amount=PRICE)]
    recorded = event_types(resolution)
    # The appraisal gate holds until the appraisal task's report is in
    with pytest.raises(AppraisalRequired):
        resolution.propose(case_id, FRONTLINE, refund)
    # Fraud is for HQ or legal
    with pytest.raises(Forbidden):
        resolution.establish_fraud(case_id, FRONTLINE, "fake")
    # Nothing to execute yet
    with pytest.raises(InvalidTransition):
        resolution.execute_remedy(case_id, FRONTLINE, 0, "REF-1", None, None)
    assert event_types(resolution) == recorded
    clock.advance(timedelta(days=1))
    resolution.complete_task(case_id, FRONTLINE, task_id, "18K, as sold", SHA)
    assert resolution.get_resolution(case_id).appraised is True

    # Proposal by the frontline; the proposer cannot approve; the store manager endorses; the regional manager approves
    found = resolution.propose(case_id, FRONTLINE, refund)
    assert (found.stage, found.proposals[0]["required_tier"]) == (Stage.AWAITING_APPROVAL, "regional_manager")
    assert found.proposals[0]["total"] == PRICE
    with pytest.raises(InvalidTransition):
        resolution.approve_proposal(case_id, FRONTLINE)
    with pytest.raises(InvalidTransition):
        resolution.offer_proposal(case_id, FRONTLINE)
    assert resolution.approve_proposal(case_id, MANAGER).stage is Stage.AWAITING_APPROVAL
    with pytest.raises(InvalidTransition):
        resolution.approve_proposal(case_id, MANAGER)  # once each
    assert resolution.approve_proposal(case_id, REGIONAL).stage is Stage.PROPOSED

    # Offered, and a link to answer it sent; a wrong token, another case's or a survey's is not this proposal's;
    # an answer refused as invalid spends nothing; the customer accepts with theirs, once
    offered = resolution.offer_proposal(case_id, FRONTLINE)
    assert offered.stage is Stage.AWAITING_CUSTOMER
    token = issue_link(resolution, case_id, Purpose.PROPOSAL_ANSWER, "1", clock.now())
    survey = issue_link(resolution, case_id, Purpose.SURVEY, "1", clock.now())
    recorded = event_types(resolution)
    with pytest.raises(NotFound):
        resolution.answer_proposal(case_id, "x" * len(token), "accept")
    with pytest.raises(NotFound):
        resolution.answer_proposal(uuid4(), token, "accept")
    with pytest.raises(NotFound):
        resolution.answer_proposal(case_id, survey, "accept")
    with pytest.raises(InvalidValue):
        resolution.answer_proposal(case_id, token, "refuse", reason="  ")
    assert event_types(resolution) == recorded
    clock.advance(timedelta(hours=5))
    accepted = resolution.answer_proposal(case_id, token, "accept")
    assert accepted.stage is Stage.RESOLVING
    assert [(t["remedy"], t["done"]) for t in accepted.execution] == [("refund", False)]
    with pytest.raises(NotFound):
        resolution.answer_proposal(case_id, token, "refuse", reason="changed my mind")

    # Executed with its reference: resolved
    with pytest.raises(InvalidValue):
        resolution.execute_remedy(case_id, FRONTLINE, 0, " ", None, None)
    with pytest.raises(InvalidValue):
        resolution.execute_remedy(case_id, FRONTLINE, 1, "REF-1", None, None)
    done = resolution.execute_remedy(case_id, FRONTLINE, 0, "REF-20261126-01", SHA, "paid by card")
    assert done.stage is Stage.RESOLVED
    with pytest.raises(InvalidTransition):
        resolution.execute_remedy(case_id, FRONTLINE, 0, "REF-again", None, None)
    resolution.record_accountability(case_id, MANAGER, "SH-001-F2", Measure.TRAINING, "soldering check")

    tail = event_types(resolution)[-8:]
    assert tail == [
        "RemedyProposed",
        "ProposalApproved",
        "ProposalApproved",
        "ProposalOffered",
        "CustomerAccepted",
        "RemedyExecuted",
        "CaseResolved",
        "AccountabilityRecorded",
    ]
    published = [m for _, m in resolution.messages(resolution.recorder.select_notifications(start=1, limit=100)) if m]
    mine = [m for m in published if m.envelope.case_id == case_id]
    accepted_message = next(m for m in mine if m.type == "CustomerAccepted")
    assert accepted_message.envelope.actor.role is Role.CUSTOMER
    assert next(m for m in mine if m.type == "RemedyProposed").payload["total"] == "3980.00"

    # A new service on the same store sees the same resolution
    before = resolution.get_resolution(case_id)
    again = ResolutionService(settings, ManualClock(start=clock.now()))
    try:
        found = again.get_resolution(case_id)
        assert found.stage is Stage.RESOLVED
        assert (found.category, found.severity, found.root_cause) == ("product_quality", "general", "production")
        assert found.authenticity_dispute is True and found.appraised is True
        assert found.proposals == before.proposals
        assert found.proposals[0]["total"] == PRICE
        assert [(a["by"], a["tier"]) for a in found.proposals[0]["approvals"]] == [
            ("SH-001-M1", "cs_manager"),
            ("RM-east", "regional_manager"),
        ]
        assert found.proposals[0]["state"] == "accepted"
        assert found.execution == before.execution
        assert found.execution == [
            {"index": 0, "remedy": "refund", "amount": "3980.00", "done": True, "reference": "REF-20261126-01"}
        ]
        assert found.tasks == before.tasks and found.tasks[task_id]["done"] is True
        assert found.accountability == before.accountability
        assert found.version == before.version
        assert again.case_facts(case_id) == resolution.case_facts(case_id)
        with pytest.raises(NotFound):
            again.answer_proposal(case_id, token, "accept")  # spent, in the store
    finally:
        again.close()


def test_a_refusal_goes_back_to_investigating_and_fraud_trebles_the_suggestion(
    resolution: ResolutionService, feed: Feed, clock: ManualClock
) -> None:
    case_id = opened(resolution, feed)
    lines = [RemedyLine(remedy=Remedy.APOLOGY), RemedyLine(remedy=Remedy.COUPON, amount=Decimal("100.00"))]
    resolution.propose(case_id, FRONTLINE, lines)
    resolution.offer_proposal(case_id, FRONTLINE)
    token = issue_link(resolution, case_id, Purpose.PROPOSAL_ANSWER, "1", clock.now())
    refused = resolution.answer_proposal(case_id, token, "refuse", reason="not enough")
    assert (refused.stage, refused.refusals, refused.proposals[-1]["state"]) == (Stage.INVESTIGATING, 1, "refused")
    with pytest.raises(NotFound):
        resolution.answer_proposal(case_id, token, "accept")  # the refusal was final: the link is spent

    # Legal establishes fraud: three times the price, as compensation beside the refund
    resolution.establish_fraud(case_id, LEGAL, "plated silver sold as gold")
    suggestion = resolution.suggest_compensation(case_id)
    assert suggestion.basis == "fraud_cpl_art_55"
    assert [(r.remedy, r.amount) for r in suggestion.remedies] == [
        (Remedy.REFUND, PRICE),
        (Remedy.COMPENSATION, Decimal("11940.00")),
    ]
    assert suggestion.total == Decimal("15920.00")
    with pytest.raises(InvalidTransition):
        resolution.establish_fraud(case_id, HQ, "again")

    # A second proposal, countered this time
    second = resolution.propose(case_id, REGIONAL, suggestion.remedies)
    assert (second.stage, len(second.proposals)) == (Stage.PROPOSED, 2)
    assert second.proposals[-1]["suggestion"]["basis"] == "fraud_cpl_art_55"
    resolution.offer_proposal(case_id, REGIONAL)
    with pytest.raises(NotFound):
        resolution.answer_proposal(case_id, token, "accept")  # the first proposal's link opens no other
    token = issue_link(resolution, case_id, Purpose.PROPOSAL_ANSWER, "2", clock.now())
    countered = resolution.answer_proposal(case_id, token, "counter", counter="five times", amount=Decimal("19900.00"))
    assert (countered.stage, countered.refusals, countered.proposals[-1]["state"]) == (
        Stage.INVESTIGATING,
        1,
        "countered",
    )
