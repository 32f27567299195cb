"""Resolution's HTTP API: the state of a case's resolution."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from services.resolution.application import ResolutionService
from shared.http import service_part

ResolutionApp = Annotated[ResolutionService, Depends(service_part("resolution"))]
router = APIRouter(prefix="/api/resolution", tags=["resolution"])


@router.get("/cases/{case_id}")
def get_resolution_case(case_id: UUID, resolution: ResolutionApp) -> dict[str, Any]:
    """The resolution opened for a case (404 until the case is triaged)."""
    found = resolution.case_aggregate(case_id)
    return {"case_id": str(case_id), "category": found.category, "severity": found.severity}
