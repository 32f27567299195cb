"""Feedback's HTTP API: the case view and the end-to-end timeline of a case, now or as of an instant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from services.feedback.api.models import CaseView, Timeline
from services.feedback.labels import Language, labelled_timeline, record_form_html
from services.feedback.projections import CaseViews
from shared.bounds import Instant
from shared.errors import NotFound
from shared.http import now, service_part

Views = Annotated[CaseViews, Depends(service_part("feedback", "views"))]
AsOf = Annotated[
    Instant | None,
    Query(description="an ISO 8601 instant with its timezone: the case as it stood then, rebuilt from its events"),
]
Lang = Annotated[Language | None, Query(description="add each event's label in this language (zh or en)")]
router = APIRouter(prefix="/api/cases", tags=["cases"])


@router.get("/{case_id}", response_model=CaseView, response_model_exclude_unset=True)
def get_case(case_id: UUID, views: Views, as_of: AsOf = None) -> dict[str, Any]:
    """The case as all services' events have made it: status, category, severity, flags (or as of an instant)."""
    view = views.case(case_id, as_of)
    if view is None:
        raise NotFound(_missing(case_id, as_of))
    return view if as_of is None else {**view, "as_of": _utc(as_of)}


@router.get("/{case_id}/timeline", response_model=Timeline, response_model_exclude_unset=True)
def get_timeline(case_id: UUID, views: Views, as_of: AsOf = None, lang: Lang = None) -> dict[str, Any]:
    """Every event of every service for the case, each after its cause (or those recorded by an instant); with
    ``lang``, each event also has its ``label`` in that language."""
    events = views.timeline(case_id, as_of)
    if not events:
        raise NotFound(_missing(case_id, as_of))
    if lang is not None:
        events = labelled_timeline(events, lang)
    if as_of is None:
        return {"case_id": str(case_id), "events": events}
    return {"case_id": str(case_id), "as_of": _utc(as_of), "events": events}


@router.get("/{case_id}/record-form", response_class=HTMLResponse)
def get_record_form(
    case_id: UUID,
    views: Views,
    request: Request,
    lang: Annotated[Language, Query(description="the form's language (zh or en)")] = Language.ZH,
) -> HTMLResponse:
    """The complaint record form (消费者投诉处理记录表) as printable HTML: facts, every decision with who, when and
    why, every message to the customer, every deadline and whether it was met, the result. No personal data."""
    view, events = views.case(case_id), views.timeline(case_id)
    if view is None or not events:
        raise NotFound(_missing(case_id, None))
    settings = getattr(request.app.state, "settings", None)
    zone = settings.timezone if settings is not None else "UTC"
    return HTMLResponse(record_form_html(view, events, lang, zone, now(request)))


def _missing(case_id: UUID, as_of: datetime | None) -> str:
    return f"no case {case_id}" + ("" if as_of is None else f" as of {_utc(as_of)}")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
