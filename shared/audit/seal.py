"""The log chain: each service's notification log, sealed link by link into a side table.

The links are written by the recorders of ``shared.audit.sealing`` in the transaction that inserts
the events; this module reads them. The verifier recomputes the chain from the events and compares;
signed checkpoints pin its head.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from shared.audit import chain
from shared.sidetables import SideTables


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

    def links(self, originator_ids: list[str] | None = None) -> list[Link]:
        """Every sealed link in order, or only those of the given streams."""
        sql = f"SELECT notification_id, originator_id, version, event_hash, chain_hash FROM {self.table}"
        params: list[Any] = []
        if originator_ids is not None:
            sql += f" WHERE originator_id IN ({', '.join('?' for _ in originator_ids)})"
            params = list(originator_ids)
        return [Link._make(row) for rows in self.side.stream(sql + " ORDER BY notification_id", params) for row in rows]
