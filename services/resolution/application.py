"""Resolution's Application: opens a resolution for every triaged case."""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import Aggregate

from services.resolution.domain import Resolution
from shared.contracts import Actor, ComplaintTriaged, EventMessage
from shared.eventstore import ServiceApplication, aggregate_id


class ResolutionService(ServiceApplication):
    """Investigation, remedies, approvals, returns and recalls (the thin slice opens the case)."""

    name = "resolution"
    reactions = {"ComplaintTriaged": "open_resolution"}

    def open_resolution(self, message: EventMessage, triaged: ComplaintTriaged) -> Iterable[Aggregate]:
        """Policy: a triaged complaint gets a resolution case."""
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield Resolution.open(
            aggregate_id(ctx.case_id, self.name),
            ctx,
            category=triaged.category.value,
            severity=triaged.severity.value,
        )
