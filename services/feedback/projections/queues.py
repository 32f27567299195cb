"""Work queues per team and per person, with filters and pagination."""

from __future__ import annotations

from typing import Any

from services.feedback.projections.base import Projection
from shared.contracts import EventMessage
from shared.sidetables import Runner


class WorkQueues(Projection):
    """Work queues per team and per person, with filters and pagination."""

    name = "feedback_queues"

    def apply(self, run: Runner, message: EventMessage, batch: Any) -> None:
        """Nothing yet."""
