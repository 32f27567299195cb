"""The base of every read model: a store of its own with its own tracking, so it can be dropped and rebuilt.

A projection applies messages exactly once: each fetched batch in one transaction, with one tracking row per message
(upstream service, notification id), skipping the ones it already has. ``reset`` drops its tables and tracking;
replaying every service's notification log then rebuilds it (``services.feedback.rebuild``).

A batch costs a handful of statements, whatever its size: one look-up of the batch's tracking rows, one read of the
cases it touches (``preload``, ``WHERE case_id IN (...)``), the folds in memory, one ``executemany`` per table written
and one of the tracking rows. On PostgreSQL the transaction first takes a transaction-level advisory lock keyed by the
projection's name, so two writers of one projection (the live consumer and a rebuild) never interleave their
read-fold-write of the same row under READ COMMITTED; SQLite serialises writers by itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment

from shared.contracts import CONTRACTS, EventMessage
from shared.settings import Settings
from shared.sidetables import Runner, SideTables

# Parameters a statement of ours binds at most (SQLite's limit is 32,766 since 3.32; PostgreSQL's 65,535).
CHUNK = 900


@functools.lru_cache(maxsize=65_536)
def case_key(case_id: UUID) -> str:
    """A case id as the read models key it (``str``), cached: every projection asks for it for every message."""
    return str(case_id)


# The form every read model stores its documents in: sorted keys, no spaces, UTF-8 kept (one encoder, made once).
dump = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``, from a projection's name."""
    return int.from_bytes(hashlib.sha256(f"ombud-projection:{name}".encode()).digest()[:8], "big", signed=True)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BatchRunner:
    """``run(sql, params) -> rows`` (a ``Runner``) plus ``many(sql, rows)``: executemany, in one transaction."""

    def __init__(self, cursor: Any, is_postgres: bool) -> None:
        self.cursor = cursor
        self.is_postgres = is_postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.is_postgres else sql

    def __call__(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.cursor
        cursor.execute(self._sql(sql), list(params))
        description = getattr(cursor, "description", None)
        if not description:
            return []
        rows = cursor.fetchall()
        if rows and isinstance(rows[0], dict):
            return [dict(row) for row in rows]
        names = [column[0] for column in description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def where_in(self, sql: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """``sql`` with ``{marks}`` for an IN list, run once per chunk of ``values``; every chunk's rows."""
        found: list[dict[str, Any]] = []
        for part in chunks(list(values)):
            found += self(sql.format(marks=", ".join("?" * len(part))), part)
        return found


class Projection:
    """A read model. Subclasses give ``name``, ``tables`` (name -> CREATE statement with ``{table}``), ``indexes``
    and ``apply``; ``begin``/``preload``/``finish`` hold state across one batch (each case read once, in one
    query for the batch, and written once)."""

    name: ClassVar[str]
    tables: ClassVar[dict[str, str]] = {}
    indexes: ClassVar[list[str]] = []

    def __init__(self, settings: Settings) -> None:
        env = Environment(self.name, settings.persistence_env(self.name))
        self.factory = InfrastructureFactory.construct(env)
        self.recorder: TrackingRecorder = self.factory.tracking_recorder()
        self.side = SideTables(self.recorder, self.name)
        self.table = {short: self.side.table(short) for short in self.tables}
        self.lock_key = lock_key(self.name)
        # Set by a rebuild on its own projections (SQLite): commits without waiting for the disk (see rebuild).
        self.unsynced = False
        self.create()

    def create(self) -> None:
        """Create the tables and indexes if they are missing."""
        statements = [ddl.format(table=self.table[short]) for short, ddl in self.tables.items()]
        statements += [ddl.format(prefix=self.name, **self.table) for ddl in self.indexes]
        self.side.script([(sql, ()) for sql in statements])

    # --- applying -------------------------------------------------------------------------------------------

    def begin(self) -> Any:
        """State for one batch (None by default)."""
        return None

    def preload(self, run: BatchRunner, case_ids: list[str], batch: Any) -> None:
        """Read the stored state of the batch's cases into ``batch`` at once (nothing by default)."""

    def apply(self, run: Runner, message: EventMessage, batch: Any) -> None:
        """Apply one new message inside the batch's transaction."""
        raise NotImplementedError

    def finish(self, run: Runner, batch: Any) -> None:
        """Write what the batch gathered, still inside its transaction."""

    def handle(self, message: EventMessage) -> bool:
        """Project one message exactly once (one transaction); False if it was already projected."""
        return self.handle_batch([message]) == 1

    @contextmanager
    def transaction(self) -> Iterator[BatchRunner]:
        """One write transaction of this projection; on PostgreSQL holding the projection's advisory lock."""
        if self.unsynced and not self.side.is_postgres:
            with self._unsynced_transaction() as run:
                yield run
            return
        with self.side.datastore.transaction(commit=True) as wrapped:
            run = BatchRunner(getattr(wrapped, "sqlite_cursor", wrapped), self.side.is_postgres)
            if self.side.is_postgres:
                run("SELECT pg_advisory_xact_lock(?)", (self.lock_key,))
            yield run

    @contextmanager
    def _unsynced_transaction(self) -> Iterator[BatchRunner]:
        """SQLite: one write transaction that commits without waiting for the disk (``synchronous`` is a setting of
        the connection that cannot change inside a transaction: set before it, put back after it)."""
        with self.side.datastore.get_connection(commit=True) as conn:
            raw = conn._sqlite_conn  # noqa: SLF001 (eventsourcing keeps sqlite3's connection there)
            before = int(raw.execute("PRAGMA synchronous").fetchone()[0])
            raw.execute("PRAGMA synchronous = OFF")
            try:
                with conn.transaction(commit=True) as wrapped:
                    yield BatchRunner(wrapped.sqlite_cursor, False)
            finally:
                raw.execute(f"PRAGMA synchronous = {before}")

    def handle_batch(self, messages: list[EventMessage]) -> int:
        """Project messages in order, each exactly once, all in one transaction; returns how many were new."""
        if not messages:
            return 0
        track = f"INSERT INTO {self.side.tracking_table} (application_name, notification_id) VALUES (?, ?)"
        with self.transaction() as run:
            done = self.tracked(run, messages)
            new = []
            for message in messages:
                key = (message.service, message.notification_id)
                if key in done:
                    continue
                done.add(key)  # a message twice in one batch: applied once
                new.append(message)
            if new:
                batch = self.begin()
                about = [message for message in new if _about_a_case(message)]
                if about:
                    self.preload(run, list(dict.fromkeys(case_key(m.envelope.case_id) for m in about)), batch)
                for message in about:
                    self.apply(run, message, batch)
                run.many(track, [(message.service, message.notification_id) for message in new])
                self.finish(run, batch)
        return len(new)

    def tracked(self, run: BatchRunner, messages: Sequence[EventMessage]) -> set[tuple[str, int]]:
        """Which of the messages' (service, notification id) this projection has already applied: per service one
        range query when the ids are dense (a rebuild's page), else chunked ``IN`` look-ups."""
        by_service: dict[str, list[int]] = {}
        for message in messages:
            by_service.setdefault(message.service, []).append(message.notification_id)
        done: set[tuple[str, int]] = set()
        table = self.side.tracking_table
        for service, ids in by_service.items():
            wanted = set(ids)
            low, high = min(wanted), max(wanted)
            if high - low + 1 <= 4 * len(wanted):
                rows = run(
                    f"SELECT notification_id FROM {table} WHERE application_name = ? "
                    "AND notification_id >= ? AND notification_id <= ?",
                    (service, low, high),
                )
            else:
                rows = []
                for part in chunks(sorted(wanted)):
                    rows += run(
                        f"SELECT notification_id FROM {table} WHERE application_name = ? "
                        f"AND notification_id IN ({', '.join('?' * len(part))})",
                        (service, *part),
                    )
            done.update((service, int(row["notification_id"])) for row in rows if int(row["notification_id"]) in wanted)
        return done

    # --- operations -----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop every row of the read model and its tracking: it is empty, ready to be rebuilt."""
        with self.transaction() as run:  # the lock too: not in the middle of a live batch
            for table in [*self.table.values(), self.side.tracking_table]:
                run(f"DELETE FROM {table}")

    def positions(self) -> dict[str, int]:
        """Per upstream service, the highest notification id applied."""
        rows = self.side.query(
            f"SELECT application_name AS service, MAX(notification_id) AS position FROM {self.side.tracking_table} "
            "GROUP BY application_name"
        )
        return {row["service"]: int(row["position"]) for row in rows}

    def close(self) -> None:
        self.factory.close()


def _about_a_case(message: EventMessage) -> bool:
    # Recall campaigns and notices carry their own id as the case id: no case read model shows them (tracked only).
    contract = CONTRACTS.get(message.type)
    return contract is None or contract.about_case
