"""Resolution's domain: the ``Resolution`` aggregate, one per case. Pure."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.eventstore import CaseAggregate, EventContext


class Resolution(CaseAggregate):
    """The work of resolving one case: opened once the case is triaged."""

    class ResolutionOpened(CaseAggregate.Created):
        category: str
        severity: str

    def __init__(self, envelope: dict[str, Any], category: str, severity: str) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.category = category
        self.severity = severity

    @classmethod
    def open(cls, id: UUID, ctx: EventContext, *, category: str, severity: str) -> Resolution:
        """Open the resolution of a triaged case."""
        return cls._start(cls.ResolutionOpened, id, ctx, category=category, severity=severity)
