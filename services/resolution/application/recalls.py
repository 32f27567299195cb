"""Recall campaigns: cluster alerts on complaints, campaigns and their affected customers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.contracts import ComplaintTriaged, EventMessage

RECALL_REACTIONS: dict[str, str] = {}


class Recalls:
    """The recall commands and policies of the resolution service."""

    def init_recalls(self: Any) -> None:
        """Load the recall rules and create the tables recalls need."""

    def recall_on_triaged(self: Any, message: EventMessage, triaged: ComplaintTriaged) -> Iterator[Any]:
        """Called for every triaged complaint (after its facts are recorded): cluster alerts, joining campaigns."""
        yield from ()
