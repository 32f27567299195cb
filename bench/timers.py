"""Timers and classification benchmark (issue 6): firing due timers and classifying complaints, each beside the
raw store's read rate measured in the same run, on the same store.

    .venv/bin/python bench/timers.py                 # 100,000 open cases on a temporary SQLite file
    .venv/bin/python bench/timers.py -n 20000 --postgres-url postgresql://postgres@127.0.0.1:5432/test

It creates N open cases through routing's real policy (``Routing.handle_batch`` of ``ComplaintReceived``
messages, ``--batch`` at a time: classify, severity, clocks, assignment, timer and queue rows), with a
``ManualClock`` at T0. Every text is one of the labelled complaints that assesses as ``general`` (acknowledge 24 h,
warnings at 75% and 90%; resolve 7 d), so the due instants are known:

* ``--due`` timers (default 10,000) are made due at the jump: cases received 24.5 h before the jump instant
  (acknowledge warn_75, warn_90 and breach due, 3 timers each) and, for a remainder, cases received 19 h
  before it (warn_75 only);
* every other case is received at T0 = jump - 7 h, so nothing of it is due at the jump;
* before the jump no timer at all is due (checked).

Then the clock jumps 7 h and ``fire_due_timers(limit=--due)`` is timed (repeated until it records nothing),
and checked: no timer left due, and exactly the expected ClockWarned / SlaBreached / CaseEscalated events.

Measured in the same run: the raw read (``recorder.select_notifications`` over the whole store, in pages,
nothing decoded), a raw append (plain INSERTs of the same rows into a scratch table in transactions of the same
size as the policy's saves), and ``classify`` over the labelled texts repeated to ``--classify`` complaints.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.classify import load_labelled
from bench.scratch import scratch_settings
from services.routing.application.routing import Routing
from services.routing.classification import classify
from services.routing.domain import assess_severity
from shared.clock import ManualClock
from shared.contracts import Actor, Envelope, EventMessage
from shared.sidetables import micros
from shared.vocabulary import Role, Severity

JUMP = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
T0 = JUMP - timedelta(hours=7)
BREACHED = JUMP - timedelta(hours=24, minutes=30)  # acknowledge: warn_75, warn_90 and breach due at JUMP
WARNED = JUMP - timedelta(hours=19)  # acknowledge: warn_75 only due at JUMP
CHANNEL = "store"
STORES = ["SH-001", "SH-011", "SH-021", "SH-041", "HZ-001", "HZ-011", "HZ-021", "HZ-041"]
CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")


def general_texts(routing: Routing) -> list[str]:
    """The labelled texts that assess as ``general`` on the benchmark's channel (so every clock's length is known)."""
    texts = [item["text"] for item in load_labelled()]
    return [
        t for t in texts if assess_severity(t, CHANNEL, None, routing.severity_rules).severity is Severity.GENERAL
    ]


def received(n: int, received_at: datetime, text: str, store: str) -> EventMessage:
    """A ``ComplaintReceived`` message as intake publishes it, received at ``received_at``."""
    case_id = uuid.uuid4()
    return EventMessage(
        service="intake",
        notification_id=n,
        type="ComplaintReceived",
        envelope=Envelope(
            event_id=uuid.uuid4(),
            case_id=case_id,
            actor=CLERK,
            occurred_at=received_at,
            recorded_at=received_at,
            correlation_id=uuid.uuid4(),
            service="intake",
        ),
        payload={
            "case_number": f"C{n:08d}",
            "channel": CHANNEL,
            "store_id": store,
            "customer_id": str(uuid.uuid4()),
            "description": text,
        },
    )


def plan(cases: int, due: int) -> tuple[int, int]:
    """How many cases get 3 due timers and how many get 1, for exactly ``due`` due timers."""
    breached, rest = divmod(due, 3)
    if breached + rest > cases:
        raise SystemExit(f"-n {cases} is too small for {due} due timers")
    return breached, rest


def create(routing: Routing, cases: int, due: int, batch: int, texts: list[str]) -> float:
    """Create ``cases`` open cases through the policy; returns the seconds taken."""
    breached, warned = plan(cases, due)
    started = time.perf_counter()
    last = started
    messages: list[EventMessage] = []
    for n in range(1, cases + 1):
        at = BREACHED if n <= breached else WARNED if n <= breached + warned else T0
        messages.append(received(n, at, texts[n % len(texts)], STORES[n % len(STORES)]))
        if len(messages) == batch or n == cases:
            routing.handle_batch(messages)
            messages = []
            now = time.perf_counter()
            if now - last >= 5 or n == cases:
                last = now
                rate = n / (now - started)
                print(f"  created {n:>9,} cases  {now - started:7.1f} s  {rate:8,.0f} cases/s", flush=True)
    return time.perf_counter() - started


def count(routing: Routing, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(routing.side.query(sql, params)[0]["n"])


def events_of(routing: Routing, name: str) -> int:
    """How many stored events of the Triage event class ``name``."""
    return count(
        routing, f"SELECT COUNT(*) AS n FROM {routing.side.events_table} WHERE topic LIKE ?", (f"%Triage.{name}",)
    )


def due_count(routing: Routing) -> int:
    return count(
        routing,
        f"SELECT COUNT(*) AS n FROM {routing.tables.timers} WHERE fires_at <= ?",
        (micros(routing.clock.now()),),
    )


def raw_read(routing: Routing, page: int = 10_000) -> tuple[int, float]:
    """All notifications through the recorder, ``page`` at a time, nothing decoded: (rows, seconds)."""
    recorder = routing.recorder
    started = time.perf_counter()
    rows, start = 0, 1
    while True:
        notes = recorder.select_notifications(start, page)
        if not notes:
            break
        rows += len(notes)
        start = notes[-1].id + 1
    return rows, time.perf_counter() - started


def raw_append(routing: Routing, limit: int, per_tx: int) -> tuple[int, float]:
    """The same event rows (first ``limit``) inserted by plain INSERTs into a scratch table, ``per_tx`` a
    transaction: what the substrate's writes cost without the policy, hashing or sealing. (rows, seconds)"""
    side = routing.side
    scratch = side.table("bench_raw_append")
    blob = "BYTEA" if side.is_postgres else "BLOB"
    side.script(
        [
            (f"DROP TABLE IF EXISTS {scratch}", ()),
            (
                f"CREATE TABLE {scratch} (originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, "
                f"topic TEXT NOT NULL, state {blob} NOT NULL, PRIMARY KEY (originator_id, originator_version))",
                (),
            ),
        ]
    )
    sql = f"SELECT originator_id, originator_version, topic, state FROM {side.events_table} LIMIT {int(limit)}"
    rows = [(str(r[0]), r[1], r[2], bytes(r[3])) for chunk in side.stream(sql) for r in chunk]
    insert = f"INSERT INTO {scratch} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)"
    started = time.perf_counter()
    for at in range(0, len(rows), per_tx):
        with side.transaction() as run:
            for row in rows[at : at + per_tx]:
                run(insert, row)
    seconds = time.perf_counter() - started
    side.execute(f"DROP TABLE {scratch}")
    return len(rows), seconds


def fire(routing: Routing, due: int) -> tuple[int, int, float]:
    """Fire everything due, ``due`` at most per call, until a call records nothing: (events, calls, seconds)."""
    recorded, calls = 0, 0
    started = time.perf_counter()
    while True:
        calls += 1
        got = routing.fire_due_timers(limit=due)
        recorded += got
        if got == 0:
            break
    return recorded, calls, time.perf_counter() - started


def classify_rate(routing: Routing, texts: list[str], total: int) -> tuple[int, float]:
    """``classify`` over ``texts`` repeated to ``total`` complaints (matcher already warm): (complaints, seconds)."""
    classify(texts[0], routing.taxonomy)  # warm: the jieba dictionary and the taxonomy matcher
    items = (texts * (total // len(texts) + 1))[:total]
    started = time.perf_counter()
    for text in items:
        classify(text, routing.taxonomy)
    return len(items), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--cases", type=int, default=100_000, help="open cases to create")
    parser.add_argument("--due", type=int, default=10_000, help="timers due after the jump")
    parser.add_argument("--batch", type=int, default=500, help="messages per handle_batch (one transaction)")
    parser.add_argument("--classify", type=int, default=20_000, help="complaints to classify for the rate")
    parser.add_argument("--postgres-url", help="use a throw-away schema of this PostgreSQL instead of SQLite")
    args = parser.parse_args()
    store = "postgresql" if args.postgres_url else "sqlite"
    with scratch_settings("timers", args.postgres_url) as settings:
        clock = ManualClock(T0)
        routing = Routing(settings, clock)
        try:
            texts = general_texts(routing)
            breached, warned = plan(args.cases, args.due)
            print(
                f"{store}: {args.cases:,} cases ({len(texts)} labelled texts of general severity, cycled), "
                f"{breached:,} with 3 due timers + {warned:,} with 1 -> {args.due:,} due after the jump"
            )
            create_s = create(routing, args.cases, args.due, args.batch, texts)
            stored = count(routing, f"SELECT COUNT(*) AS n FROM {routing.side.events_table}")
            timers = count(routing, f"SELECT COUNT(*) AS n FROM {routing.tables.timers}")
            print(
                f"created {args.cases:,} cases in {create_s:.1f} s = {args.cases / create_s:,.0f} cases/s "
                f"({stored:,} events, {stored / create_s:,.0f} events/s; {timers:,} timer rows)"
            )
            assert due_count(routing) == 0, "timers due before the jump"

            count_read, read_s = raw_read(routing)
            assert count_read == stored, (count_read, stored)
            raw_rate = count_read / read_s
            print(f"raw read   {count_read:,} notifications in {read_s:.2f} s = {raw_rate:,.0f} events/s ({store})")
            per_tx = round(stored / args.cases * args.batch)
            appended, append_s = raw_append(routing, min(stored, 200_000), per_tx)
            append_rate = appended / append_s
            print(
                f"raw append {appended:,} rows in {append_s:.2f} s = {append_rate:,.0f} rows/s ({per_tx} a transaction)"
            )

            clock.advance(JUMP - T0)
            due_now = due_count(routing)
            assert due_now == args.due, (due_now, args.due)
            below_hq = count(
                routing,
                f"SELECT COUNT(*) AS n FROM {routing.tables.timers} t JOIN {routing.tables.queue} q "
                "ON q.case_id = t.case_id AND q.role = 'lead' WHERE t.kind = 'breach' AND t.fires_at <= ? "
                "AND q.tier <> 'hq'",
                (micros(clock.now()),),
            )
            recorded, calls, fire_s = fire(routing, args.due)
            kinds = ("ClockWarned", "SlaBreached", "CaseEscalated")
            warned_n, breached_n, escalated_n = (events_of(routing, kind) for kind in kinds)
            left = due_count(routing)
            assert left == 0, f"{left} timers still due"
            assert warned_n == 2 * breached + warned and breached_n == breached, (warned_n, breached_n)
            assert escalated_n == below_hq, (escalated_n, below_hq)  # one tier up, unless the lead team is HQ
            assert recorded == warned_n + breached_n + escalated_n, recorded
            fire_rate = args.due / fire_s
            print(
                f"fire       {args.due:,} due timers of {breached + warned:,} cases in {fire_s:.2f} s "
                f"({calls} calls) = {fire_rate:,.0f} timers/s, {(breached + warned) / fire_s:,.0f} cases/s; "
                f"recorded {warned_n:,} ClockWarned + {breached_n:,} SlaBreached + {escalated_n:,} CaseEscalated "
                f"= {recorded:,} events ({recorded / fire_s:,.0f} events/s); none left due"
            )

            classified, classify_s = classify_rate(routing, texts, args.classify)
            classify_per_s = classified / classify_s
            print(f"classify   {classified:,} complaints in {classify_s:.2f} s = {classify_per_s:,.0f} complaints/s")
            print(
                f"ratios: fire timers/s ÷ raw read = {fire_rate / raw_rate:.4f}   "
                f"fired events/s ÷ raw append = {recorded / fire_s / append_rate:.4f}   "
                f"creation events/s ÷ raw append = {stored / create_s / append_rate:.3f}   "
                f"classify/s ÷ raw read = {classify_per_s / raw_rate:.4f}"
            )
            print(f"(Python {platform.python_version()}, {platform.machine()})")
        finally:
            routing.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
