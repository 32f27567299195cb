"""Routing's domain, pure: classification, severity, assignment rules and the ``Triage`` aggregate."""

from services.routing.classification import CategoryTerms, Classification, Taxonomy, classify
from services.routing.domain.assignment import (
    CaseFacts,
    Load,
    RoutingConfig,
    Tier,
    choose_member,
    members_of,
    queue_of,
)
from services.routing.domain.severity import SeverityAssessment, SeverityRule, SeverityRules, assess_severity
from services.routing.domain.triage import CaseState, Intake, Owner, Party, Triage

__all__ = [
    "CaseFacts",
    "CaseState",
    "CategoryTerms",
    "Classification",
    "Intake",
    "Load",
    "Owner",
    "Party",
    "RoutingConfig",
    "SeverityAssessment",
    "SeverityRule",
    "SeverityRules",
    "Taxonomy",
    "Tier",
    "Triage",
    "assess_severity",
    "choose_member",
    "classify",
    "members_of",
    "queue_of",
]
