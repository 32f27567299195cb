"""Verification benchmark (issue 4): events verified per second beside the raw read rate, same store, same run.

    .venv/bin/python bench/verify.py                 # 200,000 events on a temporary SQLite file
    .venv/bin/python bench/verify.py -n 50000 --postgres-url postgresql://postgres@127.0.0.1:5432/test

It records N events (streams of 5, through the real ``ChainedMapper`` and sealing recorder), then
measures, in this order: the raw read (the verifier's own SELECT, rows fetched, nothing computed),
and ``verify_store`` over the whole store (hashes recomputed, links, log chain).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.scratch import scratch_settings
from shared.audit.verify import verify_store
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.eventstore import CaseAggregate, EventContext, ServiceApplication
from shared.vocabulary import Role

STREAM = 5


class Ledger(CaseAggregate):
    """A stream of notes, about the size of a real case event."""

    class Opened(CaseAggregate.Created):
        note: str

    class Noted(CaseAggregate.Event):
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.notes += 1

    def __init__(self, envelope: dict[str, Any], note: str) -> None:
        self.notes = 1


class Bench(ServiceApplication):
    name = "bench"


def record(app: Bench, total: int) -> float:
    clock = ManualClock()
    actor = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")
    note = "顾客反映手镯戴了一周就断了，门店已登记并拍照，等待质检结论。" * 3
    started = time.perf_counter()
    batch: list[Ledger] = []
    for _ in range(total // STREAM):
        ctx = EventContext(
            case_id=uuid.uuid4(), actor=actor, service="bench", recorded_at=clock.now(), correlation_id=uuid.uuid4()
        )
        ledger = Ledger._start(Ledger.Opened, ctx.case_id, ctx, note=note)
        for _ in range(STREAM - 1):
            ledger._record(Ledger.Noted, ctx, note=note)
        batch.append(ledger)
        if len(batch) == 200:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)
    return time.perf_counter() - started


def raw_read(app: Bench) -> tuple[int, float]:
    side = app.side
    sql = (
        f"SELECT {side.notification_id_column}, originator_id, originator_version, topic, state FROM {side.events_table} "
        "ORDER BY originator_id, originator_version"
    )
    started = time.perf_counter()
    count = sum(len(rows) for rows in side.stream(sql))
    return count, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--events", type=int, default=200_000)
    parser.add_argument("--postgres-url", help="use a throw-away schema of this PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with scratch_settings("verify", args.postgres_url) as settings:
        app = Bench(settings, ManualClock())
        try:
            seconds = record(app, args.events)
            print(f"recorded {args.events} events in {seconds:.1f} s ({args.events / seconds:,.0f}/s, sealed as saved)")
            count, read_s = raw_read(app)
            report = verify_store("bench", app.side)
            assert report.ok and report.events == count == args.events, report.findings[:3]
            raw_rate, verify_rate = count / read_s, report.events / report.seconds
            store = "postgresql" if args.postgres_url else "sqlite"
            print(f"raw read {count} rows in {read_s:.2f} s = {raw_rate:,.0f} events/s ({store})")
            print(f"verify   {report.events} events in {report.seconds:.2f} s = {verify_rate:,.0f} events/s, clean")
            print(
                f"verify ÷ raw read = {verify_rate / raw_rate:.2f}   (Python {platform.python_version()}, {platform.machine()})"
            )
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
