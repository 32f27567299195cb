"""High-frequency warnings (高频问题预警) as events: one per dimension value and day, with the cases behind it. Pure."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.eventstore import CaseAggregate, EventContext


def warning_id(dimension: str, value: str, day: date) -> UUID:
    """One warning per category, SKU or store and day: checking again the same day finds it."""
    return uuid5(NAMESPACE_URL, f"ombud:warning:{dimension}:{value}:{day.isoformat()}")


class HighFrequencyWarning(CaseAggregate):
    """A category, SKU or store whose complaints in a window exceeded its baseline by the configured factor.

    Its envelope's case id is the warning's own id: a warning is about many cases, listed in ``case_ids``.
    """

    class HighFrequencyWarningRaised(CaseAggregate.Created):
        dimension: str
        value: str
        count: int
        baseline_count: int
        threshold: str
        window_from: str
        window_to: str
        case_ids: list[str]

    def __init__(
        self,
        envelope: dict[str, Any],
        dimension: str,
        value: str,
        count: int,
        baseline_count: int,
        threshold: str,
        window_from: str,
        window_to: str,
        case_ids: list[str],
    ) -> None:
        self.dimension = dimension
        self.value = value
        self.count = count
        self.case_ids = case_ids

    @classmethod
    def raise_warning(cls, id: UUID, ctx: EventContext, warning: dict[str, Any]) -> HighFrequencyWarning:
        """Record a warning as the read model computed it (``HighFrequencyWarnings.warnings``)."""
        return cls._start(
            cls.HighFrequencyWarningRaised,
            id,
            ctx,
            dimension=warning["dimension"],
            value=warning["value"],
            count=warning["count"],
            baseline_count=warning["baseline_count"],
            threshold=str(warning["threshold"]),
            window_from=warning["window"]["from"],
            window_to=warning["window"]["to"],
            case_ids=list(warning["case_ids"]),
        )
