"""Parked (dead-letter) messages: kept with the error in the consumer's own store, replayable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.clock import Clock
from shared.contracts import EventMessage
from shared.sidetables import SideTables


class ParkedStore:
    """A table of messages a consumer gave up on after its last delivery."""

    def __init__(self, side: SideTables, clock: Clock) -> None:
        self.side = side
        self.clock = clock
        self.table = side.table("parked")
        side.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, consumer TEXT NOT NULL, subject TEXT NOT NULL, "
            "data TEXT NOT NULL, error TEXT NOT NULL, deliveries INTEGER NOT NULL, "
            "parked_at TEXT NOT NULL, replayed_at TEXT)"
        )

    def park(self, *, consumer: str, subject: str, data: str, error: str, deliveries: int) -> None:
        self.side.execute(
            f"INSERT INTO {self.table} (consumer, subject, data, error, deliveries, parked_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (consumer, subject, data, error, deliveries, self.clock.now().isoformat()),
        )

    def list(self, include_replayed: bool = False) -> list[dict[str, Any]]:
        where = "" if include_replayed else " WHERE replayed_at IS NULL"
        return self.side.execute(
            f"SELECT id, consumer, subject, error, deliveries, parked_at, replayed_at FROM {self.table}{where} "
            "ORDER BY id"
        )

    def replay(self, parked_id: int, handlers: dict[str, Callable[[EventMessage], Any]]) -> bool:
        """Run the consumer's handler on a parked message again; raises if it still fails."""
        rows = self.side.execute(f"SELECT consumer, data, replayed_at FROM {self.table} WHERE id = ?", (parked_id,))
        if not rows or rows[0]["replayed_at"] is not None:
            return False
        handler = handlers[rows[0]["consumer"]]
        handler(EventMessage.model_validate_json(rows[0]["data"]))
        self.side.execute(
            f"UPDATE {self.table} SET replayed_at = ? WHERE id = ?", (self.clock.now().isoformat(), parked_id)
        )
        return True
