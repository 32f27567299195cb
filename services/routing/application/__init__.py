"""Routing's Application: triage, assignment, clocks and the timer worker, with its tables."""

from services.routing.application.routing import Routing
from services.routing.application.tables import RoutingTables

__all__ = ["Routing", "RoutingTables"]
