"""The follow-up (回访与闭环) that closes, or reopens, a resolved case. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext

# --- follow-up and closing (回访与闭环) -----------------------------------------------------------------------------



class FollowUpRules(BaseModel):
    """config/followup.yaml: when the survey goes out, how often, and what an answer decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    due_within: timedelta = timedelta(days=7)
    first_attempt_after: timedelta = timedelta(days=1)
    attempt_interval: timedelta = timedelta(days=2)
    max_attempts: int = Field(default=3, ge=1, le=10)
    wait_after_last_attempt: timedelta = timedelta(days=1)
    satisfied_min_score: int = Field(default=4, ge=2, le=5)
    reopen_max_score: int = Field(default=2, ge=1, le=4)
    neutral_outcome: Literal["close", "reopen"] = "close"
    anything_left_reopens: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> FollowUpRules:
        if self.reopen_max_score >= self.satisfied_min_score:
            raise ValueError("reopen_max_score must be below satisfied_min_score")
        if min(self.first_attempt_after, self.attempt_interval, self.wait_after_last_attempt) < timedelta(0):
            raise ValueError("durations must not be negative")
        last = self.first_attempt_after + (self.max_attempts - 1) * self.attempt_interval + self.wait_after_last_attempt
        if last > self.due_within:
            raise ValueError(f"the attempts and the wait after the last one ({last}) must fit within due_within")
        return self

    def decide(self, score: int, anything_left: bool) -> str | None:
        """The outcome an answer closes the case with (satisfied, neutral), or None when it reopens the case."""
        if score <= self.reopen_max_score:
            return None
        if anything_left:
            return None if self.anything_left_reopens else "neutral"
        if score >= self.satisfied_min_score:
            return "satisfied"
        return "neutral" if self.neutral_outcome == "close" else None


class FollowUpState(StrEnum):
    SCHEDULED = "scheduled"  # resolved; no survey sent yet
    SURVEYING = "surveying"  # at least one survey attempt sent, no answer yet
    CLOSED = "closed"
    REOPENED = "reopened"


_OPEN = (FollowUpState.SCHEDULED, FollowUpState.SURVEYING)


class FollowUp(CaseAggregate):
    """A case's satisfaction follow-up (回访), in rounds: each resolution of the case starts one (a case resolved
    again after a reopen is followed up again), which ends closed (satisfied, neutral, no_response) or reopened.

    Pure: instants come with the context, the rules as an argument.
    """

    class FollowUpOpened(CaseAggregate.Created):
        pass

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.state: FollowUpState | None = None
        self.due_at: datetime | None = None
        # The round's next step and when it falls due: the next survey attempt, or closing without an answer after
        # the last one; None once the round is closed or reopened.
        self.next_step: Literal["survey", "close"] | None = None
        self.next_at: datetime | None = None
        # Every round, oldest first: resolution summary, due time, attempts, answer, outcome, reopening.
        self.rounds: list[dict[str, Any]] = []

    @classmethod
    def start(
        cls, id: UUID, ctx: EventContext, *, resolved_at: datetime, resolution_summary: str, rules: FollowUpRules
    ) -> FollowUp:
        """The case was resolved for the first time: its follow-up is scheduled."""
        follow_up: FollowUp = cls._start(cls.FollowUpOpened, id, ctx)
        follow_up.schedule(ctx, resolved_at=resolved_at, resolution_summary=resolution_summary, rules=rules)
        return follow_up

    # --- rounds -------------------------------------------------------------------------------------------------

    class FollowUpScheduled(CaseAggregate.Event):
        due_at: datetime
        round: int
        first_attempt_at: datetime
        resolution_summary: str

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.state = FollowUpState.SCHEDULED
            aggregate.due_at = self.due_at
            aggregate.next_step, aggregate.next_at = "survey", self.first_attempt_at
            aggregate.rounds.append(
                {
                    "round": self.round,
                    "resolution_summary": self.resolution_summary,
                    "scheduled_at": self.timestamp.isoformat(),
                    "due_at": self.due_at.isoformat(),
                    "attempts": [],
                    "answer": None,
                    "outcome": None,
                    "closed_at": None,
                    "summary": None,
                    "reopened": None,
                }
            )

    @property
    def may_schedule(self) -> bool:
        """Whether a resolution starts a round now: the first one, or again after the case was reopened."""
        return self.state in (None, FollowUpState.REOPENED)

    def schedule(
        self, ctx: EventContext, *, resolved_at: datetime, resolution_summary: str, rules: FollowUpRules
    ) -> None:
        """Schedule the round's follow-up: due within ``rules.due_within`` of the resolution."""
        if not self.may_schedule:
            raise InvalidTransition(f"the follow-up is {self.state.value if self.state else 'new'}; not reopened")
        self._record(
            self.FollowUpScheduled,
            ctx,
            due_at=resolved_at + rules.due_within,
            round=len(self.rounds) + 1,
            first_attempt_at=resolved_at + rules.first_attempt_after,
            resolution_summary=resolution_summary,
        )

    # --- surveys ------------------------------------------------------------------------------------------------

    class SurveySent(CaseAggregate.Event):
        attempt: int
        round: int
        next_step: str
        next_at: datetime

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.state = FollowUpState.SURVEYING
            aggregate.next_step, aggregate.next_at = self.next_step, self.next_at  # type: ignore[assignment]
            aggregate.current["attempts"].append({"attempt": self.attempt, "sent_at": self.timestamp.isoformat()})

    def due_step(self, now: datetime) -> Literal["survey", "close"] | None:
        """The round's next step if it is due at ``now`` (see ``next_step``), else None."""
        return self.next_step if self.next_at is not None and now >= self.next_at else None

    def send_survey(self, ctx: EventContext, rules: FollowUpRules) -> UUID:
        """Record the next survey attempt; the next step is due an interval later (after the last attempt: closing
        without an answer). Returns the event's id, which the survey message is derived from."""
        self._must_be_open("send a survey")
        attempt = self.attempts + 1
        if attempt > rules.max_attempts:
            raise InvalidTransition(f"all {rules.max_attempts} survey attempts were sent")
        more = attempt < rules.max_attempts
        wait = rules.attempt_interval if more else rules.wait_after_last_attempt
        self._record(self.SurveySent, ctx, attempt=attempt, round=self.round, next_step="survey" if more else "close",
                     next_at=ctx.recorded_at + wait)  # fmt: skip
        return UUID(self.pending_events[-1].envelope["event_id"])

    class SurveyAnswered(CaseAggregate.Event):
        score: int
        anything_left: bool
        comment: str | None
        round: int

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.current["answer"] = {
                "score": self.score,
                "anything_left": self.anything_left,
                "comment": self.comment,
                "answered_at": self.timestamp.isoformat(),
            }

    def answer(
        self, ctx: EventContext, score: int, anything_left: bool, comment: str | None, rules: FollowUpRules
    ) -> None:
        """The customer's answer (satisfaction 1–5, whether anything is left, a comment) closes the case or
        reopens it, by ``rules.decide``. Accepted while the round is open, before or after a survey attempt."""
        if not 1 <= score <= 5:
            raise InvalidValue("score", "must be from 1 to 5")
        self._must_be_open("answer the survey")
        comment = comment.strip() if comment and comment.strip() else None
        self._record(self.SurveyAnswered, ctx, score=score, anything_left=anything_left, comment=comment,
                     round=self.round)  # fmt: skip
        outcome = rules.decide(score, anything_left)
        if outcome is None:
            reason = comment or (f"score {score}, something left" if anything_left else f"score {score}")
            self._record(self.CaseReopened, ctx, by="survey", reason=reason, round=self.round)
        else:
            self._close(ctx, outcome)

    # --- closing and reopening ------------------------------------------------------------------------------------

    class CaseClosed(CaseAggregate.Event):
        outcome: str
        summary: str
        attempts: int
        round: int

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.state = FollowUpState.CLOSED
            aggregate.next_step, aggregate.next_at = None, None
            aggregate.current.update(outcome=self.outcome, summary=self.summary, closed_at=self.timestamp.isoformat())

    def close_unanswered(self, ctx: EventContext, rules: FollowUpRules) -> None:
        """Every attempt went unanswered and the wait after the last one is over: closed as no_response."""
        self._must_be_open("close the case")
        if self.attempts < rules.max_attempts:
            raise InvalidTransition(f"only {self.attempts} of {rules.max_attempts} survey attempts were sent")
        self._close(ctx, "no_response")

    class CaseReopened(CaseAggregate.Event):
        by: str
        reason: str
        round: int

        def apply(self, aggregate: FollowUp) -> None:
            aggregate.state = FollowUpState.REOPENED
            aggregate.next_step, aggregate.next_at = None, None
            aggregate.current["reopened"] = {
                "by": self.by,
                "reason": self.reason,
                "actor": self.envelope["actor"]["id"],
                "at": self.timestamp.isoformat(),
            }

    def reopen(self, ctx: EventContext, reason: str) -> None:
        """A manager reopens a closed case with a reason: back to its owner, resolution investigates again."""
        if not reason or not reason.strip():
            raise InvalidValue("reason", "is required and must not be blank")
        if self.state is not FollowUpState.CLOSED:
            raise InvalidTransition(f"only a closed case can be reopened (the follow-up is {self.state_name})")
        self._record(self.CaseReopened, ctx, by="manager", reason=reason.strip(), round=self.round)

    # --- reads and helpers ----------------------------------------------------------------------------------------

    @property
    def current(self) -> dict[str, Any]:
        return self.rounds[-1]

    @property
    def round(self) -> int:
        return len(self.rounds)

    @property
    def attempts(self) -> int:
        """Survey attempts sent in the current round."""
        return len(self.current["attempts"]) if self.rounds else 0

    @property
    def state_name(self) -> str:
        return self.state.value if self.state else "new"

    def _must_be_open(self, what: str) -> None:
        if self.state not in _OPEN:
            raise InvalidTransition(f"cannot {what}: the follow-up is {self.state_name}")

    def _close(self, ctx: EventContext, outcome: str) -> None:
        self._record(
            self.CaseClosed,
            ctx,
            outcome=outcome,
            summary=closing_summary(self.rounds, outcome),
            attempts=self.attempts,
            round=self.round,
        )


def closing_summary(rounds: list[dict[str, Any]], outcome: str) -> str:
    """The closing summary (结案总结) from what feedback knows: each round's resolution, survey and answer."""
    current = rounds[-1]
    attempts = len(current["attempts"])
    sent = f"{attempts} survey attempt{'s' if attempts != 1 else ''}"
    parts = [f"Closed {outcome.replace('_', ' ')} after follow-up round {current['round']} ({sent})."]
    if current["resolution_summary"]:
        parts.append(f"Resolution: {current['resolution_summary']}.")
    answer = current["answer"]
    if answer is not None:
        parts.append(f"Customer: {_answer_text(answer)}.")
    elif outcome == "no_response":
        parts.append("The customer did not answer the survey.")
    earlier = [_round_text(r) for r in rounds[:-1]]
    if earlier:
        parts.append("Earlier: " + "; ".join(earlier) + ".")
    return " ".join(parts)


def _answer_text(answer: dict[str, Any]) -> str:
    text = f"score {answer['score']}/5, {'something left' if answer['anything_left'] else 'nothing left'}"
    return text + (f", \u201c{answer['comment']}\u201d" if answer["comment"] else "")


def _round_text(round_: dict[str, Any]) -> str:
    text = f"round {round_['round']}"
    if round_["answer"] is not None:
        text += f" {_answer_text(round_['answer'])}"
    if round_["outcome"] is not None:
        text += f", closed {round_['outcome'].replace('_', ' ')}"
    if round_["reopened"] is not None:
        text += f", reopened by {round_['reopened']['by']}"
        if round_["answer"] is None or round_["reopened"]["by"] != "survey":
            text += f" ({round_['reopened']['reason']})"
    return text
