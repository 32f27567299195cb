"""Routing's HTTP API: a case's triage decision, with the evidence behind it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.routing.application import Routing
from shared.errors import NotFound
from shared.eventstore import aggregate_id


def get_routing(request: Request) -> Routing:
    return request.app.state.services["routing"].app


RoutingApp = Annotated[Routing, Depends(get_routing)]
router = APIRouter(prefix="/api/routing", tags=["routing"])


@router.get("/cases/{case_id}/triage")
def get_triage(case_id: UUID, routing: RoutingApp) -> dict[str, Any]:
    """Category, confidence, matched terms, severity and its reasons (404 until triaged)."""
    triage_id = aggregate_id(case_id, routing.name)
    if triage_id not in routing.repository:
        raise NotFound(f"case {case_id} has not been triaged")
    triage = routing.repository.get(triage_id)
    return {
        "case_id": str(case_id),
        "category": triage.category,
        "confidence": str(triage.confidence),
        "matched_terms": triage.matched_terms,
        "severity": triage.severity,
        "severity_reasons": triage.severity_reasons,
    }
