"""A small in-process sliding-window rate limiter on the injected clock (tests move the clock)."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from datetime import timedelta

from shared.clock import Clock


class RateLimit:
    """At most ``limit`` hits per key within ``window``."""

    def __init__(self, clock: Clock, limit: int, window: timedelta) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count a hit for ``key``; False (and not counted) if it is over the limit."""
        with self._lock:
            if self._full(key):
                return False
            self._hits[key].append(self.clock.now())
            return True

    def exceeded(self, key: str) -> bool:
        """Whether ``key`` is at its limit now (counts nothing)."""
        with self._lock:
            return self._full(key)

    def _full(self, key: str) -> bool:
        hits, now = self._hits[key], self.clock.now()
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        return len(hits) >= self.limit
