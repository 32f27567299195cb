"""Feedback's HTTP API: cases (view, timeline), follow-up and surveys, statistics and warnings, the case library."""

from fastapi import APIRouter

from services.feedback.api import cases, followup, library, statistics

router = APIRouter()
for part in (cases, followup, statistics, library):
    router.include_router(part.router)

__all__ = ["router"]
