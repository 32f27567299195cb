"""Feedback's Application: customer communication, and the read models of every case."""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import Aggregate

from services.feedback.domain import Acknowledgement
from shared.contracts import AcknowledgementDue, Actor, EventMessage
from shared.eventstore import ServiceApplication, aggregate_id


class Feedback(ServiceApplication):
    """Acknowledges complaints; later follow-ups and surveys. Projections live beside it."""

    name = "feedback"
    reactions = {"AcknowledgementDue": "acknowledge_complaint"}

    def acknowledge_complaint(self, message: EventMessage, due: AcknowledgementDue) -> Iterable[Aggregate]:
        """Policy: the acknowledgement intake says is due is prepared with the case number."""
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield Acknowledgement.prepare(
            aggregate_id(ctx.case_id, self.name), ctx, case_number=due.case_number, language=due.language
        )
