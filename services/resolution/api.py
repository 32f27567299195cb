"""Resolution's HTTP API: the state of a case's resolution."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.resolution.application import ResolutionService
from shared.errors import NotFound
from shared.eventstore import aggregate_id


def get_resolution(request: Request) -> ResolutionService:
    return request.app.state.services["resolution"].app


ResolutionApp = Annotated[ResolutionService, Depends(get_resolution)]
router = APIRouter(prefix="/api/resolution", tags=["resolution"])


@router.get("/cases/{case_id}")
def get_resolution_case(case_id: UUID, resolution: ResolutionApp) -> dict[str, Any]:
    """The resolution opened for a case (404 until the case is triaged)."""
    resolution_id = aggregate_id(case_id, resolution.name)
    if resolution_id not in resolution.repository:
        raise NotFound(f"no resolution for case {case_id} yet")
    found = resolution.repository.get(resolution_id)
    return {"case_id": str(case_id), "category": found.category, "severity": found.severity}
