"""Pipeline benchmark (issue 3): intake throughput, accepted->triaged latency, raw store rate.

Run against a system already up on 127.0.0.1 (``--url``), or let the script start one
(``--start``: ``ombud up`` on a free port and a temporary data dir, stopped at the end)::

    .venv/bin/python bench/pipeline.py --start
    .venv/bin/python bench/pipeline.py --url http://127.0.0.1:8000 -n 5000 -c 16 --json

Phases, in this order:

0. substrate: the raw event store append rate (``recorder.insert_events``, one stored
   ``ComplaintReceived`` per call) and the application rate (``Intake.receive_complaint`` in a
   loop), in this process, on a fresh temporary SQLite dir (or a throw-away schema of
   ``--postgres-url``). With ``--start`` this runs before the system is started.
1. throughput: N complaints POSTed by C concurrent clients; accepted/s = 201s / wall time.
   Then the pipeline is drained (every case of phase 1 seen triaged) before phase 2.
2. latency: complaints POSTed at a fixed offered rate; each accepted case is polled
   (``GET /api/cases/{id}``) by a small pool of pollers until its status is triaged or beyond;
   latency = first triaged response - the 201 response.

Only 127.0.0.1 is contacted; every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.http11 import HTTPError, LeanClient

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
NOT_YET = {None, "received"}  # any other status means triage has been applied (triaged or beyond)


def complaint_body(i: int) -> dict[str, Any]:
    """A valid complaint, as tests/support.py complaint_body() makes it (phone varies with i)."""
    return {
        "channel": "phone",
        "store_id": "SH-001",
        "customer": {"name": f"顾客{i}", "phone": f"138{i % 100_000_000:08d}"},
        "description": "手镯戴了一周就断了，质量太差，要求退货",
        "amount_paid": "3980.00",
    }


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of values, or None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))  # ceil(p/100 * n)
    return ordered[rank - 1]


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def dist(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max in milliseconds."""
    out: dict[str, float | None] = {}
    for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
        v = pct(values, p)
        out[name] = None if v is None else round(v * 1000, 2)
    out["max"] = round(max(values) * 1000, 2) if values else None
    return out


def dist_line(values: list[float]) -> str:
    d = dist(values)
    return "  ".join(f"{k} {'n/a' if v is None else f'{v:.1f}'}" for k, v in d.items()) + " ms"


# The bearer token every request carries (a service account's, see ``System.token``; or --token).
AUTH: dict[str, str] = {}


def client(connections: int) -> LeanClient:
    return LeanClient(connections, headers=AUTH)


# --------------------------------------------------------------------------------------------
# Phase 0: the substrate, in process
# --------------------------------------------------------------------------------------------


def substrate(count: int, postgres_url: str | None) -> dict[str, Any]:
    """Raw appends/s (one stored event per insert_events call) and Intake.receive_complaint/s."""
    from services.intake.application import Intake
    from services.intake.domain import Complaint, ComplaintRecord, case_number
    from shared.clock import SystemClock
    from shared.contracts import Actor
    from shared.masterdata import MasterData
    from shared.settings import Settings
    from shared.vocabulary import Role

    tmp = Path(tempfile.mkdtemp(prefix="ombud-bench-store-"))
    schemas: list[str] = []

    def settings_for(part: str) -> Settings:
        if postgres_url:
            schema = f"ombud_bench_{uuid.uuid4().hex[:8]}_{part}"
            _pg_schema(postgres_url, schema, create=True)
            schemas.append(schema)
            return Settings(mode="embedded", postgres_url=postgres_url, postgres_schema=schema)
        return Settings(mode="embedded", data_dir=tmp / part)

    actor = Actor(id="channel-phone", role=Role.CUSTOMER)
    record = ComplaintRecord.model_validate(complaint_body(0))
    try:
        # Raw: build the stored events first (not timed), then append one per call with eventsourcing's
        # own recorder (no sealing, no group commit): the substrate everything else is compared with.
        settings = settings_for("raw")
        intake = Intake(settings, SystemClock(), MasterData.load(settings.master_data_dir))
        contact_id = intake.customer_id_of(record.customer.phone, record.customer.email)
        stored = []
        for i in range(count):
            ctx = intake.context(uuid.uuid4(), actor)
            complaint = Complaint.receive(
                ctx,
                record,
                customer_id=contact_id,
                assign_number=lambda i=i: case_number("20260101", i + 1),
                seal=intake.keys.sealer(contact_id, ctx.case_id),
            )
            events = complaint.collect_events()
            intake._link(events)  # as a save would, so the stored bytes are the real ones
            stored += [intake.mapper.to_stored_event(e) for e in events]
        factory = InfrastructureFactory.construct(Environment("raw", settings.persistence_env("raw")))
        recorder = factory.application_recorder()
        started = time.perf_counter()
        for event in stored:
            recorder.insert_events([event])
        raw_seconds = time.perf_counter() - started
        factory.close()
        intake.close()

        # Application: the command as the HTTP handler calls it (number, aggregate, save).
        settings = settings_for("app")
        intake = Intake(settings, SystemClock(), MasterData.load(settings.master_data_dir))
        started = time.perf_counter()
        for _ in range(count):
            intake.receive_complaint(record, actor=actor)
        app_seconds = time.perf_counter() - started
        intake.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for schema in schemas:
            with contextlib.suppress(Exception):
                _pg_schema(postgres_url or "", schema, create=False)
    return {
        "store": "postgresql" if postgres_url else "sqlite",
        "events": len(stored),
        "raw_appends_per_s": len(stored) / raw_seconds,
        "app_receives_per_s": count / app_seconds,
    }


def _pg_schema(url: str, schema: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        else:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --------------------------------------------------------------------------------------------
# Phase 1: throughput
# --------------------------------------------------------------------------------------------


@dataclass
class Throughput:
    accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    post_latencies: list[float] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)


async def file_complaint(
    http: LeanClient, url: str, i: int, errors: Counter[str], latencies: list[float]
) -> str | None:
    """POST complaint ``i``; the case id on 201, else None with the error counted."""
    sent = time.monotonic()
    try:
        response = await http.post(f"{url}/api/complaints", json=complaint_body(i))
    except HTTPError as error:
        errors[type(error).__name__] += 1
        return None
    latencies.append(time.monotonic() - sent)
    if response.status_code != 201:
        errors[f"HTTP {response.status_code}"] += 1
        return None
    return str(response.json()["case_id"])


async def throughput(url: str, total: int, concurrency: int, deadline_s: float, first: int) -> Throughput:
    result = Throughput()
    next_index = 0
    async with client(concurrency) as http:
        started = time.monotonic()
        deadline = started + deadline_s

        async def worker() -> None:
            nonlocal next_index
            while next_index < total and time.monotonic() < deadline:
                i = next_index
                next_index += 1
                case_id = await file_complaint(http, url, first + i, result.errors, result.post_latencies)
                if case_id:
                    result.accepted += 1
                    result.case_ids.append(case_id)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.monotonic() - started
        if next_index < total:
            result.errors["not sent (phase deadline)"] += total - next_index
    return result


async def drain(url: str, case_ids: list[str], since: float, timeout: float) -> dict[str, Any]:
    """Wait until every case is visible as triaged: the last filed first, then all of them."""
    deadline = time.monotonic() + timeout
    out: dict[str, Any] = {"cases": len(case_ids), "triaged": 0, "seconds_after_phase_start": None}
    if not case_ids:
        return out
    async with client(8) as http:

        async def triaged(case_id: str) -> bool:
            try:
                r = await http.get(f"{url}/api/cases/{case_id}")
            except HTTPError:
                return False
            return r.status_code == 200 and r.json().get("status") not in NOT_YET

        while time.monotonic() < deadline and not await triaged(case_ids[-1]):
            await asyncio.sleep(0.05)
        remaining = list(case_ids)
        while remaining and time.monotonic() < deadline:
            done: list[str] = []
            for start in range(0, len(remaining), 64):
                chunk = remaining[start : start + 64]
                flags = await asyncio.gather(*(triaged(c) for c in chunk))
                done += [c for c, ok in zip(chunk, flags, strict=True) if ok]
            seen = set(done)
            remaining = [c for c in remaining if c not in seen]
            if remaining:
                await asyncio.sleep(0.1)
        out["triaged"] = len(case_ids) - len(remaining)
        if not remaining:
            out["seconds_after_phase_start"] = time.monotonic() - since
    return out


# --------------------------------------------------------------------------------------------
# Phase 2: accepted -> triaged-visible latency at a fixed offered rate
# --------------------------------------------------------------------------------------------


@dataclass
class Tracked:
    case_id: str
    accepted_at: float
    next_poll: float
    polls: int = 0


@dataclass
class Latency:
    offered: int = 0
    accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # not sent: too many requests outstanding
    send_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    routing_part: list[float] = field(default_factory=list)  # view's received_at -> triaged_at
    post_latencies: list[float] = field(default_factory=list)
    timed_out: int = 0
    gets: int = 0
    poll_seconds: float = 0.0
    max_schedule_lag: float = 0.0


async def latency(
    url: str,
    rate: float,
    seconds: float,
    pollers: int,
    interval: float,
    case_timeout: float,
    first: int,
    max_inflight: int = 64,
) -> Latency:
    from datetime import datetime

    result = Latency()
    total = int(rate * seconds)
    queue: asyncio.Queue[Tracked] = asyncio.Queue()
    outstanding_posts = 0
    tracking = 0  # accepted cases not yet seen triaged (nor timed out)
    hard_deadline = time.monotonic() + seconds + case_timeout + 10

    async with client(max_inflight) as posts, client(pollers) as polls:

        async def post(i: int) -> None:
            nonlocal outstanding_posts, tracking
            try:
                case_id = await file_complaint(posts, url, first + i, result.errors, result.post_latencies)
            finally:
                outstanding_posts -= 1
            if case_id:
                now = time.monotonic()
                result.accepted += 1
                tracking += 1
                queue.put_nowait(Tracked(case_id, accepted_at=now, next_poll=now))

        async def poller() -> None:
            nonlocal tracking
            while time.monotonic() < hard_deadline:
                item = await queue.get()
                wait = item.next_poll - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                item.polls += 1
                result.gets += 1
                try:
                    r = await polls.get(f"{url}/api/cases/{item.case_id}")
                    view = r.json() if r.status_code == 200 else None
                except HTTPError as error:
                    result.errors[f"poll {type(error).__name__}"] += 1
                    view = None
                now = time.monotonic()
                if view is not None and view.get("status") not in NOT_YET:
                    result.latencies.append(now - item.accepted_at)
                    if view.get("received_at") and view.get("triaged_at"):
                        received = datetime.fromisoformat(view["received_at"])
                        triaged = datetime.fromisoformat(view["triaged_at"])
                        result.routing_part.append((triaged - received).total_seconds())
                    tracking -= 1
                elif now - item.accepted_at > case_timeout:
                    result.timed_out += 1
                    tracking -= 1
                else:
                    item.next_poll = now + interval
                    queue.put_nowait(item)

        poller_tasks = [asyncio.create_task(poller()) for _ in range(pollers)]
        post_tasks = []
        started = time.monotonic()
        for i in range(total):
            target = started + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            result.max_schedule_lag = max(result.max_schedule_lag, time.monotonic() - target)
            result.offered += 1
            if outstanding_posts >= max_inflight:
                result.skipped += 1
                continue
            outstanding_posts += 1
            post_tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*post_tasks)
        result.send_seconds = time.monotonic() - started
        while tracking > 0 and time.monotonic() < hard_deadline:
            await asyncio.sleep(0.02)
        result.poll_seconds = time.monotonic() - started
        for task in poller_tasks:
            task.cancel()
        await asyncio.gather(*poller_tasks, return_exceptions=True)
    return result


# --------------------------------------------------------------------------------------------
# --start: the system as a child process
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """The pids of a process's children, grandchildren, ... (Linux /proc; empty elsewhere)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


class System:
    """``ombud up`` on a free port and a temporary data dir; stopped with SIGINT (kill if stuck)."""

    def __init__(self, postgres_url: str | None, keep: bool) -> None:
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="ombud-bench-system-"))
        self.keep = keep
        self.postgres_url = postgres_url
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(Path(sys.executable).parent / "ombud"), "up", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir)]
        if postgres_url:
            command += ["--postgres-url", postgres_url]
        self.log_path = self.data_dir / "ombud.log"
        with open(self.log_path, "wb") as log:
            # Own session: if it has to be killed, its nats-server child goes with it.
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
            )

    def wait_healthy(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while time.monotonic() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"ombud up exited with {self.process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url}/health").status_code == 200:
                        return time.monotonic() - started
                time.sleep(0.2)
        raise RuntimeError(f"ombud up not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def token(self) -> str:
        """A token of a service account (role hq) for the load, from the install's own identity provider."""
        command = [str(Path(sys.executable).parent / "ombud"), "token", "create", "bench-load", "--role", "hq"]
        command += ["--ttl", "7200", "--data-dir", str(self.data_dir)]
        if self.postgres_url:
            command += ["--postgres-url", self.postgres_url]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> str:
        how = "already exited"
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
                how = "SIGINT"
            except subprocess.TimeoutExpired:
                # Its nats-server child runs in a session of its own: kill it too, by its pid.
                children = descendants(self.process.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                how = "SIGKILL (did not stop within 20 s of SIGINT)"
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return how


# --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="a running system (127.0.0.1 only)")
    parser.add_argument("--start", action="store_true", help="start `ombud up` on a free port and temp dir")
    parser.add_argument("--token", default=os.environ.get("OMBUD_TOKEN"), help="bearer token for --url (OMBUD_TOKEN)")
    parser.add_argument("-n", "--count", type=int, default=2000, help="complaints in the throughput phase")
    parser.add_argument("-c", "--concurrency", type=int, default=8, help="concurrent clients (throughput)")
    parser.add_argument("--rate", type=float, default=100.0, help="offered complaints/s (latency phase)")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency phase")
    parser.add_argument("--pollers", type=int, default=4, help="concurrent GET pollers (latency phase)")
    parser.add_argument("--poll-interval", type=float, default=0.005, help="seconds between polls of a case")
    parser.add_argument("--case-timeout", type=float, default=30.0, help="give up on a case after this")
    parser.add_argument("--phase-timeout", type=float, default=120.0, help="cap on each phase's wall time")
    parser.add_argument("--substrate-count", type=int, default=None, help="events for phase 0 (default -n)")
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="substrate on PostgreSQL (a throw-away schema, dropped after); with --start the system uses it too",
    )
    parser.add_argument("--skip-substrate", action="store_true")
    parser.add_argument("--keep-data", action="store_true", help="keep the --start data dir (and its log)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    host = urlparse(args.url).hostname
    if not args.start and host not in LOCAL_HOSTS:
        parser.error(f"--url must point at 127.0.0.1 (got host {host!r})")
    if args.count < 1 or args.concurrency < 1 or args.rate <= 0 or args.pollers < 1:
        parser.error("counts, concurrency, rate and pollers must be positive")
    return args


async def http_phases(args: argparse.Namespace, url: str, report: dict[str, Any]) -> None:
    # Warm-up (not measured): connections, first requests, consumers bound.
    warm = await throughput(url, 20, 4, 30.0, first=90_000_000)
    await drain(url, warm.case_ids, time.monotonic(), 30.0)

    print(f"[1] throughput: {args.count} complaints, {args.concurrency} concurrent clients ...", flush=True)
    phase_start, client_cpu = time.monotonic(), time.process_time()
    tp = await throughput(url, args.count, args.concurrency, args.phase_timeout, first=0)
    client_cpu = time.process_time() - client_cpu
    accepted_per_s = tp.accepted / tp.seconds if tp.seconds else 0.0
    print(
        f"    accepted {tp.accepted} in {tp.seconds:.2f} s = {accepted_per_s:.1f} accepted/s; "
        f"errors {sum(tp.errors.values())} {dict(tp.errors) or ''}; "
        f"client CPU {client_cpu / tp.seconds if tp.seconds else 0:.2f} cores"
    )
    print(f"    POST latency: {dist_line(tp.post_latencies)}")
    dr = await drain(url, tp.case_ids, phase_start, args.phase_timeout)
    if dr["seconds_after_phase_start"] is not None:
        e2e = dr["cases"] / dr["seconds_after_phase_start"]
        print(
            f"    pipeline drained: all {dr['cases']} triaged {dr['seconds_after_phase_start']:.2f} s after the "
            f"phase began (= {e2e:.1f} triaged/s end to end; {dr['seconds_after_phase_start'] - tp.seconds:.2f} s "
            "after the last 201)"
        )
    else:
        e2e = None
        print(f"    pipeline NOT drained within {args.phase_timeout:.0f} s: {dr['triaged']}/{dr['cases']} triaged")
    report["throughput"] = {
        "complaints": args.count,
        "concurrency": args.concurrency,
        "accepted": tp.accepted,
        "errors": sum(tp.errors.values()),
        "error_kinds": dict(tp.errors),
        "seconds": round(tp.seconds, 3),
        "accepted_per_s": round(accepted_per_s, 1),
        "client_cpu_cores": round(client_cpu / tp.seconds, 2) if tp.seconds else None,
        "post_latency_ms": dist(tp.post_latencies),
        "drained": dr["seconds_after_phase_start"] is not None,
        "triaged": dr["triaged"],
        "triaged_per_s_end_to_end": None if e2e is None else round(e2e, 1),
    }

    total = int(args.rate * args.latency_seconds)
    print(
        f"[2] latency: {total} complaints at {args.rate:g}/s offered, {args.pollers} pollers every "
        f"{args.poll_interval * 1000:g} ms ...",
        flush=True,
    )
    lt = await latency(
        url,
        args.rate,
        args.latency_seconds,
        args.pollers,
        args.poll_interval,
        args.case_timeout,
        first=10_000_000,
    )
    achieved = lt.accepted / lt.send_seconds if lt.send_seconds else 0.0
    polls_per_case = lt.gets / max(1, len(lt.latencies) + lt.timed_out)
    print(
        f"    offered {lt.offered}, accepted {lt.accepted} ({achieved:.1f}/s), errors {sum(lt.errors.values())} "
        f"{dict(lt.errors) or ''}, skipped {lt.skipped}, max schedule lag {lt.max_schedule_lag * 1000:.1f} ms"
    )
    print(
        f"    accepted->triaged visible ({len(lt.latencies)} cases, {lt.timed_out} timed out): "
        f"{dist_line(lt.latencies)}"
    )
    print(f"      of which routing (view received_at->triaged_at): {dist_line(lt.routing_part)}")
    gets_per_s = lt.gets / lt.poll_seconds if lt.poll_seconds else 0.0
    print(
        f"    POST latency: {dist_line(lt.post_latencies)};  {lt.gets} GETs ({gets_per_s:.0f}/s), "
        f"{polls_per_case:.1f} per case"
    )
    report["latency"] = {
        "offered_rate": args.rate,
        "seconds": args.latency_seconds,
        "offered": lt.offered,
        "accepted": lt.accepted,
        "achieved_rate": round(achieved, 1),
        "errors": sum(lt.errors.values()),
        "error_kinds": dict(lt.errors),
        "skipped": lt.skipped,
        "measured": len(lt.latencies),
        "timed_out": lt.timed_out,
        "accepted_to_triaged_ms": dist(lt.latencies),
        "routing_received_to_triaged_ms": dist(lt.routing_part),
        "post_latency_ms": dist(lt.post_latencies),
        "gets": lt.gets,
        "gets_per_s": round(gets_per_s, 1),
        "pollers": args.pollers,
        "poll_interval_ms": args.poll_interval * 1000,
    }


def main() -> int:
    args = parse_args()
    report: dict[str, Any] = {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    began = time.monotonic()

    if not args.skip_substrate:
        count = args.substrate_count or args.count
        where = "PostgreSQL" if args.postgres_url else "temporary SQLite"
        print(f"[0] substrate: {count} ComplaintReceived on {where}, in process ...", flush=True)
        sub = substrate(count, args.postgres_url)
        print(
            f"    raw insert_events (1 event/call): {sub['raw_appends_per_s']:.1f} appends/s; "
            f"Intake.receive_complaint: {sub['app_receives_per_s']:.1f}/s"
        )
        report["substrate"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in sub.items()}

    system = None
    url = args.url.rstrip("/")
    try:
        if args.start:
            system = System(args.postgres_url, args.keep_data)
            url = system.url
            up = system.wait_healthy()
            print(f"    started `ombud up` at {url} (healthy after {up:.1f} s; data {system.data_dir})")
            AUTH["Authorization"] = f"Bearer {system.token()}"
        elif args.token:
            AUTH["Authorization"] = f"Bearer {args.token}"
        asyncio.run(http_phases(args, url, report))
    finally:
        if system is not None:
            how = system.stop()
            print(f"    stopped `ombud up` ({how})" + (f"; data kept in {system.data_dir}" if args.keep_data else ""))

    tp, lt, sub = report.get("throughput", {}), report.get("latency", {}), report.get("substrate")
    ratio = tp["accepted_per_s"] / sub["raw_appends_per_s"] if sub and tp else None
    report["ratio_accepted_to_raw"] = None if ratio is None else round(ratio, 4)
    report["wall_seconds"] = round(time.monotonic() - began, 1)
    l99 = lt["accepted_to_triaged_ms"]
    print()
    machine = report["machine"]
    print(f"summary ({machine['nproc']} cores, Python {machine['python']}, {report['wall_seconds']} s)")
    print(
        f"  accepted/s           {tp['accepted_per_s']:.1f}  ({tp['accepted']}/{tp['complaints']}, "
        f"{tp['errors']} errors, C={tp['concurrency']})"
    )
    print(f"  triaged/s end to end {tp['triaged_per_s_end_to_end']}")
    print(
        f"  accepted->triaged    p50 {l99['p50']} p95 {l99['p95']} p99 {l99['p99']} max {l99['max']} ms"
        f"  (at {lt['achieved_rate']}/s, {lt['measured']} cases, {lt['timed_out']} timed out, {lt['errors']} errors)"
    )
    if sub:
        print(f"  raw appends/s        {sub['raw_appends_per_s']:.1f}  ({sub['store']})")
        print(f"  receive_complaint/s  {sub['app_receives_per_s']:.1f}")
        print(f"  accepted/s ÷ raw     {ratio:.3f}")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
