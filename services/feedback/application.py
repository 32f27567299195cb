"""Feedback's Application: customer communication, the follow-up that closes (or reopens) a case, and its worker.
The read models of every case live beside it (``services.feedback.projections``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import structlog
from eventsourcing.domain import Aggregate

from services.feedback.domain import (
    Acknowledgement,
    CustomerMessage,
    FollowUp,
    FollowUpRules,
    HighFrequencyWarning,
    RejectionExplanation,
    warning_id,
)
from shared.clock import Clock
from shared.configfiles import load_config
from shared.contracts import (
    AcknowledgementDue,
    Actor,
    CaseResolved,
    CustomerLinkIssued,
    EventMessage,
    ProposalOffered,
    ValidityDecided,
)
from shared.customerlinks import LINK_PURPOSE, LINK_SUBJECT, CustomerLinks, Purpose
from shared.errors import DomainError, NotFound
from shared.eventstore import EventContext, ServiceApplication, aggregate_id
from shared.logs import safe_error
from shared.settings import Settings
from shared.sidetables import SideTables, micros
from shared.vocabulary import Role

log = structlog.get_logger()

Write = tuple[str, tuple[Any, ...]]
CUSTOMER = Actor(id="customer", role=Role.CUSTOMER)


def follow_up_id(case_id: UUID) -> UUID:
    """The id of a case's FollowUp (one per case, covering every round)."""
    return uuid5(case_id, "followup")


def message_id(cause_event_id: UUID) -> UUID:
    """The id of the message a given event causes: derived, so the same cause never prepares two messages."""
    return uuid5(cause_event_id, "message")


def answer_path(case_id: UUID) -> str:
    return f"/api/public/cases/{case_id}/answer"


def survey_path(case_id: UUID) -> str:
    return f"/api/public/cases/{case_id}/survey"


class FollowUpTables:
    """``followups``: the next due step (a survey attempt, or closing without an answer) of each open follow-up,
    rewritten in the same transaction as every save of the case's FollowUp, so none is lost while the service is
    down; the follow-up worker reads the due ones."""

    def __init__(self, side: SideTables) -> None:
        self.side = side
        self.due_table = side.table("followups")
        side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.due_table} (case_id TEXT PRIMARY KEY, round INTEGER NOT NULL, "
                    "step TEXT NOT NULL, due_at BIGINT NOT NULL)",
                    (),
                ),
                (f"CREATE INDEX IF NOT EXISTS {side.prefix}_followups_due ON {self.due_table} (due_at)", ()),
            ]
        )

    def writes_for(self, follow_up: FollowUp) -> list[Write]:
        """The case's row after a save: its next step, or none once the round is closed or reopened."""
        case = str(follow_up.case_id)
        writes: list[Write] = [(f"DELETE FROM {self.due_table} WHERE case_id = ?", (case,))]
        if follow_up.next_step is not None and follow_up.next_at is not None:
            writes.append(
                (
                    f"INSERT INTO {self.due_table} (case_id, round, step, due_at) VALUES (?, ?, ?, ?)",
                    (case, follow_up.round, follow_up.next_step, micros(follow_up.next_at)),
                )
            )
        return writes

    def due(self, now: datetime, limit: int) -> list[str]:
        """The cases whose next step is due at ``now``, earliest first."""
        rows = self.side.query(
            f"SELECT case_id FROM {self.due_table} WHERE due_at <= ? ORDER BY due_at, case_id LIMIT ?",
            (micros(now), limit),
        )
        return [row["case_id"] for row in rows]


class Feedback(ServiceApplication):
    """Acknowledges complaints, tells the customer of a proposal and of the result, follows a resolved case up with
    a satisfaction survey and closes or reopens it. Projections live beside it."""

    name = "feedback"
    reactions = {
        "AcknowledgementDue": "acknowledge_complaint",
        "ValidityDecided": "explain_rejection",
        "ProposalOffered": "tell_proposal",
        "CaseResolved": "follow_up_resolution",
        "CustomerLinkIssued": "record_survey_link",
    }

    def __init__(self, settings: Settings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self.rules = load_config(settings.config_dir / "followup.yaml", FollowUpRules)
        self.tables = FollowUpTables(self.side)
        self.links = CustomerLinks(self.side, Purpose.SURVEY)
        self.zone = ZoneInfo(settings.timezone)

    # --- policies ---------------------------------------------------------------------------------------------

    def acknowledge_complaint(self, message: EventMessage, due: AcknowledgementDue) -> Iterable[Aggregate]:
        """Policy: the acknowledgement intake says is due is prepared with the case number."""
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield Acknowledgement.prepare(
            aggregate_id(ctx.case_id, self.name), ctx, case_number=due.case_number, language=due.language
        )

    def explain_rejection(self, message: EventMessage, decision: ValidityDecided) -> Iterable[Aggregate]:
        """Policy: a complaint found not well-founded gets a polite explanation with the reason."""
        if decision.well_founded:
            return
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield RejectionExplanation.prepare(
            uuid5(message.envelope.event_id, self.name),
            ctx,
            case_number=decision.case_number,
            language=decision.language,
            reason=decision.reason or "",
        )

    def tell_proposal(self, message: EventMessage, offer: ProposalOffered) -> Iterator[Any]:
        """Policy: a proposal put to the customer is a message with the total and a link to answer it (intake mints
        the link's token when it sends the message; resolution checks it)."""
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield self._message(
            message.envelope.event_id,
            ctx,
            "proposal",
            proposal=offer.proposal,
            total=f"{offer.total:.2f}",
            answer_path=answer_path(ctx.case_id),
            **{LINK_PURPOSE: Purpose.PROPOSAL_ANSWER.value, LINK_SUBJECT: str(offer.proposal)},
        )

    def follow_up_resolution(self, message: EventMessage, resolved: CaseResolved) -> Iterator[Any]:
        """Policy: a resolved case: the customer is told the result, and its follow-up is scheduled (again, for a
        case resolved after a reopen)."""
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield self._message(message.envelope.event_id, ctx, "result", summary=resolved.summary)
        follow_up = self.find(follow_up_id(ctx.case_id))
        resolved_at = message.envelope.recorded_at
        if follow_up is None:
            follow_up = FollowUp.start(
                follow_up_id(ctx.case_id), ctx, resolved_at=resolved_at, resolution_summary=resolved.summary,
                rules=self.rules,
            )  # fmt: skip
        elif follow_up.may_schedule:
            follow_up.schedule(ctx, resolved_at=resolved_at, resolution_summary=resolved.summary, rules=self.rules)
        else:
            log.warning("followup.already_open", case_id=str(ctx.case_id), state=follow_up.state_name)
            return
        yield follow_up
        yield from self.tables.writes_for(follow_up)

    def record_survey_link(self, message: EventMessage, issued: CustomerLinkIssued) -> Iterator[Any]:
        """Policy: a survey link intake sent is kept (its hash) to check the customer's answer with."""
        yield from self.links.writes_for_issued(message.envelope.case_id, issued)

    # --- commands -----------------------------------------------------------------------------------------------

    def answer_survey(
        self, case_id: UUID, token: str, score: int, anything_left: bool, comment: str | None
    ) -> FollowUp:
        """The customer's answer through the link of the round's survey (no login). A token that is wrong, of another
        case, round or purpose, expired or spent is answered like an unknown case (404), never saying which. The
        answer spends the round's links in the transaction that records it."""

        def attempt() -> FollowUp:
            follow_up = self.get_follow_up(case_id)
            subject = str(follow_up.round)
            if self.links.check(case_id, subject, token, self.clock.now()) is None:
                raise NotFound(f"no follow-up for case {case_id} with that token")
            ctx = self.context(case_id, CUSTOMER)
            follow_up.answer(ctx, score, anything_left, comment, self.rules)
            spent = self.links.writes_for_spent(case_id, subject, ctx.recorded_at)
            self.save(follow_up, side_writes=[*self.tables.writes_for(follow_up), *spent])
            return follow_up

        return self.retrying(attempt)

    def reopen_case(self, case_id: UUID, actor: Actor, reason: str) -> FollowUp:
        """A manager reopens a closed case with a reason (403 for other roles, 409 unless closed)."""
        return self._command(case_id, actor, lambda f, ctx: f.reopen(ctx, reason))

    # --- reads --------------------------------------------------------------------------------------------------

    def get_follow_up(self, case_id: UUID) -> FollowUp:
        """The case's follow-up (404 until the case is resolved)."""
        follow_up = self.find(follow_up_id(case_id))
        if not isinstance(follow_up, FollowUp):
            raise NotFound(f"case {case_id} has no follow-up (it was never resolved)")
        return follow_up

    # --- the follow-up worker -----------------------------------------------------------------------------------

    def send_due_surveys(self, limit: int = 500) -> int:
        """Take every follow-up whose next step is due now (at most ``limit``) one step on: the next survey attempt
        with its message, or closing as no_response after the last one. Each case is saved with its next due step;
        one changed concurrently (the customer answering) is decided again. Returns how many events were recorded.
        """
        recorded = 0
        for case_id in self.tables.due(self.clock.now(), limit):
            case = UUID(case_id)
            try:
                recorded += self.retrying(lambda: self._step(case))  # noqa: B023 - called before the next case
            except DomainError as error:  # a case changing concurrently again and again: the next round retries
                log.warning("followup.step_failed", case_id=case_id, error=safe_error(error))
        return recorded

    def _step(self, case_id: UUID) -> int:
        follow_up = self.get_follow_up(case_id)
        ctx = self.context(case_id, Actor.system(self.name))
        step = follow_up.due_step(ctx.recorded_at)
        messages = []
        if step == "survey":
            sent = follow_up.send_survey(ctx, self.rules)
            messages.append(
                self._message(
                    sent,
                    ctx,
                    "survey",
                    attempt=follow_up.attempts,
                    attempts=self.rules.max_attempts,
                    survey_path=survey_path(case_id),
                    **{LINK_PURPOSE: Purpose.SURVEY.value, LINK_SUBJECT: str(follow_up.round)},
                )
            )
        elif step == "close":
            follow_up.close_unanswered(ctx, self.rules)
        writes = self.tables.writes_for(follow_up)
        recorded = len(follow_up.pending_events) + len(messages)
        if recorded:
            self.save(follow_up, *messages, side_writes=writes)
        else:
            self.side.script(writes)  # nothing due after all (a stale row): the row is rewritten from the events
        return recorded

    # --- helpers ------------------------------------------------------------------------------------------------

    def record_warnings(self, warnings: list[dict[str, Any]]) -> int:
        """Record each high-frequency warning the read model computed, once per dimension value and day (in the
        chain's zone); returns how many were new."""
        new = []
        for warning in warnings:
            day = datetime.fromisoformat(warning["window"]["to"]).astimezone(self.zone).date()
            found = warning_id(warning["dimension"], warning["value"], day)
            if self.find(found) is None:
                ctx = self.context(found, Actor.system(self.name))
                new.append(HighFrequencyWarning.raise_warning(found, ctx, warning))
        if new:
            self.save(*new)
        return len(new)

    def _command(self, case_id: UUID, actor: Actor, decide: Any) -> FollowUp:
        # Load, decide, save with the case's due step; a concurrent save (the worker) makes us decide again.
        def attempt() -> FollowUp:
            follow_up = self.get_follow_up(case_id)
            decide(follow_up, self.context(case_id, actor))
            self.save(follow_up, side_writes=self.tables.writes_for(follow_up))
            return follow_up

        return self.retrying(attempt)

    def _message(self, cause: UUID, ctx: EventContext, template: str, **params: Any) -> CustomerMessage:
        """A message to the customer caused by event ``cause``, with the case number and language if known."""
        case_number, language = self._customer(ctx.case_id)
        return CustomerMessage.prepare(
            message_id(cause), ctx, template=template, language=language, params={"case_number": case_number, **params}
        )

    def _customer(self, case_id: UUID) -> tuple[str | None, str]:
        """The case number and the customer's language, from the acknowledgement (None and Chinese without one)."""
        ack = self.find(aggregate_id(case_id, self.name))
        if isinstance(ack, Acknowledgement):
            return ack.case_number, ack.language
        return None, "zh"

