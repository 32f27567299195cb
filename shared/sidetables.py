"""Small plain tables beside a service's event store (relay position, parked messages).

They live in the same database as the service's events, reached through eventsourcing's own
datastore, so SQLite and PostgreSQL are handled alike. SQL is written with ``?`` placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import Recorder
from eventsourcing.postgres import PostgresDatastore

Runner = Callable[[str, Sequence[Any]], list[dict[str, Any]]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    """An aware instant as integer microseconds since the epoch: how side tables store instants (they sort and
    index alike on SQLite and PostgreSQL)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def instant(value: int | None) -> datetime | None:
    """The aware UTC instant of ``micros`` (None stays None)."""
    return None if value is None else _EPOCH + timedelta(microseconds=value)


# Write ``column LIKE ? ESCAPE '\'`` with ``containing(text)`` as the parameter (SQLite has no default escape).
LIKE_ESCAPE = "ESCAPE '\\'"


def containing(text: str) -> str:
    """A ``LIKE`` pattern matching values that contain ``text`` literally: its ``%`` and ``_`` are no wildcards."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SideTables:
    """Run SQL on the datastore behind an eventsourcing recorder."""

    def __init__(self, recorder: Recorder, prefix: str) -> None:
        self._on(recorder.datastore, prefix)  # type: ignore[attr-defined]
        if self.is_postgres:
            self.tracking_table = f"{self._qualifier}{recorder.tracking_table_name}"  # type: ignore[attr-defined]
        else:
            self.tracking_table = "tracking"
        # The event store's own table, read directly by the audit verifier (SQLite numbers rows by rowid).
        self.events_table = f"{self._qualifier}{getattr(recorder, 'events_table_name', '')}"
        self.notification_id_column = "notification_id" if self.is_postgres else "rowid"

    @classmethod
    def on(cls, datastore: Any, prefix: str) -> SideTables:
        """Side tables on a datastore that has no recorder of ours (a read model's store)."""
        tables = cls.__new__(cls)
        tables._on(datastore, prefix)
        return tables

    def _on(self, datastore: Any, prefix: str) -> None:
        self.datastore = datastore
        self.is_postgres = isinstance(datastore, PostgresDatastore)
        self.prefix = prefix
        schema = getattr(datastore, "schema", None) if self.is_postgres else None
        self._qualifier = f"{schema}." if schema else ""

    def table(self, name: str) -> str:
        """The qualified name of one of this service's side tables."""
        return f"{self._qualifier}{self.bare(name)}"

    def bare(self, name: str) -> str:
        """The name of one of this service's side tables without its schema (as ``ALTER TABLE … RENAME TO`` wants)."""
        return f"{self.prefix}_{name}"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one statement in its own write transaction; rows come back as dicts."""
        with self.transaction() as run:
            return run(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one read-only statement (no writer lock on SQLite)."""
        with self.transaction(commit=False) as run:
            return run(sql, params)

    def script(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
        """Run statements in one transaction; returns the last statement's rows."""
        rows: list[dict[str, Any]] = []
        with self.transaction() as run:
            for sql, params in statements:
                rows = run(sql, params)
        return rows

    @contextmanager
    def transaction(self, commit: bool = True) -> Iterator[Runner]:
        """One transaction; yields ``run(sql, params) -> rows`` for as many statements as needed."""
        with self.datastore.transaction(commit=commit) as wrapped:
            cursor = getattr(wrapped, "sqlite_cursor", wrapped)  # eventsourcing wraps sqlite3's cursor

            def run(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
                if self.is_postgres:
                    sql = sql.replace("?", "%s").replace("AUTOINCREMENT", "")
                    sql = sql.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY")
                cursor.execute(sql, list(params))
                description = getattr(cursor, "description", None)
                return [_as_dict(row, description) for row in cursor.fetchall()] if description else []

            yield run

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of one read-only query as tuples, ``size`` at a time (for reads too big to hold at once)."""
        with self.datastore.transaction(commit=False) as wrapped:
            cursor = getattr(wrapped, "sqlite_cursor", wrapped)
            if self.is_postgres:
                sql = sql.replace("?", "%s")
            cursor.execute(sql, list(params))
            while batch := cursor.fetchmany(size):
                yield [tuple(row.values()) for row in batch] if self.is_postgres else batch

    def has_tracking(self, upstream: str, notification_id: int, run: Runner | None = None) -> bool:
        """Whether this store already recorded the effect of that upstream notification.

        Pass ``run`` from ``transaction()`` to check inside a transaction that goes on to write.
        """
        sql = f"SELECT 1 AS done FROM {self.tracking_table} WHERE application_name = ? AND notification_id = ?"
        params = (upstream, notification_id)
        return bool(run(sql, params) if run else self.query(sql, params))


def _as_dict(row: Any, description: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return dict(row)
    return {column[0]: value for column, value in zip(description, row, strict=True)}
