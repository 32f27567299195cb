"""Recorders that seal the log chain inside the transaction that inserts the events.

Each subclass adds, after eventsourcing inserted a save's events and knows their notification ids,
one link per event to the service's ``<service>_log_chain`` table, in the same transaction: an event
is never committed without its link, so an event without one was put there behind Ombud's back.
The insert is already serialised (SQLite's single writer; PostgreSQL's table lock in eventsourcing),
so reading the chain's head here is safe. Chosen by ``PROCESS_RECORDER_TOPIC`` in the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder

from shared.audit import chain
from shared.audit.seal import stored_hash


def new_links(previous: str, ids: Sequence[int], stored_events: Sequence[StoredEvent]) -> list[tuple[Any, ...]]:
    """Rows of the log chain for newly inserted events, continuing from ``previous``."""
    rows = []
    for nid, event in zip(ids, stored_events, strict=True):
        digest = stored_hash(event.state)
        oid = str(event.originator_id)
        previous = chain.log_link(previous, nid, oid, event.originator_version, digest)
        rows.append((nid, oid, event.originator_version, digest, previous))
    return rows


class SealedSQLiteProcessRecorder(SQLiteProcessRecorder):
    """SQLite process recorder that seals the log chain in the insert's transaction."""

    log_chain_table: str | None = None  # set by the application once the table exists

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if self.log_chain_table and ids:
            c.execute(f"SELECT chain_hash FROM {self.log_chain_table} ORDER BY notification_id DESC LIMIT 1")
            head = c.fetchone()
            c.executemany(
                f"INSERT INTO {self.log_chain_table} VALUES (?, ?, ?, ?, ?)",
                new_links(head[0] if head else chain.GENESIS, ids, stored_events),
            )
        return ids


class SealedPostgresProcessRecorder(PostgresProcessRecorder):
    """PostgreSQL process recorder that seals the log chain in the insert's transaction."""

    log_chain_table: str | None = None

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if self.log_chain_table and ids:
            curs.execute(f"SELECT chain_hash FROM {self.log_chain_table} ORDER BY notification_id DESC LIMIT 1")
            head = curs.fetchone()
            curs.executemany(
                f"INSERT INTO {self.log_chain_table} VALUES (%s, %s, %s, %s, %s)",
                new_links(head["chain_hash"] if head else chain.GENESIS, ids, stored_events),
            )
        return ids
