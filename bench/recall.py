"""Recall fan-out benchmark: customers/s of a campaign's import beside the raw store append rate, same store, same run.

    .venv/bin/python bench/recall.py                  # 100,000 affected customers on a temporary SQLite file
    .venv/bin/python bench/recall.py --postgres-url postgresql://postgres@127.0.0.1:5432/test

It writes an order list of N lines (CSV, as a chain's ERP exports it), plans and launches a campaign in a real
``ResolutionService``, then measures, in this order:

1. the raw append: N ready-made ``RecallNotice`` aggregates (same event size, a dummy sealed token) saved through
   the same store (mapper, hash chains, log chain) in batches of the same size as the import — nothing parsed,
   checked or sealed;
2. the fan-out: ``import_recall_customers`` over the file (parse, check scope, pseudonymise, seal each contact under
   a data key of its customer's own, build and save the notices with their status rows and keys), then the same
   file again (all found, nothing written).

Goal: the whole fan-out of 100,000 customers under 2 minutes on 2 cores, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.scratch import scratch_settings  # noqa: E402
from services.resolution.application import ResolutionService  # noqa: E402
from services.resolution.application.recalls import NOTICE_BYTES, PG_BATCH_BYTES  # noqa: E402
from services.resolution.domain.recall import (  # noqa: E402
    Announcement,
    CampaignPlan,
    RecallNotice,
    RecallRemedy,
    notice_id_for,
)
from shared.clock import ManualClock  # noqa: E402
from shared.contracts import Actor  # noqa: E402
from shared.eventstore import EventContext  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.vocabulary import Role  # noqa: E402

ANALYST = Actor(id="QA-1", role=Role.QUALITY_ANALYST)
SKU = "KT-1500"


def write_orders(path: Path, total: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["order_id", "sku", "batch", "sold_on", "customer_name", "phone", "email"])
        for i in range(total):
            writer.writerow(
                [f"SO-2026-{i:08d}", SKU, f"B{i % 4}", "2026-10-01", f"顾客{i}", f"139{i:08d}", f"c{i}@example.cn"]
            )


def campaign(app: ResolutionService, title: str) -> uuid.UUID:
    plan = CampaignPlan(
        title=title, sku=SKU, batches=["B0", "B1", "B2", "B3"], hazard="底座过热", remedy=RecallRemedy.REPLACE,
        announcement=Announcement(zh="召回公告", en="Recall notice"),
    )  # fmt: skip
    found = app.plan_campaign(ANALYST, plan)
    app.launch_campaign(found.id, ANALYST)
    return found.id


def raw_append(app: ResolutionService, total: int, batch: int) -> float:
    """Seconds to save ``total`` ready-made notices, ``batch`` per save (built before the clock starts)."""
    campaign_id = uuid.uuid4()
    now = app.clock.now()
    token = "enc:v1:" + "0" * 32 + ":" + "A" * 180  # about the size of a sealed contact
    notices = []
    for i in range(total):
        notice_id = notice_id_for(campaign_id, f"RAW-{i:08d}", SKU, "B1")
        ctx = EventContext(case_id=notice_id, actor=ANALYST, service=app.name, recorded_at=now,
                           correlation_id=campaign_id)  # fmt: skip
        notices.append(
            RecallNotice.issue(ctx, campaign_id, uuid.uuid4(), f"RAW-{i:08d}", SKU, "B1", date(2026, 10, 1),
                               RecallRemedy.REPLACE, "zh", ["phone", "email"], token)  # fmt: skip
        )
    started = time.perf_counter()
    for start in range(0, total, batch):
        app.save(*notices[start : start + batch])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--customers", type=int, default=100_000)
    parser.add_argument("--postgres-url", help="use a throw-away schema of this PostgreSQL instead of SQLite")
    args = parser.parse_args()
    configure_logging("WARNING")
    with scratch_settings("recall", args.postgres_url) as settings:
        tmp = settings.data_dir
        app = ResolutionService(settings, ManualClock())
        try:
            orders = Path(tmp) / "orders.csv"
            write_orders(orders, args.customers)
            batch = app.recall_rules.fan_out_batch
            if args.postgres_url:
                batch = max(1, min(batch, PG_BATCH_BYTES // NOTICE_BYTES))
            store = "postgresql" if args.postgres_url else "sqlite"
            print(f"{args.customers:,} affected customers, {batch} notices per save, {store}, "
                  f"{os.cpu_count()} cores, Python {platform.python_version()} {platform.machine()}")  # fmt: skip

            raw_s = raw_append(app, args.customers, batch)
            raw_rate = args.customers / raw_s
            print(f"raw append  {args.customers:,} notices in {raw_s:.1f} s = {raw_rate:,.0f} events/s")

            campaign_id = campaign(app, "bench")
            started = time.perf_counter()
            report = app.import_recall_customers(campaign_id, orders, actor=ANALYST)
            fan_s = time.perf_counter() - started
            assert report.issued == args.customers and report.failed == 0, report.errors[:3]
            fan_rate = args.customers / fan_s
            print(f"fan-out     {args.customers:,} customers in {fan_s:.1f} s = {fan_rate:,.0f} customers/s "
                  f"(parse, check, seal, save)")  # fmt: skip
            started = time.perf_counter()
            again = app.import_recall_customers(campaign_id, orders, actor=ANALYST)
            again_s = time.perf_counter() - started
            assert again.issued == 0 and again.already_issued == args.customers
            print(f"re-import   {args.customers:,} lines in {again_s:.1f} s, nothing issued twice")
            progress = app.campaign_progress(campaign_id)
            assert progress["customers"] == args.customers
            print(f"fan-out ÷ raw append = {fan_rate / raw_rate:.2f}; whole fan-out {fan_s:.1f} s "
                  f"({'under' if fan_s < 120 else 'OVER'} the 2-minute goal)")  # fmt: skip
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
