"""A case's resolution: investigation, proposals and approvals, the customer's answer, execution."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from services.resolution.api.common import ResolutionApp

router = APIRouter(prefix="/api/resolution", tags=["resolution"])


@router.get("/cases/{case_id}")
def get_resolution_case(case_id: UUID, resolution: ResolutionApp) -> dict[str, Any]:
    """The resolution opened for a case (404 until the case is triaged)."""
    found = resolution.case_aggregate(case_id)
    return {"case_id": str(case_id), "category": found.category, "severity": found.severity}
