"""The case library (案例库): resolved cases, anonymised, searchable."""

from __future__ import annotations

from typing import Any

from services.feedback.projections.base import Projection
from shared.contracts import EventMessage
from shared.sidetables import Runner


class CaseLibrary(Projection):
    """The case library (案例库): resolved cases, anonymised, searchable."""

    name = "feedback_library"

    def apply(self, run: Runner, message: EventMessage, batch: Any) -> None:
        """Nothing yet."""
