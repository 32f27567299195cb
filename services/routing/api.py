"""Routing's HTTP API: a case's triage decision, with the evidence behind it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from services.routing.application import Routing
from shared.http import service_part

RoutingApp = Annotated[Routing, Depends(service_part("routing"))]
router = APIRouter(prefix="/api/routing", tags=["routing"])


@router.get("/cases/{case_id}/triage")
def get_triage(case_id: UUID, routing: RoutingApp) -> dict[str, Any]:
    """Category and sub-category, confidence, matched terms, severity and its reasons (404 until triaged)."""
    triage = routing.case_aggregate(case_id)
    return {
        "case_id": str(case_id),
        "category": triage.category,
        "subcategory": triage.subcategory,
        "confidence": str(triage.confidence),
        "matched_terms": triage.matched_terms,
        "severity": triage.severity,
        "severity_reasons": triage.severity_reasons,
    }
