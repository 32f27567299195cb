"""Feedback's HTTP API: the case view and the end-to-end timeline of a case."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from services.feedback.projections import CaseViews
from shared.errors import NotFound
from shared.http import service_part


Views = Annotated[CaseViews, Depends(service_part("feedback", "views"))]
router = APIRouter(prefix="/api/cases", tags=["cases"])


@router.get("/{case_id}")
def get_case(case_id: UUID, views: Views) -> dict[str, Any]:
    """The case as all services' events have made it: status, category, severity, flags."""
    view = views.case(case_id)
    if view is None:
        raise NotFound(f"no case {case_id}")
    return view


@router.get("/{case_id}/timeline")
def get_timeline(case_id: UUID, views: Views) -> dict[str, Any]:
    """Every event of every service for the case, each after its cause."""
    events = views.timeline(case_id)
    if not events:
        raise NotFound(f"no case {case_id}")
    return {"case_id": str(case_id), "events": events}
