"""Which contacts are flagged or blocked, kept in a side table and cached for the receiving path.

``POST /api/complaints`` must not wait on the database to learn whether a contact is blocked, so
each intake process keeps the table in memory and reloads it at most every ``ttl`` seconds; its own
changes apply at once. Another intake replica's block takes effect here within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from shared.sidetables import SideTables

FLAGGED, BLOCKED = "flagged", "blocked"


class SourceStatuses:
    """customer id -> ``flagged`` or ``blocked``, for every contact ever flagged."""

    def __init__(self, side: SideTables, ttl: float = 2.0) -> None:
        self.side = side
        self.table = side.table("sources")
        side.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (customer_id TEXT PRIMARY KEY, status TEXT NOT NULL)")
        self.ttl = ttl
        self._lock = threading.Lock()
        self._statuses: dict[str, str] = {}
        self._loaded = float("-inf")

    def status(self, customer_id: UUID) -> str | None:
        """The contact's status: ``flagged``, ``blocked`` or None."""
        with self._lock:
            if time.monotonic() - self._loaded > self.ttl:
                rows = self.side.query(f"SELECT customer_id, status FROM {self.table}")
                self._statuses = {row["customer_id"]: row["status"] for row in rows}
                self._loaded = time.monotonic()
            return self._statuses.get(str(customer_id))

    def write(self, customer_id: UUID, status: str) -> tuple[str, Sequence[Any]]:
        """The upsert to save with the source's events (``side_writes``); applied to the cache at once."""
        with self._lock:
            self._statuses[str(customer_id)] = status
        return (
            f"INSERT INTO {self.table} (customer_id, status) VALUES (?, ?) "
            "ON CONFLICT (customer_id) DO UPDATE SET status = excluded.status",
            (str(customer_id), status),
        )
