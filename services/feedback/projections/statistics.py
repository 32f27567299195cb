"""Counts, timeliness, durations, satisfaction, repeat and reopen rates, by category, store, region, channel, severity and period."""

from __future__ import annotations

from typing import Any

from services.feedback.projections.base import Projection
from shared.contracts import EventMessage
from shared.sidetables import Runner


class Statistics(Projection):
    """Counts, timeliness, durations, satisfaction, repeat and reopen rates, by category, store, region, channel, severity and period."""

    name = "feedback_statistics"

    def apply(self, run: Runner, message: EventMessage, batch: Any) -> None:
        """Nothing yet."""
