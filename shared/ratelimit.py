"""Rate limits shared by every process that serves a service: counts in a side table of its store.

``ombud up`` serves HTTP in one process and works in others, and a distributed service runs replicas; a limit
kept in one process's memory would be as many limits as processes (and forgotten on restart). So hits are
counted in the service's own database, per limit, key and fixed window of the injected clock (tests move a
``ManualClock``). To avoid a fixed window's double burst at its edge, the count is a sliding estimate: this
window's hits plus the previous window's, weighted by how much of it still overlaps the sliding window.

Incrementing is one atomic upsert per hit; two processes hitting the same key at the same instant may each
see the other's hit or not, so a limit can be overshot by the number of concurrent requests, never more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.clock import Clock
from shared.sidetables import SideTables, micros

TABLE = "rate_limits"


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits within any ``window``, per key (``name`` keeps limits apart in the table)."""

    name: str
    count: int
    window: timedelta


class RateLimits:
    """Counts hits of several limits in one side table of a service's store."""

    def __init__(self, side: SideTables, clock: Clock) -> None:
        self.side = side
        self.clock = clock
        self.table = side.table(TABLE)
        side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.table} (limit_name TEXT NOT NULL, key TEXT NOT NULL, "
                    "window_start BIGINT NOT NULL, hits INTEGER NOT NULL, PRIMARY KEY (limit_name, key, window_start))",
                    (),
                ),
                # For forgetting old windows without reading every key's rows.
                (f"CREATE INDEX IF NOT EXISTS {side.bare(TABLE)}_old ON {self.table} (limit_name, window_start)", ()),
            ]
        )

    def exceeded(self, limit: Limit, key: str) -> bool:
        """Whether ``key`` has used up ``limit`` now (counts nothing)."""
        return self._estimate(limit, key) >= limit.count

    def allow(self, limit: Limit, key: str) -> bool:
        """Count a hit for ``key`` unless it has used up ``limit``; False (and nothing counted) if it has."""
        if self.exceeded(limit, key):
            return False
        self.hit(limit, key)
        return True

    def hit(self, limit: Limit, key: str) -> None:
        """Count a hit (e.g. a wrong answer), and forget windows of this limit too old to matter."""
        start, _ = self._windows(limit)
        rows = self.side.execute(
            f"INSERT INTO {self.table} AS counted (limit_name, key, window_start, hits) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (limit_name, key, window_start) DO UPDATE SET hits = counted.hits + 1 RETURNING hits",
            (limit.name, key, start),
        )
        if rows and rows[0]["hits"] == 1:
            # The first hit of a key in a window: a cheap moment to drop what no estimate reads any more.
            self.side.execute(
                f"DELETE FROM {self.table} WHERE limit_name = ? AND window_start < ?",
                (limit.name, start - 2 * _width(limit)),
            )

    def _estimate(self, limit: Limit, key: str) -> float:
        start, elapsed = self._windows(limit)
        width = _width(limit)
        rows = self.side.query(
            f"SELECT window_start, hits FROM {self.table} WHERE limit_name = ? AND key = ? AND window_start >= ?",
            (limit.name, key, start - width),
        )
        hits = {row["window_start"]: row["hits"] for row in rows}
        overlap = 1 - elapsed / width
        return hits.get(start, 0) + hits.get(start - width, 0) * overlap

    def _windows(self, limit: Limit) -> tuple[int, int]:
        """The start of the current window (µs) and how far into it the clock is."""
        now, width = micros(self.clock.now()), _width(limit)
        return now - now % width, now % width


def _width(limit: Limit) -> int:
    return limit.window // timedelta(microseconds=1)
