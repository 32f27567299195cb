"""Projection rebuild benchmark (issue 8): feedback's read models rebuilt from the services' logs, beside the raw
read rate of the same logs measured in the same run.

    .venv/bin/python bench/rebuild.py                 # 1,000,000 events in temporary SQLite files
    .venv/bin/python bench/rebuild.py -n 200000 --postgres-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/rebuild.py --projection feedback_views
    .venv/bin/python bench/rebuild.py --parts 4 8     # also: what 4 or 8 cores would give (a projection)

It records N events in the four services' stores (intake, routing, resolution, feedback), through each service's
``ServiceApplication`` save (``ChainedMapper``, sealing recorder: the stores as the services write them), 8 events a
case in the shapes the pipeline makes, under the contracts' type names and fields:

    intake      ComplaintReceived
    routing     ComplaintTriaged, CaseAssigned, ClockStarted (acknowledge), ClockStarted (resolve),
                ClockStopped (acknowledge)
    resolution  ResolutionOpened
    feedback    AcknowledgementPrepared

Then it measures, in this order, on the same stores:

* **raw read**: every notification of every service through eventsourcing's ``recorder.select_notifications``,
  10,000 a page, nothing decoded: the substrate every ratio is taken against (the faster of two runs, the second
  under the rebuild's ``bulk`` garbage-collector settings);
* **lean read**: the same rows through the rebuild's own plain cursor (``StoreLog.rows``), nothing decoded;
* **decode**: the same rows turned into facts (``StoreLog.facts``), nothing applied;
* **rebuild**: ``services.feedback.rebuild.rebuild`` of ``--projection`` (default every projection) onto empty read
  models, then again over the full ones it made (the usual case: the old tables are dropped at the swap);
* with the default ``all``, also the case view and timeline alone (``feedback_views``), over full ones;
* with ``--parts K …``, the bulk build of one part of K of the cases timed alone in this process: what each of K
  workers would do on a machine with K cores. The rate it prints for K cores (those parts side by side, then the swap
  measured above) is a projection, not a measurement: it leaves out what K workers would share (each SQLite file's
  write lock, the database server's processor).

With PostgreSQL a fresh schema is made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.feedback.projections import CaseViews, ReadModels
from services.feedback.projections.logs import PAGE, SERVICES, Part, StoreLog
from services.feedback.rebuild import CACHE, Build, RebuildReport, bulk, heads, projection_kinds, rebuild
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.eventstore import CaseAggregate, EventContext, ServiceApplication, aggregate_id
from shared.settings import Settings
from shared.vocabulary import Role

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
PER_CASE = 8
BATCH = 500  # cases a save
STORES = ["SH-001", "SH-011", "SH-021", "SH-041", "HZ-001", "HZ-011", "HZ-021", "HZ-041"]
CATEGORIES = [("product_quality", "breakage"), ("price", "overcharge"), ("service", "attitude"), ("product_quality", None)]
TEXT = "顾客反映手镯戴了一周就断了，门店已登记并拍照，要求退货或换货。"
CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")
SYSTEM = Actor(id="system", role=Role.SYSTEM)


class IntakeCase(CaseAggregate):
    class ComplaintReceived(CaseAggregate.Created):
        case_number: str
        channel: str
        store_id: str
        customer_id: uuid.UUID
        description: str
        amount_paid: Decimal
        sku: str
        language: str

    def __init__(
        self,
        envelope: dict[str, Any],
        case_number: str,
        channel: str,
        store_id: str,
        customer_id: uuid.UUID,
        description: str,
        amount_paid: Decimal,
        sku: str,
        language: str,
    ) -> None:
        pass


class RoutingCase(CaseAggregate):
    class ComplaintTriaged(CaseAggregate.Created):
        category: str
        subcategory: str | None
        confidence: Decimal
        matched_terms: list[str]
        severity: str
        severity_reasons: list[str]

    def __init__(
        self,
        envelope: dict[str, Any],
        category: str,
        subcategory: str | None,
        confidence: Decimal,
        matched_terms: list[str],
        severity: str,
        severity_reasons: list[str],
    ) -> None:
        pass

    class CaseAssigned(CaseAggregate.Event):
        team: str
        queue: str
        assignee: str | None
        tier: str
        rule: str | None
        reason: str

    class ClockStarted(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str

    class ClockStopped(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str
        met: bool


class ResolutionCase(CaseAggregate):
    class ResolutionOpened(CaseAggregate.Created):
        category: str
        subcategory: str | None
        severity: str

    def __init__(self, envelope: dict[str, Any], category: str, subcategory: str | None, severity: str) -> None:
        pass


class FeedbackCase(CaseAggregate):
    class AcknowledgementPrepared(CaseAggregate.Created):
        case_number: str
        language: str
        template: str

    def __init__(self, envelope: dict[str, Any], case_number: str, language: str, template: str) -> None:
        pass


class Store(ServiceApplication):
    """A service's store, written as the service writes it (the service's name, its recorder and mapper)."""


def stores(settings: Settings) -> dict[str, Store]:
    return {name: type(f"{name.title()}Store", (Store,), {"name": name})(settings, ManualClock()) for name in SERVICES}


def clock(name: str, started: datetime, hours: int, stopped: datetime | None = None) -> dict[str, Any]:
    due = started + timedelta(hours=hours)
    doc = {
        "name": name,
        "mode": "calendar",
        "started_at": started.isoformat(),
        "duration": f"PT{hours}H",
        "due_at": due.isoformat(),
        "paused_total": "PT0S",
        "paused_since": None,
        "stopped_at": stopped.isoformat() if stopped else None,
    }
    return doc


DISTINCT = False  # --distinct-texts: every complaint's text differs (the library scrubs each one; no cache hit)


def case_events(n: int) -> dict[str, Any]:
    """The aggregates of one case, one per service, with its 8 events pending."""
    case_id = uuid.uuid4()
    at = T0 + timedelta(seconds=37 * n)
    category, subcategory = CATEGORIES[n % len(CATEGORIES)]
    store = STORES[n % len(STORES)]
    correlation = uuid.uuid4()

    def ctx(service: str, seconds: int, actor: Actor = CLERK) -> EventContext:
        return EventContext(
            case_id=case_id,
            actor=actor,
            service=service,
            recorded_at=at + timedelta(seconds=seconds),
            correlation_id=correlation,
        )

    intake = IntakeCase._start(
        IntakeCase.ComplaintReceived,
        aggregate_id(case_id, "intake"),
        ctx("intake", 0),
        case_number=f"C{n:09d}",
        channel="store",
        store_id=store,
        customer_id=uuid.uuid4(),
        description=f"{TEXT[:-1]}，第{n}次来电。" if DISTINCT else TEXT,
        amount_paid=Decimal("3980.00"),
        sku=f"SKU-{n % 97:03d}",
        language="zh",
    )
    c = ctx("routing", 1, SYSTEM)
    routing = RoutingCase._start(
        RoutingCase.ComplaintTriaged,
        aggregate_id(case_id, "routing"),
        c,
        category=category,
        subcategory=subcategory,
        confidence=Decimal("0.82"),
        matched_terms=["断了", "退货"],
        severity="general",
        severity_reasons=[],
    )
    team = f"store-{store}"
    routing._record(
        RoutingCase.CaseAssigned,
        c,
        team=team,
        queue=f"{team}/frontline",
        assignee=f"{store}-F1",
        tier="frontline",
        rule="store",
        reason="the store the complaint was made at",
    )
    routing._record(RoutingCase.ClockStarted, c, clock=clock("acknowledge", c.recorded_at, 24), reason="received")
    routing._record(RoutingCase.ClockStarted, c, clock=clock("resolve", c.recorded_at, 168), reason="received")
    stopped = ctx("routing", 600, CLERK)
    routing._record(
        RoutingCase.ClockStopped,
        stopped,
        clock=clock("acknowledge", c.recorded_at, 24, stopped.recorded_at),
        reason="acknowledged",
        met=True,
    )
    resolution = ResolutionCase._start(
        ResolutionCase.ResolutionOpened,
        aggregate_id(case_id, "resolution"),
        ctx("resolution", 2, SYSTEM),
        category=category,
        subcategory=subcategory,
        severity="general",
    )
    feedback = FeedbackCase._start(
        FeedbackCase.AcknowledgementPrepared,
        aggregate_id(case_id, "feedback"),
        ctx("feedback", 3, SYSTEM),
        case_number=f"C{n:09d}",
        language="zh",
        template="acknowledgement",
    )
    return {"intake": intake, "routing": routing, "resolution": resolution, "feedback": feedback}


def record(apps: dict[str, Store], events: int) -> tuple[int, float]:
    """Record about ``events`` events (whole cases); returns (events, seconds)."""
    cases = max(events // PER_CASE, 1)
    started = last = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for n in range(1, cases + 1):
        batch.append(case_events(n))
        if len(batch) == BATCH or n == cases:
            for name, app in apps.items():
                app.save(*[case[name] for case in batch])
            batch = []
            now = time.perf_counter()
            if now - last >= 10 or n == cases:
                last = now
                print(f"  recorded {n * PER_CASE:>10,} events  {now - started:7.1f} s", flush=True)
    return cases * PER_CASE, time.perf_counter() - started


def each_log(
    settings: Settings, pages: Callable[[StoreLog], Iterator[Sequence[Any]]], bulk_settings: bool = True
) -> tuple[int, float]:
    """(items, seconds): every service's log read page by page by ``pages`` (under the rebuild's ``bulk`` settings
    unless told), counting what the pages hold."""
    count = 0
    started = time.perf_counter()
    with bulk() if bulk_settings else contextlib.nullcontext():
        for name in SERVICES:
            log = StoreLog(name, settings)
            try:
                count += sum(len(page) for page in pages(log))
            finally:
                log.close()
    return count, time.perf_counter() - started


def raw_read(log: StoreLog) -> Iterator[Sequence[Any]]:
    """Every notification through eventsourcing's ``select_notifications``, nothing decoded."""
    return log.pages(size=PAGE)


def lean_read(log: StoreLog) -> Iterator[Sequence[Any]]:
    """Every stored row through the rebuild's plain cursor, nothing decoded."""
    return log.rows(size=PAGE)


def decode(log: StoreLog) -> Iterator[Sequence[Any]]:
    """The same rows turned into facts (``StoreLog.facts``: the rebuild's decode), nothing applied."""
    return log.facts(size=PAGE)


def timed_rebuild(settings: Settings, name: str | None, workers: int | None) -> RebuildReport:
    models = ReadModels(settings, projection_kinds(name))
    try:
        last = [time.perf_counter()]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 15:
                last[0] = now
                print(f"    {name or 'all'}: {done:>10,} / {total:,}", flush=True)

        return rebuild(list(models.by_name.values()), settings, progress, workers=workers)
    finally:
        models.close()


def one_part(settings: Settings, name: str, parts: int) -> float:
    """Seconds the bulk build of one part of ``parts`` takes alone, in this process, into fresh aside tables (dropped
    after): what each of ``parts`` workers would do on as many cores, without the others' share of the machine."""
    asides = [kind(settings, aside=True) for kind in projection_kinds(None if name == "all" else name)]
    try:
        for aside in asides:
            aside.drop()
            aside.create()
        stops = heads(settings, SERVICES)
        report = RebuildReport(applied={aside.name: 0 for aside in asides})
        started = time.perf_counter()
        with bulk(asides):
            Build(asides, CACHE).run(settings, stops, report, None, PAGE, Part(0, parts))
        return time.perf_counter() - started
    finally:
        for aside in asides:
            aside.drop()
            aside.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--events", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", help="use a throw-away schema of this PostgreSQL instead of SQLite")
    parser.add_argument("--projection", default="all", help="a projection's name, or all (then also feedback_views)")
    parser.add_argument("--distinct-texts", action="store_true", help="a different complaint text for every case")
    parser.add_argument("--workers", type=int, help="processes of the bulk build (default: the rebuild's own choice)")
    parser.add_argument("--parts", type=int, nargs="*", default=[],
                        help="also time one part of K of the bulk alone, for a machine with K cores")  # fmt: skip
    args = parser.parse_args()
    global DISTINCT
    DISTINCT = args.distinct_texts
    store = "postgresql" if args.postgres_url else "sqlite"
    with tempfile.TemporaryDirectory(prefix="ombud-bench-rebuild-") as tmp:
        schema = f"bench_{uuid.uuid4().hex[:8]}" if args.postgres_url else None
        if schema:
            import psycopg

            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
        settings = Settings(mode="embedded", data_dir=Path(tmp), postgres_url=args.postgres_url, postgres_schema=schema)
        try:
            apps = stores(settings)
            try:
                events, seconds = record(apps, args.events)
            finally:
                for app in apps.values():
                    app.close()
            print(f"recorded {events:,} events ({events // PER_CASE:,} cases) in {seconds:.1f} s ({events / seconds:,.0f}/s)")
            count, plain_s = each_log(settings, raw_read, bulk_settings=False)
            assert count == events, (count, events)
            plain = count / plain_s
            count, read_s = each_log(settings, raw_read)
            raw = max(count / read_s, plain)
            print(f"raw read   {count:,} notifications: {plain:9,.0f} events/s, {count / read_s:9,.0f} under bulk() "
                  f"settings ({store}); ratios below are to {raw:,.0f}")  # fmt: skip
            for label, what, pages in (("lean read", "rows ", lean_read), ("decode", "facts", decode)):
                done, seconds = each_log(settings, pages)
                assert done == events
                print(f"{label:<10} {done:,} {what}         in {seconds:6.1f} s = {done / seconds:9,.0f} events/s"
                      f"   ÷ raw read = {done / seconds / raw:.2f}")  # fmt: skip
            runs = [(args.projection, "onto empty read models"), (args.projection, "over full ones")]
            runs += [(CaseViews.name, "over full ones")] if args.projection == "all" else []
            swaps = {}  # projection -> the swap's seconds of its rebuild over full read models
            for name, onto in runs:
                report = timed_rebuild(settings, None if name == "all" else name, args.workers)
                swaps[name] = report.swap_seconds
                assert report.notifications == events and set(report.applied.values()) == {events}, report.applied
                rate = report.rate
                print(f"rebuild {name:<16} {onto:<22} {events:,} events in {report.seconds:6.1f} s = {rate:9,.0f} "
                      f"events/s   ÷ raw read = {rate / raw:.3f}   ({report.workers} worker(s); bulk "
                      f"{report.bulk_seconds:.1f} s, catch-up and swap {report.swap_seconds:.1f} s)")  # fmt: skip
            for parts in args.parts:
                seconds = one_part(settings, args.projection, parts)
                projected = events / (seconds + swaps[args.projection])
                print(f"one part of {parts:<2} {args.projection:<10} alone: bulk {seconds:6.1f} s; with {parts} cores, "
                      f"the bulk's parts side by side and the swap ({swaps[args.projection]:.1f} s): {projected:9,.0f} "
                      f"events/s   ÷ raw read = {projected / raw:.3f}  (a projection)")  # fmt: skip
            texts = "distinct" if DISTINCT else "one"
            print(f"(Python {platform.python_version()}, {platform.machine()}, page {PAGE:,}, {texts} complaint text)")
        finally:
            if schema:
                with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
