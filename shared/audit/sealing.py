"""Recorders that seal the log chain inside the transaction that inserts the events.

They also run a save's ``side_writes`` (``app.save(..., side_writes=[(sql, params), ...])``, SQL
with ``?`` placeholders) in that transaction: rows that must exist exactly when the events do,
such as the data keys the events' personal data is sealed with.

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


def _append(cursor: Any, table: str, placeholder: str, ids: Sequence[int], events: Sequence[StoredEvent]) -> None:
    cursor.execute(f"SELECT chain_hash FROM {table} ORDER BY notification_id DESC LIMIT 1")
    head = cursor.fetchone()
    previous = (head["chain_hash"] if isinstance(head, dict) else head[0]) if head else chain.GENESIS
    marks = ", ".join([placeholder] * 5)
    cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", new_links(previous, ids, events))


class SealedSQLiteProcessRecorder(SQLiteProcessRecorder):
    """SQLite process recorder that seals the log chain in the insert's transaction."""

    log_chain_table: str | None = None  # set by the application once the table exists

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        for sql, params in kwargs.get("side_writes", ()):
            c.execute(sql, params)
        ids = super()._insert_events(c, stored_events, **kwargs)
        if self.log_chain_table and ids:
            _append(c, self.log_chain_table, "?", ids, stored_events)
        return ids


class SealedPostgresProcessRecorder(PostgresProcessRecorder):
    """PostgreSQL process recorder that seals the log chain in the insert's transaction."""

    log_chain_table: str | None = None

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        for sql, params in kwargs.get("side_writes", ()):
            curs.execute(sql.replace("?", "%s"), params)
        super()._insert_events(curs, stored_events, **kwargs)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if self.log_chain_table and ids:
            _append(curs, self.log_chain_table, "%s", ids, stored_events)
        return ids
