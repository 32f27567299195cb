"""Feedback statistics API: the summary and its CSV export, high-frequency warnings, work queues."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.feedback.projections import Statistics, WorkQueues
from services.feedback.projections.statistics import EXPORT_COLUMNS, GroupBy, Period
from shared.http import now, read_model

router = APIRouter(tags=["statistics"])

Stats = Annotated[Statistics, Depends(read_model(Statistics.name))]
Queues = Annotated[WorkQueues, Depends(read_model(WorkQueues.name))]

From = Annotated[
    datetime | None, Query(alias="from", description="received at or after this instant (ISO 8601 with timezone)")
]
To = Annotated[datetime | None, Query(alias="to", description="received before this instant (ISO 8601 with timezone)")]
Store = Annotated[str | None, Query(description="a store id, e.g. SH-001")]
Region = Annotated[str | None, Query(description="a region code of the master data, e.g. east")]
CategoryFilter = Annotated[str | None, Query(description="a category code, e.g. product_quality")]
ChannelFilter = Annotated[str | None, Query(description="a channel code, e.g. phone")]
PeriodQuery = Annotated[Period, Query(description="the period counts are grouped by, in the chain's time zone")]


@router.get("/api/statistics/summary")
def summary(
    stats: Stats,
    start: From = None,
    end: To = None,
    store: Store = None,
    region: Region = None,
    category: CategoryFilter = None,
    channel: ChannelFilter = None,
    period: PeriodQuery = "month",
) -> dict[str, Any]:
    """Counts by category, sub-category, store, region, channel, severity and period; timeliness per clock;
    time to acknowledge and to resolve (p50/p90/p95, seconds); CSAT; repeat and reopen rates."""
    return stats.summary(
        period=period, start=start, end=end, store=store, region=region, category=category, channel=channel
    )


@router.get("/api/statistics/export.csv")
def export_csv(
    stats: Stats,
    group_by: Annotated[GroupBy, Query(description="one row per value of this")] = "category",
    start: From = None,
    end: To = None,
    store: Store = None,
    region: Region = None,
    category: CategoryFilter = None,
    channel: ChannelFilter = None,
    period: PeriodQuery = "month",
) -> Response:
    """The figures per group as CSV (UTF-8 with a BOM, so Excel reads the Chinese right), with a header row."""
    rows = stats.export(
        group_by, period=period, start=start, end=end, store=store, region=region, category=category, channel=channel
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[group_by, *EXPORT_COLUMNS], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    name = f"statistics-{group_by}" + (f"-{period}" if group_by == "period" else "") + ".csv"
    return Response(
        content="\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/api/warnings")
def list_warnings(
    warnings: Stats,
    request: Request,
    at: Annotated[datetime | None, Query(description="when the window ends (default now), with its timezone")] = None,
) -> dict[str, Any]:
    """High-frequency warnings (高频问题预警): categories, SKUs and stores whose complaints in the window exceed the
    factor × their scaled baseline (and the minimum), each with the cases behind it."""
    at = at or now(request)
    found = warnings.warnings(at)
    policy = warnings.policy
    return {
        "at": at.isoformat(),
        "policy": {
            "window": policy.window.total_seconds(),
            "baseline": policy.baseline.total_seconds(),
            "factor": float(policy.factor),
            "minimum": policy.minimum,
            "dimensions": policy.dimensions,
        },
        "warnings": found,
    }


State = Annotated[Literal["open", "closed", "all"], Query(description="open (default), closed or all cases")]
Severity = Annotated[str | None, Query(description="general, urgent or critical")]
Flags = Annotated[list[str] | None, Query(alias="flag", description="only cases with this flag, e.g. sla_breached")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@dataclass
class QueueFilters:
    """The filters and page of a work queue (query parameters)."""

    state: State = "open"
    severity: Severity = None
    category: CategoryFilter = None
    store: Store = None
    flags: Flags = None
    limit: Limit = 50
    offset: Offset = 0


Filters = Annotated[QueueFilters, Depends()]


@router.get("/api/queues/people/{staff_id}")
def person_queue(staff_id: str, queues: Queues, filters: Filters) -> dict[str, Any]:
    """The cases assigned to one person, nearest due first."""
    return queues.person(staff_id, **asdict(filters))


@router.get("/api/queues/{queue}")
def team_queue(queue: str, queues: Queues, filters: Filters) -> dict[str, Any]:
    """A team's queue, nearest due first."""
    return queues.queue(queue, **asdict(filters))
