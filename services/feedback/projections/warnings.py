"""High-frequency warnings (高频问题预警): a category, SKU or store over its baseline."""

from __future__ import annotations

from typing import Any

from services.feedback.projections.base import Projection
from shared.contracts import EventMessage
from shared.sidetables import Runner


class HighFrequencyWarnings(Projection):
    """High-frequency warnings (高频问题预警): a category, SKU or store over its baseline."""

    name = "feedback_warnings"

    def apply(self, run: Runner, message: EventMessage, batch: Any) -> None:
        """Nothing yet."""
