"""Feedback's follow-up on SQLite and on PostgreSQL: fed CaseResolved (and ProposalOffered) messages as resolution
publishes them, the follow-up worker driven by a ManualClock: messages to the customer, survey attempts from the
durable followups table, closing without an answer, the customer's answer through a survey link, a manager's
reopening, and a second round after a reopen."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from services.feedback.application import Feedback, follow_up_id
from shared.clock import ManualClock
from shared.contracts import Actor, EventMessage
from shared.customerlinks import Purpose
from shared.errors import InvalidTransition, InvalidValue, NotFound
from shared.settings import Settings
from shared.vocabulary import Role
from tests.channels import issue_link
from tests.support import event_types
from tests.unit.helpers import NOW, message

D = timedelta(days=1)
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")
FRONTLINE = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")


class World:
    """A Feedback Application on a ManualClock, and the messages other services send it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = ManualClock(NOW)
        self.feedback = Feedback(settings, self.clock)
        self._nid = itertools.count(1)

    def send(self, type_: str, payload: dict[str, Any], case_id: UUID, service: str = "resolution") -> EventMessage:
        sent = message(type_, service, payload, case_id=case_id, nid=next(self._nid))
        # Stamped at the clock's time, as the producer would have recorded it
        envelope = sent.envelope.model_copy(update={"recorded_at": self.clock.now(), "occurred_at": self.clock.now()})
        sent = sent.model_copy(update={"envelope": envelope})
        assert self.feedback.handle(sent)
        return sent

    def resolved(self, case_id: UUID, summary: str = "remedies carried out: refund") -> EventMessage:
        return self.send("CaseResolved", {"summary": summary}, case_id)

    def advance(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return self.feedback.send_due_surveys()

    def link(self, case_id: UUID, round: int = 1, purpose: Purpose = Purpose.SURVEY, days: float = 30) -> str:
        """The token of a link intake sent the customer now (to the survey of round ``round``)."""
        return issue_link(self.feedback, case_id, purpose, str(round), self.clock.now(), days)

    def types(self) -> list[str]:
        return event_types(self.feedback)

    def messages(self) -> list[Any]:
        """Every MessagePrepared recorded, in order."""
        found, start = [], 1
        while batch := self.feedback.recorder.select_notifications(start=start, limit=1000):
            found += [
                self.feedback.mapper.to_domain_event(n) for n in batch if n.topic.endswith(".MessagePrepared")
            ]
            start = batch[-1].id + 1
        return found

    def due_rows(self) -> list[dict[str, Any]]:
        return self.feedback.side.query(f"SELECT * FROM {self.feedback.tables.due_table} ORDER BY case_id")


@pytest.fixture
def world(make_settings: Callable[..., Settings]) -> Iterator[World]:
    w = World(make_settings())
    yield w
    w.feedback.close()


def test_proposal_and_result_messages_carry_the_case_number_language_and_link(world: World) -> None:
    case = uuid4()
    world.send("AcknowledgementDue", {"case_number": "CMP-20261125-000042", "channel": "web", "language": "en"},
               case, service="intake")  # fmt: skip
    offered = world.send(
        "ProposalOffered", {"proposal": 1, "remedies": [{"remedy": "refund", "amount": "399.00"}], "total": "399.00"},
        case,
    )  # fmt: skip
    resolved = world.resolved(case)
    proposal, result = world.messages()
    assert proposal.originator_id == uuid5(offered.envelope.event_id, "message")
    assert (proposal.template, proposal.language) == ("proposal", "en")
    assert proposal.params == {
        "case_number": "CMP-20261125-000042",
        "proposal": "1",
        "total": "399.00",
        "answer_path": f"/api/public/cases/{case}/answer",
        "link_purpose": "proposal_answer",
        "link_subject": "1",
    }
    assert proposal.envelope["causation_id"] == str(offered.envelope.event_id)
    assert result.originator_id == uuid5(resolved.envelope.event_id, "message")
    assert (result.template, result.params) == (
        "result",
        {"case_number": "CMP-20261125-000042", "summary": "remedies carried out: refund"},
    )


def test_without_an_acknowledgement_a_message_has_no_case_number_and_is_in_chinese(world: World) -> None:
    case = uuid4()
    world.resolved(case)
    [result] = world.messages()
    assert (result.language, result.params) == ("zh", {"summary": "remedies carried out: refund"})


def test_no_answer_closes_the_case_after_three_attempts_from_the_durable_table(world: World) -> None:
    case = uuid4()
    world.resolved(case)
    assert world.types() == ["MessagePrepared", "FollowUpOpened", "FollowUpScheduled"]
    follow_up = world.feedback.get_follow_up(case)
    assert follow_up.due_at == NOW + 7 * D
    assert [(r["case_id"], r["step"], r["round"]) for r in world.due_rows()] == [(str(case), "survey", 1)]

    assert world.advance(D - timedelta(minutes=1)) == 0
    # Day 1: attempt 1, with its survey message
    assert world.advance(timedelta(minutes=1)) == 2
    assert world.types()[-2:] == ["SurveySent", "MessagePrepared"]
    survey = world.messages()[-1]
    assert survey.template == "survey"
    assert survey.params == {
        "attempt": "1",
        "attempts": "3",
        "survey_path": f"/api/public/cases/{case}/survey",
        "link_purpose": "survey",
        "link_subject": "1",
    }
    assert world.advance(D) == 0
    # A new Application on the same store (a restart) takes the next steps from the table
    world.feedback.close()
    world.feedback = Feedback(world.settings, world.clock)
    assert world.advance(D) == 2  # day 3: attempt 2
    assert world.advance(2 * D) == 2  # day 5: attempt 3
    assert world.advance(D) == 1  # day 6: closed as no_response
    assert world.types().count("SurveySent") == 3
    assert world.types()[-1] == "CaseClosed"
    follow_up = world.feedback.get_follow_up(case)
    assert (follow_up.state_name, follow_up.current["outcome"], len(follow_up.current["attempts"])) == (
        "closed",
        "no_response",
        3,
    )
    assert world.due_rows() == []
    assert world.advance(30 * D) == 0


def test_the_customers_answer_by_token_closes_or_reopens(world: World) -> None:
    happy, unhappy, neutral = uuid4(), uuid4(), uuid4()
    for case in (happy, unhappy, neutral):
        world.resolved(case)
    world.advance(D)
    links = {case: world.link(case) for case in (happy, unhappy, neutral)}
    # Another case's link, a proposal's, one that has expired: all alike unknown
    with pytest.raises(NotFound):
        world.feedback.answer_survey(happy, links[unhappy], 5, False, None)
    with pytest.raises(NotFound):
        world.feedback.answer_survey(happy, world.link(happy, purpose=Purpose.PROPOSAL_ANSWER), 5, False, None)
    expired = world.link(happy, days=0.5)
    world.clock.advance(D)
    with pytest.raises(NotFound):
        world.feedback.answer_survey(happy, expired, 5, False, None)
    # An invalid answer spends nothing
    with pytest.raises(InvalidValue):
        world.feedback.answer_survey(happy, links[happy], 6, False, None)

    assert world.feedback.answer_survey(happy, links[happy], 5, False, "great").current["outcome"] == "satisfied"
    assert world.feedback.answer_survey(unhappy, links[unhappy], 1, False, "rude").state_name == "reopened"
    assert world.feedback.answer_survey(neutral, links[neutral], 3, False, None).current["outcome"] == "neutral"
    # The answer is final: its link is spent
    with pytest.raises(NotFound):
        world.feedback.answer_survey(happy, links[happy], 4, False, None)
    # Answered follow-ups leave the table: no more attempts
    assert world.due_rows() == []
    assert world.advance(10 * D) == 0
    # The customer was the actor
    answered = world.feedback.get_follow_up(happy)
    assert answered.current["answer"] == {
        "score": 5,
        "anything_left": False,
        "comment": "great",
        "answered_at": (NOW + 2 * D).isoformat(),
    }


def test_a_manager_reopens_a_closed_case_and_the_next_resolution_starts_round_two(world: World) -> None:
    case = uuid4()
    with pytest.raises(NotFound):
        world.feedback.reopen_case(case, MANAGER, "never resolved")
    world.resolved(case, "remedies carried out: coupon")
    with pytest.raises(InvalidTransition):
        world.feedback.reopen_case(case, MANAGER, "still open")
    first = world.link(case)
    world.feedback.answer_survey(case, first, 4, False, None)
    reopened = world.feedback.reopen_case(case, MANAGER, "a follow-up call found the coupon unusable")
    assert (reopened.state_name, reopened.current["reopened"]["by"]) == ("reopened", "manager")
    assert world.types()[-1] == "CaseReopened"

    # Resolution resolves the case again: round 2 is scheduled from then, and runs its own attempts
    world.clock.advance(2 * D)
    world.resolved(case, "remedies carried out: refund")
    follow_up = world.feedback.get_follow_up(case)
    assert (follow_up.round, follow_up.state_name, follow_up.due_at) == (2, "scheduled", NOW + 9 * D)
    assert world.advance(D) == 2
    assert world.feedback.get_follow_up(case).attempts == 1
    with pytest.raises(NotFound):
        world.feedback.answer_survey(case, first, 5, False, "sorted")  # round 1's link opens no other round
    closed = world.feedback.answer_survey(case, world.link(case, round=2), 5, False, "sorted")
    assert closed.current["outcome"] == "satisfied"
    assert "round 2" in closed.current["summary"] and "round 1" in closed.current["summary"]
    assert world.types().count("FollowUpScheduled") == 2
    assert world.feedback.find(follow_up_id(case)) is not None


def test_a_redelivered_resolution_changes_nothing(world: World) -> None:
    case = uuid4()
    sent = world.resolved(case)
    before = world.types()
    assert world.feedback.handle(sent) is False
    # A second CaseResolved while the follow-up is open records only its result message
    world.resolved(case)
    assert world.types() == [*before, "MessagePrepared"]
    assert world.feedback.get_follow_up(case).round == 1
