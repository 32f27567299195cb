"""Feedback's Application: customer communication, and the read models of every case."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import uuid5

from eventsourcing.domain import Aggregate

from services.feedback.domain import Acknowledgement, RejectionExplanation
from shared.contracts import AcknowledgementDue, Actor, EventMessage, ValidityDecided
from shared.eventstore import ServiceApplication, aggregate_id


class Feedback(ServiceApplication):
    """Acknowledges complaints; later follow-ups and surveys. Projections live beside it."""

    name = "feedback"
    reactions = {"AcknowledgementDue": "acknowledge_complaint", "ValidityDecided": "explain_rejection"}

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
