"""The services' notification logs as feedback reads them: for a rebuild (every public event as a ``Fact``) and for
the timeline (a case's events, by their notification ids).

``StoreLog`` opens one service's store with the service's own recorder class, tables and mapper (``ChainedMapper``),
without constructing the service's Application, and decodes each public event straight from its stored JSON into a
``Fact`` (``shared.publicjson``), checked against the service's own way (``to_message``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Notification, ProcessRecorder
from eventsourcing.utils import Environment
from psycopg.rows import tuple_row

from services.feedback.projections.facts import Fact
from shared.eventstore import reader_mapper, to_message
from shared.publicjson import SlowPath, public_json, public_type
from shared.settings import Settings
from shared.sidetables import SideTables

# The services whose logs feed the read models, in the order they are replayed (services.system.SERVICES).
SERVICES = ("intake", "routing", "resolution", "feedback")
PAGE = 10_000
# Notification ids a by-id read asks for in one statement.
CHUNK = 900
# Facts of each event type a StoreLog decodes both ways (public_json and to_message) and compares.
CHECKED = 3
log = logging.getLogger(__name__)


class StoreLog:
    """One service's notification log, read without constructing the service's Application.

    The same recorder class and tables as the service (its settings' ``persistence_env``), the same mapper
    (``ChainedMapper`` with eventsourcing's default transcodings) and the same ``to_message``: its facts are those of
    the messages the service's relay publishes.
    """

    def __init__(self, service: str, settings: Settings, create: bool = True, connections: int | None = 1) -> None:
        self.name = service
        # By default one reader on one thread: one connection, not the pool a service keeps (the live system may be
        # using most of the server's connections); ``connections=None``: the service's own pool size (the timeline's
        # reads, from the API's threads). ``create``: make the service's tables if missing (not in a rebuild's
        # workers: their parent did, and concurrent ``CREATE … IF NOT EXISTS`` may fail on PostgreSQL).
        env = settings.persistence_env(service, connections=connections)
        env["CREATE_TABLE"] = "yes" if create else "no"
        self.factory = InfrastructureFactory.construct(Environment(service, env))
        self.recorder: ProcessRecorder = self.factory.process_recorder()
        self.side = SideTables(self.recorder, service)
        self.mapper = reader_mapper(self.factory.transcoder())
        self.checked: dict[str, int] = {}  # type -> facts decoded both ways and compared
        self.slow: set[str] = set()  # types whose lean decode differed: decoded by to_message
        self.read = 0  # notifications read by ``facts``

    def head(self) -> int:
        """The highest notification id in the log (0 when empty)."""
        return int(self.recorder.max_notification_id() or 0)

    def public_head(self, scan: int = 200) -> int:
        """The highest notification id that has a public message (0 if none): the last one a projection can see."""
        stop = self.head()
        while stop > 0:
            start = max(1, stop - scan + 1)
            batch = self.recorder.select_notifications(start=start, limit=stop - start + 1, stop=stop)
            for notification in reversed(batch):
                if is_public(notification.topic):
                    return int(notification.id)
            stop = start - 1
        return 0

    def pages(self, after: int = 0, size: int = PAGE) -> Iterator[Sequence[Notification]]:
        """The notifications after ``after`` as eventsourcing reads them (``select_notifications``), ``size`` at a
        time, until the log's end (as it is when reached)."""
        while True:
            notifications = self.recorder.select_notifications(start=after, limit=size, inclusive_of_start=False)
            if not notifications:
                return
            yield notifications
            after = notifications[-1].id

    def rows(
        self, after: int = 0, size: int = PAGE, stop: int | None = None, part: Part | None = None
    ) -> Iterator[list[tuple[int, str, bytes]]]:
        """(notification id, topic, state) after ``after`` (up to ``stop``), ``size`` at a time, by a plain cursor,
        until the end; with ``part``, only the events whose case falls in it (``Part``, picked by the database)."""
        side, column = self.side, self.side.notification_id_column
        # No upper bound in SQL: with one, PostgreSQL may plan a bitmap scan and a sort (2.5 times as slow) where the
        # index gives the rows in order; a page past ``stop`` is cut here.
        where = f"{column} > ?" + (f" AND {part.sql(side.is_postgres)}" if part else "")
        sql = f"SELECT {column}, topic, state FROM {side.events_table} WHERE {where} ORDER BY {column} LIMIT ?"
        end = stop if stop is not None else 2**63 - 1
        while after < end:
            rows = self._select(sql, (after, size))
            if rows and rows[-1][0] > end:
                rows = [row for row in rows if row[0] <= end]
                after = end
            if not rows:
                return
            yield rows
            after = max(after, rows[-1][0])

    def facts(
        self, after: int = 0, size: int = PAGE, stop: int | None = None, part: Part | None = None
    ) -> Iterator[list[Fact]]:
        """The public facts after ``after`` (up to ``stop``), a page at a time; with ``part`` only the cases of that
        part. Every notification read counts in ``read``."""
        fact = self.fact
        for rows in self.rows(after, size, stop, part):
            self.read += len(rows)
            facts = [found for row in rows if (found := fact(*row)) is not None]
            if part is not None and not all(part.holds(found.case_id) for found in facts):
                raise AssertionError(f"{self.name}: a stored event's case read by the database is not its case")
            yield facts

    def facts_at(self, notification_ids: Sequence[int]) -> list[Fact]:
        """The public facts of these notifications (in the log's order)."""
        side, column = self.side, self.side.notification_id_column
        found: list[Fact] = []
        for start in range(0, len(notification_ids), CHUNK):
            ids = list(notification_ids[start : start + CHUNK])
            marks = ", ".join("?" for _ in ids)
            sql = f"SELECT {column}, topic, state FROM {side.events_table} WHERE {column} IN ({marks}) ORDER BY {column}"
            found += [fact for row in self._select(sql, ids) if (fact := self.fact(*row)) is not None]
        return found

    def _select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows as tuples, by a plain cursor (``?`` placeholders). On PostgreSQL a binary one: the states come as
        bytes, not as hex text to decode (three times as fast)."""
        datastore = self.side.datastore
        if self.side.is_postgres:
            with datastore.get_connection() as conn, conn.cursor(binary=True, row_factory=tuple_row) as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall()
        with datastore.transaction(commit=False) as wrapped:
            cursor = wrapped.sqlite_cursor
            cursor.execute(sql, params)
            return cursor.fetchall()

    def fact(self, notification_id: int, topic: str, state: bytes) -> Fact | None:
        """The fact of one stored event (None if it is not public). The first ``CHECKED`` of each type are also
        decoded the service's way (``to_message``) and compared: a type whose two decodings differ is decoded the slow
        way from then on (and a warning logged)."""
        try:
            found = public_json(topic, bytes(state), self.mapper)
        except SlowPath:
            return self.slow_fact(notification_id)
        if found is None:
            return None
        kind, envelope, payload = found
        if kind in self.slow:
            return self.slow_fact(notification_id)
        fact = Fact(self.name, notification_id, kind, envelope, payload)
        if self.checked.get(kind, 0) >= CHECKED:
            return fact
        self.checked[kind] = self.checked.get(kind, 0) + 1
        if fact == (slow := self.slow_fact(notification_id)):
            return fact
        log.warning("%s: lean decode of %s differs from to_message; decoding it the slow way", self.name, kind)
        self.slow.add(kind)
        return slow

    def slow_fact(self, notification_id: int) -> Fact | None:
        """The fact of one notification the way the service's relay makes its message."""
        (notification,) = self.recorder.select_notifications(start=notification_id, limit=1)
        message = to_message(self.name, notification.id, self.mapper.to_domain_event(notification))
        return None if message is None else Fact.of(message)

    def close(self) -> None:
        self.factory.close()


def is_public(topic: str) -> bool:
    """Whether events of this topic (``module:Class.Event``) have a contract, i.e. are published."""
    return public_type(topic) is not None


_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Part:
    """One of ``parts`` parts of the cases, by the first hex digit of the case id (part ``index`` holds the digits
    ``d`` with ``d * parts // 16 == index``): contiguous ranges, so part 0 holds the lowest ids. A rebuild's worker
    reads only its part's events: the database picks them from the stored bytes (the envelope's ``case_id`` is the
    state's first ``"case_id":"`` key: it follows ``timestamp``, ``originator_topic`` and the envelope's
    ``event_id``), and ``StoreLog.facts`` checks every decoded fact against it."""

    index: int
    parts: int

    def __post_init__(self) -> None:
        if not 1 <= self.parts <= 16 or not 0 <= self.index < self.parts:
            raise ValueError(f"part {self.index} of {self.parts}: 1 to 16 parts")

    @property
    def digits(self) -> str:
        return "".join(d for i, d in enumerate(_HEX) if i * self.parts // 16 == self.index)

    def holds(self, case_id: str) -> bool:
        """Whether a case (its id as text) is in this part."""
        return case_id[:1] in self.digits

    def sql(self, is_postgres: bool) -> str:
        """The condition on a stored event's ``state`` that it is about a case of this part."""
        low, high = self.digits[0], self.digits[-1]
        if is_postgres:
            first = """substring(state from position('"case_id":"'::bytea in state) + 11 for 1)"""
            return f"{first} BETWEEN '{low}'::bytea AND '{high}'::bytea"
        first = """CAST(substr(state, instr(state, '"case_id":"') + 11, 1) AS TEXT)"""
        return f"{first} BETWEEN '{low}' AND '{high}'"
