"""Returns and exchanges (RMA): ``ReturnRequest`` commands and policies."""

from __future__ import annotations

from typing import Any

RETURN_REACTIONS: dict[str, str] = {}


class Returns:
    """The return and exchange commands of the resolution service."""

    def init_returns(self: Any) -> None:
        """Load the return rules and create the tables returns need."""
