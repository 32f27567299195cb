"""Feedback's read models, each a projection with its own store and tracking (``base.Projection``)."""

from services.feedback.projections.base import Projection
from services.feedback.projections.cases import (
    CaseViews,
    causal_order,
    evolve_case,
    message_from_entry,
    rebuild_case,
    recorded_by,
    timeline_entry,
)

__all__ = [
    "CaseViews",
    "Projection",
    "causal_order",
    "evolve_case",
    "message_from_entry",
    "rebuild_case",
    "recorded_by",
    "timeline_entry",
]
