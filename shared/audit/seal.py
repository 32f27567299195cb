"""The log chain: each service's notification log sealed link by link into a side table.

A ``Sealer`` runs beside each service's relay. It wakes on every save (and polls for saves made
by other processes), reads the notifications after the sealed head, and appends one link per
notification in one transaction. The verifier recomputes the chain from the events and compares;
signed checkpoints pin its head.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, NamedTuple

import structlog

from shared.audit import chain
from shared.bus import sleep_unless
from shared.logs import safe_error
from shared.sidetables import SideTables

log = structlog.get_logger()


class Link(NamedTuple):
    """One sealed notification: where the event sits, its hash, and the chain up to it."""

    notification_id: int
    originator_id: str
    version: int
    event_hash: str
    chain_hash: str


def stored_hash(state: bytes) -> str:
    """The hash an event's stored state claims; a marker that can never verify if the suffix is gone."""
    try:
        return chain.split(state)[2]
    except chain.Malformed:
        return "malformed:" + hashlib.sha256(state).hexdigest()


class LogChain:
    """The sealed chain of one service's notification log."""

    def __init__(self, side: SideTables) -> None:
        self.side = side
        self.table = side.table("log_chain")
        side.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (notification_id BIGINT PRIMARY KEY, "
            "originator_id TEXT NOT NULL, version BIGINT NOT NULL, event_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)"
        )

    def head(self) -> tuple[int, str]:
        """``(notification id, chain hash)`` of the last sealed link; ``(0, GENESIS)`` before any."""
        rows = self.side.query(
            f"SELECT notification_id, chain_hash FROM {self.table} ORDER BY notification_id DESC LIMIT 1"
        )
        return (int(rows[0]["notification_id"]), rows[0]["chain_hash"]) if rows else (0, chain.GENESIS)

    def seal(self, notifications: list[Any]) -> int:
        """Append links for those of ``notifications`` after the head, in one transaction; how many."""
        with self.side.transaction() as run:
            rows = run(f"SELECT notification_id, chain_hash FROM {self.table} ORDER BY notification_id DESC LIMIT 1")
            position, previous = (int(rows[0]["notification_id"]), rows[0]["chain_hash"]) if rows else (0, chain.GENESIS)
            sealed = 0
            for n in notifications:
                if n.id <= position:
                    continue
                digest = stored_hash(n.state)
                previous = chain.log_link(previous, n.id, str(n.originator_id), n.originator_version, digest)
                run(
                    f"INSERT INTO {self.table} (notification_id, originator_id, version, event_hash, chain_hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (n.id, str(n.originator_id), n.originator_version, digest, previous),
                )
                sealed += 1
        return sealed

    def links(self, originator_ids: list[str] | None = None) -> list[Link]:
        """Every sealed link in order, or only those of the given streams."""
        sql = f"SELECT notification_id, originator_id, version, event_hash, chain_hash FROM {self.table}"
        params: list[Any] = []
        if originator_ids is not None:
            sql += f" WHERE originator_id IN ({', '.join('?' for _ in originator_ids)})"
            params = list(originator_ids)
        return [Link._make(row) for rows in self.side.stream(sql + " ORDER BY notification_id", params) for row in rows]


class Sealer:
    """Keeps a service's log chain sealed up to its latest notification."""

    def __init__(self, app: Any, poll_seconds: float, batch: int = 1000) -> None:
        self.app = app
        self.log_chain = LogChain(app.side)
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.wake = asyncio.Event()

    def seal_pending(self) -> int:
        """Seal everything not sealed yet (blocking); how many links were added."""
        total = 0
        while True:
            position, _ = self.log_chain.head()
            notifications = self.app.recorder.select_notifications(
                start=position, limit=self.batch, inclusive_of_start=False
            )
            if not notifications:
                return total
            total += self.log_chain.seal(notifications)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.app.on_saved(lambda: loop.call_soon_threadsafe(self.wake.set))
        while not stop.is_set():
            self.wake.clear()
            try:
                await asyncio.to_thread(self.seal_pending)
            except Exception as error:  # noqa: BLE001 - a busy store: try again on the next wake
                log.warning("sealer.failed", service=self.app.name, error=safe_error(error))
            await sleep_unless(stop, self.poll_seconds, self.wake)
