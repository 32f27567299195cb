"""Feedback statistics API: the summary and its CSV export, high-frequency warnings, work queues."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.feedback.api.models import QueuePage, StatisticsSummary, Warnings
from services.feedback.projections import Statistics, WorkQueues
from services.feedback.projections.statistics import EXPORT_COLUMNS, GroupBy, Period
from shared.access.guard import CurrentAccess, CurrentPrincipal
from shared.bounds import Instant, Offset, limit_query
from shared.csvsafe import csv_text
from shared.http import now, read_model
from shared.textinput import line

router = APIRouter(tags=["statistics"])

Stats = Annotated[Statistics, Depends(read_model(Statistics.name))]
Queues = Annotated[WorkQueues, Depends(read_model(WorkQueues.name))]

From = Annotated[
    Instant | None, Query(alias="from", description="received at or after this instant (ISO 8601 with timezone)")
]
To = Annotated[Instant | None, Query(alias="to", description="received before this instant (ISO 8601 with timezone)")]
Store = Annotated[line(32) | None, Query(description="a store id, e.g. SH-001")]
Region = Annotated[line(32) | None, Query(description="a region code of the master data, e.g. east")]
CategoryFilter = Annotated[line(64) | None, Query(description="a category code, e.g. product_quality")]
ChannelFilter = Annotated[line(32) | None, Query(description="a channel code, e.g. phone")]
PeriodQuery = Annotated[Period, Query(description="the period counts are grouped by, in the chain's time zone")]


@router.get("/api/statistics/summary", response_model=StatisticsSummary)
def summary(
    stats: Stats,
    principal: CurrentPrincipal,
    access: CurrentAccess,
    start: From = None,
    end: To = None,
    store: Store = None,
    region: Region = None,
    category: CategoryFilter = None,
    channel: ChannelFilter = None,
    period: PeriodQuery = "month",
) -> dict[str, Any]:
    """Counts by category, sub-category, store, region, channel, severity and period; timeliness per clock;
    time to acknowledge and to resolve (p50/p90/p95, seconds); CSAT; repeat and reopen rates. Staff of a
    store or region see their own (403 for a filter outside it)."""
    store, region = access.narrow(principal, store, region)
    return stats.summary(
        period=period, start=start, end=end, store=store, region=region, category=category, channel=channel
    )


@router.get(
    "/api/statistics/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV file"}},
)
def export_csv(
    stats: Stats,
    principal: CurrentPrincipal,
    access: CurrentAccess,
    group_by: Annotated[GroupBy, Query(description="one row per value of this")] = "category",
    start: From = None,
    end: To = None,
    store: Store = None,
    region: Region = None,
    category: CategoryFilter = None,
    channel: ChannelFilter = None,
    period: PeriodQuery = "month",
) -> Response:
    """The figures per group as CSV (UTF-8 with a BOM, so Excel reads the Chinese right), with a header row;
    narrowed to the caller's store or region like the summary."""
    store, region = access.narrow(principal, store, region)
    rows = stats.export(
        group_by, period=period, start=start, end=end, store=store, region=region, category=category, channel=channel
    )
    content = csv_text([group_by, *EXPORT_COLUMNS], rows, newline="\r\n")
    name = f"statistics-{group_by}" + (f"-{period}" if group_by == "period" else "") + ".csv"
    return Response(
        content="\ufeff" + content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/api/warnings", response_model=Warnings)
def list_warnings(
    warnings: Stats,
    request: Request,
    at: Annotated[Instant | None, Query(description="when the window ends (default now), with its timezone")] = None,
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
Severity = Annotated[line(32) | None, Query(description="general, urgent or critical")]
Flags = Annotated[
    list[line(64)] | None,
    Query(alias="flag", max_length=20, description="only cases with this flag, e.g. sla_breached"),
]
Limit = limit_query(500)


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


@router.get("/api/queues/people/{staff_id}", response_model=QueuePage)
def person_queue(
    staff_id: str, queues: Queues, filters: Filters, principal: CurrentPrincipal, access: CurrentAccess
) -> dict[str, Any]:
    """The cases assigned to one person, nearest due first: one's own, or a person's within the caller's reach."""
    access.require_person(principal, staff_id)
    return queues.person(staff_id, **asdict(filters))


@router.get("/api/queues/{queue}", response_model=QueuePage)
def team_queue(
    queue: str, queues: Queues, filters: Filters, principal: CurrentPrincipal, access: CurrentAccess
) -> dict[str, Any]:
    """A team's queue, nearest due first; 404 outside the caller's reach."""
    access.require_queue(principal, queue)
    return queues.queue(queue, **asdict(filters))
