"""Rebuilding feedback's read models from the services' notification logs, and how far behind each one is.

``rebuild(projections, settings)`` empties each projection (``Projection.reset``: its tables and its tracking), then
reads every service's notification log (intake, routing, resolution, feedback) from its first notification, side by
side, a page at a time, turns each page into the public messages the relays publish (``StoreLog.messages``: the same
``EventMessage`` as ``ServiceApplication.messages``), merges the four streams by recorded time and applies them,
``page`` messages at a time, to every projection with ``handle_batch``: one transaction per batch and projection,
one tracking row per message, as in live operation. The live consumer therefore skips what the rebuild applied and
the rebuild skips what the live consumer applied. Merging by time keeps a case's events from the four services
mostly in one batch: its rows are read, folded and written once instead of once per service (the read models fold
in any order, so the merge is only about speed).

The live consumer may keep running during a rebuild:

* a message it applies after the reset (a new one, or a redelivery) is tracked; when the rebuild reaches it, it is
  skipped (and vice versa), so each message is applied exactly once;
* every read model folds its events order-independently, so a view built from the new messages first and the old
  ones later is the view the old-then-new order makes;
* the two writers may collide on the same transaction (SQLite: "database is locked"; a tracking row inserted by
  both: an integrity error): the rebuild retries its page (already-tracked messages are skipped), the consumer
  falls back to one message at a time and NATS redelivers;
* until the rebuild has passed the old events the read models answer with partial data (a case may be missing
  events): run it when a partial answer for a while is acceptable, or stop the ``feedback-views`` consumer first.

``status(settings)`` gives, per projection and service, the highest notification id applied (``position``), the
service's head and the lag. The head is the last notification that carries a public message: internal events
(no contract) are never published, so never projected, and a settled projection shows a lag of 0.
"""

from __future__ import annotations

import gc
import heapq
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    InfrastructureFactory,
    JSONTranscoder,
    Notification,
    PersistenceError,
    ProcessRecorder,
    UUIDAsHex,
)
from eventsourcing.utils import Environment

from services.feedback.projections import PROJECTIONS, Projection
from shared.contracts import CONTRACTS, EventMessage
from shared.eventstore import ChainedMapper, SlowPath, fast_message, to_message
from shared.settings import Settings

# The services whose logs feed the read models, in the order they are replayed (services.system.SERVICES).
SERVICES = ("intake", "routing", "resolution", "feedback")
PAGE = 10_000
# Messages of each event type a StoreLog decodes both ways (fast_message and to_message) and compares.
CHECKED = 3
log = logging.getLogger(__name__)
# How often a page is applied again when a concurrent writer (the live consumer) made its transaction fail.
RETRIES = 10

Progress = Callable[[int, int], None]


class StoreLog:
    """One service's notification log, read without constructing the service's Application.

    The same recorder class and tables as the service (its settings' ``persistence_env``), the same mapper
    (``ChainedMapper`` with eventsourcing's default transcodings) and the same ``to_message``: the messages are
    those the service's relay publishes.
    """

    def __init__(self, service: str, settings: Settings) -> None:
        self.name = service
        env = settings.persistence_env(service)
        if "POSTGRES_POOL_SIZE" in env:
            # One reader on one thread: one connection, not the pool a service keeps (the live system may be
            # using most of the server's connections).
            env.update(POSTGRES_POOL_SIZE="1", POSTGRES_MAX_OVERFLOW="0")
        self.factory = InfrastructureFactory.construct(Environment(service, env))
        self.recorder: ProcessRecorder = self.factory.process_recorder()
        transcoder = self.factory.transcoder()
        if isinstance(transcoder, JSONTranscoder):
            # What Application.register_transcodings registers (no service adds any of its own).
            for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
                transcoder.register(transcoding)
        self.mapper = ChainedMapper(transcoder=transcoder)
        self.checked: dict[str, int] = {}  # topic -> messages decoded both ways and compared
        self.slow: set[str] = set()  # topics whose fast decode differed: decoded by to_message

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
        """The notifications after ``after``, ``size`` at a time, until the log's end (as it is when reached)."""
        while True:
            notifications = self.recorder.select_notifications(start=after, limit=size, inclusive_of_start=False)
            if not notifications:
                return
            yield notifications
            after = notifications[-1].id

    def messages(self, notifications: Sequence[Notification]) -> list[EventMessage]:
        """The public messages of the notifications, in order (internal events have none).

        Decoded by ``fast_message`` (no domain event, no validation of the whole payload); the first ``CHECKED``
        messages of each type are also decoded the service's way (``to_message``) and compared: a type whose two
        decodings differ is decoded the slow way from then on (and a warning logged).
        """
        found = []
        for notification in notifications:
            message = self.message(notification)
            if message is not None:
                found.append(message)
        return found

    def message(self, notification: Notification) -> EventMessage | None:
        topic = notification.topic
        if topic not in self.slow:
            try:
                message = fast_message(self.name, notification, self.mapper)
            except SlowPath:
                message = None
            else:
                if message is None:
                    return None
                if self.checked.get(topic, 0) >= CHECKED:
                    return message
                self.checked[topic] = self.checked.get(topic, 0) + 1
                if message == (slow := self.slow_message(notification)) and message.payload == slow.payload:
                    return message
                log.warning("%s: fast decode of %s differs from to_message; decoding it the slow way", self.name, topic)
                self.slow.add(topic)
        return self.slow_message(notification)

    def slow_message(self, notification: Notification) -> Any:
        return to_message(self.name, notification.id, self.mapper.to_domain_event(notification))

    def close(self) -> None:
        self.factory.close()


def is_public(topic: str) -> bool:
    """Whether events of this topic (``module:Class.Event``) have a contract, i.e. are published."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1] in CONTRACTS


@dataclass
class RebuildReport:
    """What one rebuild read and applied."""

    notifications: int = 0  # read from the logs
    messages: int = 0  # of them, public messages
    applied: dict[str, int] = field(default_factory=dict)  # per projection: messages it applied (not yet tracked)
    retries: int = 0  # pages applied again after a concurrent writer's conflict
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.notifications / self.seconds if self.seconds else 0.0


def projection_kinds(name: str | None) -> list[type[Projection]]:
    """The projection classes named (``None`` or ``all``: every one of ``PROJECTIONS``)."""
    if name in (None, "all"):
        return list(PROJECTIONS)
    kinds = [kind for kind in PROJECTIONS if kind.name == name]
    if not kinds:
        raise ValueError(f"unknown projection {name!r}; one of all, {', '.join(k.name for k in PROJECTIONS)}")
    return kinds


def rebuild(
    projections: Sequence[Projection],
    settings: Settings,
    progress: Progress | None = None,
    *,
    page: int = PAGE,
    services: Sequence[str] = SERVICES,
) -> RebuildReport:
    """Empty the projections, then apply every service's log to them, page by page, each page in one transaction
    per projection with its tracking rows. ``progress(done, total)`` counts notifications read."""
    started = time.perf_counter()
    report = RebuildReport(applied={p.name: 0 for p in projections})
    for projection in projections:
        projection.reset()
    with bulk(projections):
        _replay(projections, settings, report, progress, page, services)
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def bulk(projections: Sequence[Projection] = ()) -> Iterator[None]:
    """Settings for a bulk load, undone after it.

    * The garbage collector: what is alive before the rebuild (jieba's dictionary alone is hundreds of thousands of
      objects) is frozen out of its scans and it runs less often; a page makes millions of short-lived, acyclic
      objects that reference counting frees anyway. With the usual settings the decode alone ran 1.7× slower
      (collections kept walking the long-lived objects).
    * SQLite: the projections' commits do not wait for the disk (``PRAGMA synchronous = OFF`` on their connection,
      only around the rebuild's own transactions). A crash of the machine mid-rebuild may lose or corrupt the read
      model's file, never an event store: rebuild again (delete the projection's file first if it is corrupt).
    """
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    for projection in projections:
        projection.unsynced = True
    try:
        yield
    finally:
        for projection in projections:
            projection.unsynced = False
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _replay(
    projections: Sequence[Projection],
    settings: Settings,
    report: RebuildReport,
    progress: Progress | None,
    page: int,
    services: Sequence[str],
) -> None:
    total = sum(_heads(settings, services).values())
    logs = [StoreLog(name, settings) for name in services]  # one connection each, read side by side
    try:
        order = {name: i for i, name in enumerate(services)}

        def when(message: EventMessage) -> tuple[Any, int, int]:
            return message.envelope.recorded_at, order[message.service], message.notification_id

        def flush(batch: list[EventMessage]) -> None:
            for projection in projections:
                applied, retries = apply_page(projection, batch)
                report.applied[projection.name] += applied
                report.retries += retries
            report.messages += len(batch)
            if progress:
                progress(report.notifications, max(total, report.notifications))

        batch: list[EventMessage] = []
        for message in heapq.merge(*(_stream(log, page, report) for log in logs), key=when):
            batch.append(message)
            if len(batch) >= page:
                flush(batch)
                batch = []
        flush(batch)
    finally:
        for log in logs:
            log.close()


def _stream(log: StoreLog, page: int, report: RebuildReport) -> Iterator[EventMessage]:
    """A log's public messages, read and decoded a page at a time (counted in ``report.notifications``)."""
    for notifications in log.pages(size=page):
        report.notifications += len(notifications)
        yield from log.messages(notifications)


def apply_page(projection: Projection, messages: list[EventMessage]) -> tuple[int, int]:
    """Apply a page in one transaction, again after a concurrent writer's conflict; (applied, retries)."""
    if not messages:
        return 0, 0
    for attempt in range(RETRIES):
        try:
            return projection.handle_batch(messages), attempt
        except PersistenceError:
            if attempt == RETRIES - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 2.0))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Lag:
    """How far one projection is behind one service."""

    projection: str
    service: str
    position: int  # the highest notification id applied
    head: int  # the service's last notification with a public message

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


def status(
    settings: Settings, projections: Sequence[Projection] | None = None, services: Sequence[str] = SERVICES
) -> list[Lag]:
    """For each projection and service: position, head and lag (opens every projection unless given)."""
    heads = _heads(settings, services, public=True)
    opened = [kind(settings) for kind in PROJECTIONS] if projections is None else []
    try:
        rows = []
        for projection in projections if projections is not None else opened:
            positions = projection.positions()
            rows += [Lag(projection.name, name, positions.get(name, 0), heads[name]) for name in services]
        return rows
    finally:
        for projection in opened:
            projection.close()


def _heads(settings: Settings, services: Sequence[str], public: bool = False) -> dict[str, int]:
    """Each service's head: its last notification, or its last one with a public message."""
    heads = {}
    for name in services:
        log = StoreLog(name, settings)
        try:
            heads[name] = log.public_head() if public else log.head()
        finally:
            log.close()
    return heads


def settled(rows: list[Lag]) -> bool:
    """Whether every projection has applied every service's public messages."""
    return all(row.lag == 0 for row in rows)


def dump_tables(projection: Projection) -> dict[str, list[str]]:
    """Every table of a projection (and its tracking) as sorted text rows: equal dumps mean equal read models."""
    tables: dict[str, Any] = {short: table for short, table in projection.table.items()}
    tables["tracking"] = projection.side.tracking_table
    dumped = {}
    for short, table in sorted(tables.items()):
        rows = projection.side.query(f"SELECT * FROM {table}")
        dumped[short] = sorted(repr(sorted(row.items())) for row in rows)
    return dumped
