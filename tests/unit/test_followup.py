"""Follow-up (回访与闭环): Given a resolved case's FollowUp / When the worker's step, the customer's answer or a
manager's command / Then the events. Every rule of config/followup.yaml, with the clock moved by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from services.feedback.domain import CustomerMessage, FollowUp, FollowUpRules, FollowUpState
from shared.configfiles import load_config
from shared.contracts import CONTRACTS, Actor
from shared.errors import InvalidTransition, InvalidValue
from shared.eventstore import EventContext, to_message
from shared.settings import REPO_ROOT
from shared.vocabulary import Role
from tests.unit.helpers import NOW

RULES = FollowUpRules()
D = timedelta(days=1)
SYSTEM = Actor.system("feedback")
CUSTOMER = Actor(id="customer", role=Role.CUSTOMER)
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")


def ctx(case_id: UUID, at: timedelta = timedelta(0), actor: Actor = SYSTEM) -> EventContext:
    return EventContext(case_id=case_id, actor=actor, service="feedback", recorded_at=NOW + at, correlation_id=uuid4())


def resolved(summary: str = "remedies carried out: refund") -> FollowUp:
    """Given a case resolved at NOW (its follow-up scheduled, the events taken)."""
    case_id = uuid4()
    follow_up = FollowUp.start(uuid4(), ctx(case_id), resolved_at=NOW, resolution_summary=summary, rules=RULES)
    follow_up.collect_events()
    return follow_up


def types(follow_up: FollowUp) -> list[str]:
    return [type(e).__name__ for e in follow_up.collect_events()]


def answered(follow_up: FollowUp, score: int, anything_left: bool = False, comment: str | None = None) -> list[Any]:
    follow_up.answer(ctx(follow_up.case_id, D, CUSTOMER), score, anything_left, comment, RULES)
    return list(follow_up.collect_events())


def step(follow_up: FollowUp, at: timedelta) -> str | None:
    """The worker at ``at`` after the resolution: the due step, taken."""
    context = ctx(follow_up.case_id, at)
    due = follow_up.due_step(context.recorded_at)
    if due == "survey":
        follow_up.send_survey(context, RULES)
    elif due == "close":
        follow_up.close_unanswered(context, RULES)
    return due


# --- scheduling -----------------------------------------------------------------------------------------------


def test_a_resolved_case_is_scheduled_within_seven_days_with_the_first_survey_a_day_later() -> None:
    case_id = uuid4()
    follow_up = FollowUp.start(uuid4(), ctx(case_id), resolved_at=NOW, resolution_summary="done", rules=RULES)
    events = follow_up.collect_events()
    assert [type(e).__name__ for e in events] == ["FollowUpOpened", "FollowUpScheduled"]
    scheduled = events[1]
    assert (scheduled.due_at, scheduled.round) == (NOW + 7 * D, 1)
    assert (follow_up.state, follow_up.next_step, follow_up.next_at) == (FollowUpState.SCHEDULED, "survey", NOW + D)
    # The public contract carries the due time only
    message = to_message("feedback", 1, scheduled)
    assert message is not None and message.payload["due_at"].startswith("2026-12-02T02:00")
    assert set(message.payload) == set(CONTRACTS["FollowUpScheduled"].model_fields)


def test_an_open_follow_up_is_not_scheduled_again() -> None:
    follow_up = resolved()
    assert not follow_up.may_schedule
    with pytest.raises(InvalidTransition):
        follow_up.schedule(ctx(follow_up.case_id), resolved_at=NOW, resolution_summary="again", rules=RULES)


# --- surveys and no answer ------------------------------------------------------------------------------------


def test_nothing_is_due_before_the_first_attempt() -> None:
    follow_up = resolved()
    assert step(follow_up, D - timedelta(seconds=1)) is None
    assert follow_up.collect_events() == []


def test_no_answer_after_three_attempts_closes_the_case_as_no_response() -> None:
    follow_up = resolved()
    # Day 1: attempt 1; nothing more until day 3
    assert step(follow_up, D) == "survey"
    [sent] = follow_up.collect_events()
    assert (type(sent).__name__, sent.attempt, sent.next_at) == ("SurveySent", 1, NOW + 3 * D)
    assert step(follow_up, 2 * D) is None
    # Day 3 and 5: attempts 2 and 3; after the last, the wait is one day
    assert step(follow_up, 3 * D) == "survey"
    assert step(follow_up, 5 * D) == "survey"
    assert [e.attempt for e in follow_up.collect_events()] == [2, 3]
    assert (follow_up.next_step, follow_up.next_at) == ("close", NOW + 6 * D)
    assert step(follow_up, 6 * D - timedelta(seconds=1)) is None
    # Day 6: closed without an answer, within the 7 days, with the attempts recorded
    assert step(follow_up, 6 * D) == "close"
    [closed] = follow_up.collect_events()
    assert (type(closed).__name__, closed.outcome, closed.attempts) == ("CaseClosed", "no_response", 3)
    assert "3 survey attempts" in closed.summary and "did not answer" in closed.summary
    assert "remedies carried out: refund" in closed.summary
    assert follow_up.state is FollowUpState.CLOSED and follow_up.next_step is None
    assert [a["attempt"] for a in follow_up.current["attempts"]] == [1, 2, 3]
    assert step(follow_up, 30 * D) is None


def test_a_late_worker_sends_one_attempt_at_a_time_spaced_from_when_it_went_out() -> None:
    follow_up = resolved()
    assert step(follow_up, 4 * D) == "survey"
    assert step(follow_up, 4 * D) is None  # the next one is two days after this one
    assert follow_up.next_at == NOW + 6 * D


def test_a_survey_after_the_last_attempt_or_a_close_before_it_is_refused() -> None:
    follow_up = resolved()
    with pytest.raises(InvalidTransition):
        follow_up.close_unanswered(ctx(follow_up.case_id, D), RULES)
    for day in (1, 3, 5):
        follow_up.send_survey(ctx(follow_up.case_id, day * D), RULES)
    with pytest.raises(InvalidTransition):
        follow_up.send_survey(ctx(follow_up.case_id, 6 * D), RULES)


# --- the customer's answer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", [4, 5])
def test_four_or_five_with_nothing_left_closes_the_case_as_satisfied(score: int) -> None:
    follow_up = resolved()
    step(follow_up, D)
    follow_up.collect_events()
    answer, closed = answered(follow_up, score, comment="thank you")
    assert (type(answer).__name__, answer.score, answer.anything_left, answer.comment) == (
        "SurveyAnswered",
        score,
        False,
        "thank you",
    )
    assert (type(closed).__name__, closed.outcome, closed.attempts) == ("CaseClosed", "satisfied", 1)
    assert closed.summary == (
        f"Closed satisfied after follow-up round 1 (1 survey attempt). Resolution: remedies carried out: refund. "
        f"Customer: score {score}/5, nothing left, \u201cthank you\u201d."
    )
    assert follow_up.state is FollowUpState.CLOSED
    assert follow_up.current["answer"]["score"] == score


@pytest.mark.parametrize("score", [1, 2])
def test_one_or_two_reopens_the_case_with_the_comment(score: int) -> None:
    follow_up = resolved()
    _, reopened = answered(follow_up, score, comment="  it broke again  ")
    assert (type(reopened).__name__, reopened.by, reopened.reason) == ("CaseReopened", "survey", "it broke again")
    assert follow_up.state is FollowUpState.REOPENED and follow_up.next_step is None


def test_a_low_score_without_a_comment_reopens_with_the_score_as_the_reason() -> None:
    _, reopened = answered(resolved(), 2)
    assert reopened.reason == "score 2"


def test_three_with_nothing_left_closes_the_case_as_neutral() -> None:
    _, closed = answered(resolved(), 3)
    assert (type(closed).__name__, closed.outcome, closed.attempts) == ("CaseClosed", "neutral", 0)


@pytest.mark.parametrize("score", [3, 5])
def test_anything_left_reopens_the_case_whatever_the_score(score: int) -> None:
    _, reopened = answered(resolved(), score, anything_left=True)
    assert (type(reopened).__name__, reopened.by, reopened.reason) == (
        "CaseReopened",
        "survey",
        f"score {score}, something left",
    )


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_one_to_five_is_refused(score: int) -> None:
    follow_up = resolved()
    with pytest.raises(InvalidValue) as error:
        follow_up.answer(ctx(follow_up.case_id), score, False, None, RULES)
    assert error.value.field == "score"
    assert follow_up.collect_events() == []


def test_an_answer_after_closing_or_a_second_answer_is_refused() -> None:
    follow_up = resolved()
    answered(follow_up, 5)
    with pytest.raises(InvalidTransition):
        answered(follow_up, 1)


def test_an_answer_stops_the_attempts() -> None:
    follow_up = resolved()
    step(follow_up, D)
    answered(follow_up, 4)
    assert step(follow_up, 3 * D) is None and follow_up.collect_events() == []


def test_other_rules_from_configuration() -> None:
    rules = FollowUpRules(neutral_outcome="reopen", anything_left_reopens=False)
    assert rules.decide(3, False) is None
    assert rules.decide(5, True) == "neutral"
    assert rules.decide(2, True) is None
    assert FollowUpRules(reopen_max_score=1, satisfied_min_score=3).decide(2, False) == "neutral"


def test_inconsistent_rules_are_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        FollowUpRules(reopen_max_score=4, satisfied_min_score=4)
    with pytest.raises(ValidationError):
        FollowUpRules(max_attempts=4)  # 1 + 3*2 + 1 days > 7
    assert load_config(REPO_ROOT / "config" / "followup.yaml", FollowUpRules) == RULES


# --- rounds: resolved again after a reopen --------------------------------------------------------------------


def test_a_case_resolved_again_after_a_reopen_is_followed_up_again() -> None:
    follow_up = resolved("remedies carried out: coupon")
    step(follow_up, D)
    answered(follow_up, 2, comment="the coupon expired")
    assert follow_up.may_schedule
    # Resolved again on day 4: round 2, due 7 days later, attempts counted anew
    follow_up.schedule(ctx(follow_up.case_id, 4 * D), resolved_at=NOW + 4 * D,
                       resolution_summary="remedies carried out: refund", rules=RULES)  # fmt: skip
    [scheduled] = follow_up.collect_events()
    assert (type(scheduled).__name__, scheduled.round, scheduled.due_at) == ("FollowUpScheduled", 2, NOW + 11 * D)
    assert follow_up.attempts == 0 and follow_up.next_at == NOW + 5 * D
    assert step(follow_up, 5 * D) == "survey"
    assert follow_up.collect_events()[0].attempt == 1
    _, closed = answered(follow_up, 5)
    assert (closed.outcome, closed.round) == ("satisfied", 2)
    assert closed.summary == (
        "Closed satisfied after follow-up round 2 (1 survey attempt). Resolution: remedies carried out: refund. "
        "Customer: score 5/5, nothing left. Earlier: round 1 score 2/5, nothing left, \u201cthe coupon expired\u201d, "
        "reopened by survey."
    )
    assert [r["round"] for r in follow_up.rounds] == [1, 2]
    assert follow_up.rounds[0]["reopened"]["by"] == "survey"


# --- a manager reopens a closed case --------------------------------------------------------------------------


def test_a_manager_reopens_a_closed_case_with_a_reason() -> None:
    follow_up = resolved()
    answered(follow_up, 5)
    follow_up.reopen(ctx(follow_up.case_id, 2 * D, MANAGER), "the customer called back: still broken")
    [reopened] = follow_up.collect_events()
    assert (type(reopened).__name__, reopened.by, reopened.reason) == (
        "CaseReopened",
        "manager",
        "the customer called back: still broken",
    )
    assert follow_up.current["reopened"]["actor"] == "SH-001-M1"
    message = to_message("feedback", 1, reopened)
    assert message is not None and message.payload == {
        "by": "manager",
        "reason": "the customer called back: still broken",
    }


@pytest.mark.parametrize("role", [Role.REGIONAL_MANAGER, Role.HQ, Role.ADMIN])
def test_every_manager_role_may_reopen(role: Role) -> None:
    follow_up = resolved()
    answered(follow_up, 4)
    follow_up.reopen(ctx(follow_up.case_id, D, Actor(id="boss", role=role)), "audit finding")
    assert follow_up.state is FollowUpState.REOPENED


def test_a_case_that_is_not_closed_cannot_be_reopened_by_a_manager() -> None:
    follow_up = resolved()
    with pytest.raises(InvalidTransition):
        follow_up.reopen(ctx(follow_up.case_id, D, MANAGER), "too early")
    answered(follow_up, 1)
    with pytest.raises(InvalidTransition):  # already reopened by the survey
        follow_up.reopen(ctx(follow_up.case_id, D, MANAGER), "again")


def test_a_manager_reopening_needs_a_reason() -> None:
    follow_up = resolved()
    answered(follow_up, 5)
    with pytest.raises(InvalidValue) as error:
        follow_up.reopen(ctx(follow_up.case_id, D, MANAGER), "   ")
    assert error.value.field == "reason"


# --- messages -----------------------------------------------------------------------------------------------------


def test_a_customer_message_records_template_language_and_values_only() -> None:
    case_id = uuid4()
    message = CustomerMessage.prepare(
        uuid4(), ctx(case_id), template="survey", language="fr", params={"attempt": 2, "case_number": None}
    )
    [event] = message.collect_events()
    assert type(event).__name__ == "MessagePrepared"
    assert (event.template, event.language, event.params) == ("survey", "zh", {"attempt": "2"})
    public = to_message("feedback", 1, event)
    assert public is not None and public.payload == {"template": "survey", "language": "zh", "params": {"attempt": "2"}}
