"""Rebuilding feedback's read models from the services' notification logs, and how far behind each one is.

``rebuild(projections, settings)`` builds each projection anew **aside**, in tables of its own beside the live ones
(``Projection(aside=True)``), while the live read model keeps answering and the live consumer keeps writing to it;
then swaps each one in (``Projection.replace``):

1. **Bulk.** Every service's log (intake, routing, resolution, feedback) is read side by side from its first
   notification, a page at a time, with a plain cursor, each public event decoded straight into a ``Fact``
   (``logs.StoreLog``, ``shared.publicjson``: no domain event, no pydantic model). The logs' pages are taken in the
   order of their first events' recorded times (``interleave``), so a case's events arrive close together. Each case
   is folded in memory — the case's facts (``fold_case``) once for every read model that keeps them, then each read
   model's own fold — and written at the end, or when it leaves the cache (the first seen first, beyond ``cache``
   cases), in key order. Rows written once per event (the timeline, stopped clocks, survey answers) are held until
   then too (up to ``HELD``). The aside tables have no indexes yet, nobody else writes them, and on PostgreSQL rows no
   table holds yet are copied in (``COPY``). A case that left the cache and comes back is read back from the aside
   tables and folded on. From ``PARALLEL_FROM`` notifications the bulk is shared by worker processes, each given only
   its part of the cases by the database (``logs.Part``). Tracking: one watermark per service, the last notification
   read (every public message up to it is applied).
2. **Catch-up.** The logs' tails since the bulk read, applied as the live consumer applies a batch.
3. **Swap**, per projection, in one transaction holding the projection's writer lock (the live consumer waits for it):
   the last tail, then the live tables dropped, the aside ones renamed to their names, the indexes created.

Each message is therefore applied exactly once to the read model that ends up live, whatever the live consumer did
meanwhile: everything it applied is in the logs up to the swap, which the rebuild applied; anything it gets after the
swap that the rebuild applied is tracked (row or watermark) and skipped. Read models fold order-independently, so the
rebuilt tables are the live ones, byte for byte (tested).

``status(settings)`` gives, per projection and service, the highest notification id applied (``position``), the
service's head and the lag. The head is the last notification that carries a public message: internal events
(no contract) are never published, so never projected, and a settled projection shows a lag of 0.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import heapq
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from services.feedback.projections import PROJECTIONS, Projection
from services.feedback.projections.base import Rows, about_a_case, lock_key
from services.feedback.projections.facts import Fact, dump, fold_case
from services.feedback.projections.logs import PAGE, SERVICES, Part, StoreLog
from shared.settings import Settings

# Cases a bulk build (each worker) keeps folded in memory; beyond them the first seen are written out.
CACHE = 200_000
# Facts whose rows written once per event a bulk build keeps before writing them (then with the cases leaving the
# cache).
HELD = 500_000
# A catch-up applies the logs' tails this many messages a transaction; the swap applies the rest under its lock.
TAIL = 1_000
# Processes a bulk build uses at most, and the size of the logs (notifications) from which it uses more than one.
WORKERS = 2
PARALLEL_FROM = 100_000
log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class RebuildReport:
    """What one rebuild read and applied."""

    notifications: int = 0  # read from the logs by the bulk build
    messages: int = 0  # of them, public messages
    applied: dict[str, int] = field(default_factory=dict)  # per projection: messages applied (bulk, catch-up, swap)
    caught_up: int = 0  # messages recorded during the bulk build, applied by the catch-up and the swap
    workers: int = 1  # processes of the bulk build
    seconds: float = 0.0
    bulk_seconds: float = 0.0  # of them, the bulk build (with its workers' start)
    swap_seconds: float = 0.0  # the catch-up and the swaps (the indexes are built there)

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
    cache: int = CACHE,
    workers: int | None = None,
    services: Sequence[str] = SERVICES,
    outdated_only: bool = False,
) -> RebuildReport:
    """Build each projection anew aside from every service's log, catch up, and swap it in for the live one.

    ``workers``: processes that share the bulk build, each folding its part of the cases (default: one per core,
    up to ``WORKERS``, once the logs hold ``PARALLEL_FROM`` notifications; one below that, where starting them costs
    more than they save). ``progress(done, total)`` counts notifications read. ``outdated_only``: only the projections
    whose tables another version wrote (``Projection.outdated``), as found once this rebuild holds their lock."""
    with exclusive(settings, [p.name for p in projections]):
        if outdated_only:
            projections = [p for p in projections if p.outdated()]
            if not projections:
                return RebuildReport()
            log.warning("rebuilding read models written by another version: %s", ", ".join(p.name for p in projections))
        return _rebuild(projections, settings, progress, page, cache, workers, services)


def _rebuild(
    projections: Sequence[Projection],
    settings: Settings,
    progress: Progress | None,
    page: int,
    cache: int,
    workers: int | None,
    services: Sequence[str],
) -> RebuildReport:
    """``rebuild`` itself, under the lock its caller holds."""
    started = time.perf_counter()
    report = RebuildReport(applied={p.name: 0 for p in projections})
    stops = heads(settings, services)  # the bulk reads every log up to its head now; the catch-up does the rest
    if workers is None:
        workers = min(os.cpu_count() or 1, WORKERS) if sum(stops.values()) >= PARALLEL_FROM else 1
    report.workers = workers
    asides = [type(p)(settings, aside=True) for p in projections]
    try:
        for aside in asides:
            aside.drop()  # what an interrupted rebuild left
            aside.create()
        bulk_started = time.perf_counter()
        if workers > 1:
            _in_workers(asides, settings, stops, report, progress, page, cache, workers)
        else:
            with bulk(asides):
                Build(asides, cache).run(settings, stops, report, progress, page)
        report.bulk_seconds = time.perf_counter() - bulk_started

        def finish(aside: Projection) -> int:
            with aside.transaction() as run:
                aside.write(run, {"watermarks": [(name, at) for name, at in stops.items() if at]})
            applied = catch_up(aside, settings, stops)
            return applied + aside.replace(live=_live(projections, aside), tail=lambda at: _tail(settings, at))

        # Each projection is caught up and swapped in on a thread of its own (its own store and lock): most of a swap
        # is building indexes, which SQLite and PostgreSQL do without holding Python's lock.
        with ThreadPoolExecutor(max_workers=min(len(asides), os.cpu_count() or 1)) as threads:
            for aside, applied in zip(asides, threads.map(finish, asides), strict=True):
                report.applied[aside.name] += applied
                report.caught_up = max(report.caught_up, applied)
        report.swap_seconds = time.perf_counter() - bulk_started - report.bulk_seconds
    finally:
        for aside in asides:
            aside.close()
    report.seconds = time.perf_counter() - started
    return report


def rebuild_outdated(settings: Settings) -> list[str]:
    """Rebuild every projection whose tables another version of it wrote (after an upgrade that changed what a read
    model holds); returns their names. Run before the live consumer starts."""
    projections = [kind(settings) for kind in PROJECTIONS]
    try:
        return list(rebuild(projections, settings, outdated_only=True).applied)
    finally:
        for projection in projections:
            projection.close()


@contextmanager
def exclusive(settings: Settings, names: Sequence[str]) -> Iterator[None]:
    """One rebuild of these projections at a time, across processes (two would drop each other's aside tables): a
    session-level advisory lock per projection on PostgreSQL, an exclusive lock on a file per projection beside the
    SQLite stores; taken in name order, so two rebuilds of overlapping sets wait rather than deadlock."""
    ordered = sorted(set(names))
    if settings.postgres_url:
        with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
            for name in ordered:
                conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(f"{name}:rebuild"),))
            yield  # the locks go with the session
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:
        for name in ordered:
            handle = files.enter_context(open(settings.data_dir / f"{name}.rebuild.lock", "a"))
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _live(projections: Sequence[Projection], aside: Projection) -> Projection:
    return next(p for p in projections if p.name == aside.name)


def _in_workers(
    asides: Sequence[Projection],
    settings: Settings,
    stops: dict[str, int],
    report: RebuildReport,
    progress: Progress | None,
    page: int,
    cache: int,
    workers: int,
) -> None:
    """The bulk build in ``workers`` processes, each its part of the cases. Forked when this process runs no other
    thread (a worker then starts at once, with jieba's dictionary loaded), spawned otherwise (forking a process
    whose other threads may hold locks is unsafe)."""
    method = "fork" if threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    read = context.Array("q", workers, lock=False)  # notifications each worker has read, for the progress
    names = [aside.name for aside in asides]
    jobs = [(settings, names, stops, page, cache, Part(index, workers)) for index in range(workers)]
    with context.Pool(workers, initializer=_share, initargs=(read,)) as pool:
        pending = pool.starmap_async(_build_part, jobs)
        while not pending.ready():
            pending.wait(0.5)
            if progress:
                progress(sum(read), sum(stops.values()))
        for messages in pending.get():
            report.messages += messages
            for name in names:
                report.applied[name] += messages
    report.notifications = sum(stops.values())


_read: Any = None  # in a worker: the shared array of notifications read


def _share(read: Any) -> None:
    global _read
    _read = read


def _build_part(settings: Settings, names: list[str], stops: dict[str, int], page: int, cache: int, part: Part) -> int:
    """One worker's part of a bulk build (its cases only); returns how many messages it applied."""
    asides = [kind(settings, aside=True, create=False) for name in names for kind in projection_kinds(name)]
    report = RebuildReport(applied={name: 0 for name in names})
    try:
        with bulk(asides):

            def progress(done: int, total: int) -> None:
                _read[part.index] = done

            Build(asides, cache).run(settings, stops, report, progress, page, part)
    finally:
        for aside in asides:
            aside.close()
    return report.messages


@contextmanager
def bulk(projections: Sequence[Projection] = ()) -> Iterator[None]:
    """Settings for a bulk load, undone after it.

    * The garbage collector is off: what is alive before the rebuild (jieba's dictionary alone is hundreds of
      thousands of objects) is frozen out of its scans, and the bulk makes millions of acyclic objects that reference
      counting frees (the facts) or that live to its end (the cases): collections would only walk them. With the
      usual settings the decode alone ran 2.2× slower, with a higher threshold 1.2× slower. One collection at the end
      frees any cycle made meanwhile.
    * SQLite: the aside tables' commits do not wait for the disk (``PRAGMA synchronous = OFF`` on their connection,
      only around the bulk's own transactions). A crash of the machine mid-rebuild may lose or corrupt the aside
      tables, never the live read model or an event store: rebuild again. The swap commits durably.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    for projection in projections:
        projection.unsynced = True
    try:
        yield
    finally:
        for projection in projections:
            projection.unsynced = False
        if enabled:
            gc.enable()
        gc.unfreeze()
        gc.collect()


class Build:
    """The bulk build of aside projections: cases folded in memory and written when they leave the cache (the first
    seen first, beyond ``cache`` cases) or at the end, in key order; rows written once per event kept until
    ``HELD`` of them wait, then written with the cases leaving."""

    def __init__(self, asides: Sequence[Projection], cache: int) -> None:
        self.asides = list(asides)
        self.shares_case = any(p.keeps_case for p in asides)
        self.limit = cache
        self.cases: dict[str, list[Any]] = {}  # case id -> [the case's facts, each aside's state]; first seen first
        self.written: set[str] = set()  # cases written out at least once (their rows are in the aside tables)
        # Only what a read model does beyond the shared fold is called per fact.
        self.folds = [(p.fold, i) for i, p in enumerate(asides, start=1) if _defines(p, "fold")]
        self.emitting = [i for i, p in enumerate(asides) if _defines(p, "event_rows")]
        self.held: list[Rows] = []  # per aside, its per-event rows not written yet
        self.emits: list[tuple[Callable[[Fact], Any], Rows]] = []
        self.holding = 0  # facts whose per-event rows are held
        self._hold()

    def run(
        self,
        settings: Settings,
        stops: dict[str, int],
        report: RebuildReport,
        progress: Progress | None,
        page: int = PAGE,
        part: Part | None = None,
    ) -> None:
        """Read every log up to ``stops`` into the asides (with ``part``: only that part of the cases)."""
        total = sum(stops.values())
        # One connection each, read side by side (a worker's parent made any missing table).
        logs = [StoreLog(name, settings, create=part is None) for name in stops]
        try:
            for facts in interleave([log.facts(size=page, stop=stops[log.name], part=part) for log in logs]):
                self.add(facts, report)
                if progress:
                    progress(sum(log.read for log in logs), total)
            self.flush(list(self.cases))
            report.notifications = sum(log.read for log in logs)
        finally:
            for log in logs:
                log.close()
        if progress:
            progress(report.notifications, total)

    def add(self, facts: list[Fact], report: RebuildReport) -> None:
        """Fold one page of facts; write the cases that leave the cache."""
        report.messages += len(facts)
        for name in report.applied:
            report.applied[name] += len(facts)
        cases, asides, shares, folds, emits = self.cases, self.asides, self.shares_case, self.folds, self.emits
        about = [fact for fact in facts if about_a_case(fact.type)]
        self._load({fact.case_id for fact in about if fact.case_id not in cases and fact.case_id in self.written})
        for fact in about:
            entry = cases.get(fact.case_id)
            if entry is None:
                entry = cases[fact.case_id] = [None, *(p.new_state() for p in asides)]
            if shares:
                case = fold_case(entry[0], fact)  # in place, but a new dict for a new case
                if case is not entry[0]:
                    entry[0] = case
                    for projection, state in zip(asides, entry[1:], strict=True):
                        if projection.keeps_case:
                            state["case"] = case
            for fold, i in folds:
                fold(entry[i], fact)
            for emit, held in emits:
                for short, row in emit(fact):
                    held[short].append(row)
        self.holding += len(about)
        if len(cases) > self.limit or self.holding >= HELD:
            self.flush(list(itertools.islice(cases, max(len(cases) - self.limit, 0))))

    def flush(self, case_ids: list[str]) -> None:
        """Write these cases and the rows held, each aside in one transaction; the cases leave the cache."""
        fresh = self._hold()
        again: list[Rows] = [defaultdict(list) for _ in self.asides]
        for case_id in sorted(case_ids):  # in key order: the case tables' keys are written in sequence
            entry = self.cases.pop(case_id)
            doc = dump(entry[0]) if self.shares_case else None
            target = again if case_id in self.written else fresh
            for projection, state, found in zip(self.asides, entry[1:], target, strict=True):
                for short, row in projection.case_rows(case_id, state, doc):
                    found[short].append(row)
            self.written.add(case_id)
        for projection, new, old in zip(self.asides, fresh, again, strict=True):
            if new or old:
                with projection.transaction() as run:
                    projection.write(run, new, fresh=True)
                    projection.write(run, old)

    def _hold(self) -> list[Rows]:
        """Start holding per-event rows anew; returns those held until now."""
        held, self.held, self.holding = self.held, [defaultdict(list) for _ in self.asides], 0
        self.emits = [(self.asides[i].event_rows, self.held[i]) for i in self.emitting]
        return held

    def _load(self, case_ids: set[str]) -> None:
        """Read back cases written out before (they left the cache and come back)."""
        if not case_ids:
            return
        ids = sorted(case_ids)
        entries: dict[str, list[Any]] = {case_id: [None] for case_id in ids}
        for projection in self.asides:
            with projection.transaction() as run:
                states = projection.load(run, ids)
            for case_id in ids:
                state = states[case_id]
                if projection.keeps_case and entries[case_id][0] is None:
                    entries[case_id][0] = state["case"]
                entries[case_id].append(state)
        for case_id, entry in entries.items():
            for projection, state in zip(self.asides, entry[1:], strict=True):
                if projection.keeps_case:
                    state["case"] = entry[0]  # one dict for all of them: folded once
            self.cases[case_id] = entry


def interleave(streams: Sequence[Iterator[list[Fact]]]) -> Iterator[list[Fact]]:
    """The pages of several logs, the page whose first fact was recorded earliest first: a case's events, spread over
    the logs, come close together (page by page, not fact by fact: the folds do not depend on the order)."""
    heap: list[tuple[str, int, list[Fact]]] = []

    def next_page(index: int) -> None:
        for facts in streams[index]:
            if facts:
                heapq.heappush(heap, (facts[0].at.stamp, index, facts))
                return

    for index in range(len(streams)):
        next_page(index)
    while heap:
        _, index, facts = heapq.heappop(heap)
        yield facts
        next_page(index)


def _defines(projection: Projection, method: str) -> bool:
    """Whether the read model has its own ``method`` (the base's does nothing)."""
    return getattr(type(projection), method) is not getattr(Projection, method)


def catch_up(projection: Projection, settings: Settings, positions: dict[str, int]) -> int:
    """Apply the logs' messages after ``positions`` (one per service) as the live consumer does (``TAIL`` a
    transaction)."""
    return sum(projection.handle_batch(facts) for facts in _facts_after(settings, positions, TAIL))


def _tail(settings: Settings, positions: dict[str, int]) -> list[Fact]:
    """Every service's facts after ``positions`` (one per service)."""
    return [fact for facts in _facts_after(settings, positions, PAGE) for fact in facts]


def _facts_after(settings: Settings, positions: dict[str, int], size: int) -> Iterator[list[Fact]]:
    """Each service's facts after its position, ``size`` at a time, service after service."""
    for name, after in positions.items():
        # The tables exist (the rebuild read the heads first); swaps on several threads must not create them at once.
        log = StoreLog(name, settings, create=False)
        try:
            yield from log.facts(after=after, size=size)
        finally:
            log.close()


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
    found = heads(settings, services, public=True)
    opened = [kind(settings) for kind in PROJECTIONS] if projections is None else []
    try:
        rows = []
        for projection in projections if projections is not None else opened:
            positions = projection.positions()
            rows += [Lag(projection.name, name, positions.get(name, 0), found[name]) for name in services]
        return rows
    finally:
        for projection in opened:
            projection.close()


def heads(settings: Settings, services: Sequence[str], public: bool = False) -> dict[str, int]:
    """Each service's head: its last notification, or its last one with a public message."""
    found = {}
    for name in services:
        log = StoreLog(name, settings)
        try:
            found[name] = log.public_head() if public else log.head()
        finally:
            log.close()
    return found


def settled(rows: list[Lag]) -> bool:
    """Whether every projection has applied every service's public messages."""
    return all(row.lag == 0 for row in rows)
