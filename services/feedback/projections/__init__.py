"""Feedback's read models, each a projection with its own store and tracking (``base.Projection``)."""

from typing import Any

from services.feedback.projections.base import Projection
from services.feedback.projections.cases import (
    CaseViews,
    causal_order,
    message_from_entry,
    rebuild_case,
    recorded_by,
    timeline_entry,
)
from services.feedback.projections.facts import Fact, as_fact, evolve_case
from services.feedback.projections.library import CaseLibrary
from services.feedback.projections.queues import WorkQueues
from services.feedback.projections.statistics import Statistics
from shared.contracts import EventMessage
from shared.settings import Settings

# Every read model feedback keeps; one durable consumer feeds them all (each keeps its own tracking).
PROJECTIONS: list[type[Projection]] = [CaseViews, WorkQueues, Statistics, CaseLibrary]


class ReadModels:
    """Every projection of ``PROJECTIONS``, opened on the settings' stores, fed the same messages."""

    def __init__(self, settings: Settings, kinds: list[type[Projection]] | None = None) -> None:
        self.by_name: dict[str, Any] = {kind.name: kind(settings) for kind in (kinds or PROJECTIONS)}

    def __getitem__(self, name: str) -> Any:
        return self.by_name[name]

    def handle(self, message: EventMessage | Fact) -> bool:
        """Apply one message to each projection that lacks it; True if any did."""
        fact = as_fact(message)
        return any([projection.handle(fact) for projection in self.by_name.values()])

    def handle_batch(self, messages: list[EventMessage] | list[Fact]) -> int:
        """Apply a batch to each projection, each in its own transaction; the most any of them found new."""
        facts = [as_fact(message) for message in messages]
        return max(projection.handle_batch(facts) for projection in self.by_name.values())

    def close(self) -> None:
        for projection in self.by_name.values():
            projection.close()

__all__ = [
    "PROJECTIONS",
    "CaseLibrary",
    "CaseViews",
    "Fact",
    "Projection",
    "ReadModels",
    "Statistics",
    "WorkQueues",
    "causal_order",
    "evolve_case",
    "message_from_entry",
    "rebuild_case",
    "recorded_by",
    "timeline_entry",
]
