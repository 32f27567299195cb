"""Feedback's HTTP API: the case view and the end-to-end timeline of a case, now or as of an instant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.feedback.projections import CaseViews
from shared.errors import NotFound
from shared.http import service_part

Views = Annotated[CaseViews, Depends(service_part("feedback", "views"))]
AsOf = Annotated[
    datetime | None,
    Query(description="an ISO 8601 instant with its timezone: the case as it stood then, rebuilt from its events"),
]
router = APIRouter(prefix="/api/cases", tags=["cases"])


@router.get("/{case_id}")
def get_case(case_id: UUID, views: Views, as_of: AsOf = None) -> dict[str, Any]:
    """The case as all services' events have made it: status, category, severity, flags (or as of an instant)."""
    view = views.case(case_id, as_of)
    if view is None:
        raise NotFound(_missing(case_id, as_of))
    return view if as_of is None else {**view, "as_of": _utc(as_of)}


@router.get("/{case_id}/timeline")
def get_timeline(case_id: UUID, views: Views, as_of: AsOf = None) -> dict[str, Any]:
    """Every event of every service for the case, each after its cause (or those recorded by an instant)."""
    events = views.timeline(case_id, as_of)
    if not events:
        raise NotFound(_missing(case_id, as_of))
    if as_of is None:
        return {"case_id": str(case_id), "events": events}
    return {"case_id": str(case_id), "as_of": _utc(as_of), "events": events}


def _missing(case_id: UUID, as_of: datetime | None) -> str:
    return f"no case {case_id}" + ("" if as_of is None else f" as of {_utc(as_of)}")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
