"""Routing's domain: classification and severity rules, and the ``Triage`` aggregate. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.routing.classification import CategoryTerms, Classification, Taxonomy, classify
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Channel, Severity


class SeverityRule(BaseModel):
    """Words that raise a complaint to a severity, with the reason recorded."""

    severity: Severity
    reason: str
    keywords: list[str] = Field(min_length=1)


class SeverityRules(BaseModel):
    """``config/severity.yaml``: keyword rules, amount threshold and channel floors."""

    rules: list[SeverityRule]
    urgent_amount_above: Decimal
    channel_floor: dict[Channel, Severity] = Field(default_factory=dict)


class SeverityAssessment(BaseModel):
    severity: Severity
    reasons: list[str]


# Classification lives in classification.py; re-exported here, where routing's callers look for it.
__all__ = [
    "CategoryTerms",
    "Classification",
    "SeverityAssessment",
    "SeverityRule",
    "SeverityRules",
    "Taxonomy",
    "Triage",
    "assess_severity",
    "classify",
]

_RANK = {Severity.GENERAL: 0, Severity.URGENT: 1, Severity.CRITICAL: 2}


def assess_severity(text: str, channel: str, amount_paid: Decimal | None, rules: SeverityRules) -> SeverityAssessment:
    """The highest severity any rule gives, with every reason that applied."""
    lowered = text.lower()
    severity = Severity.GENERAL
    reasons: list[str] = []
    for rule in rules.rules:
        hits = [k for k in rule.keywords if k.lower() in lowered]
        if hits:
            reasons.append(f"{rule.reason}: {', '.join(hits)}")
            severity = max(severity, rule.severity, key=_RANK.__getitem__)
    if amount_paid is not None and amount_paid > rules.urgent_amount_above:
        reasons.append(f"amount_above_{rules.urgent_amount_above}")
        severity = max(severity, Severity.URGENT, key=_RANK.__getitem__)
    floor = rules.channel_floor.get(Channel(channel)) if channel in set(Channel) else None
    if floor is not None and _RANK[floor] > 0:
        reasons.append(f"channel_{channel}")
        severity = max(severity, floor, key=_RANK.__getitem__)
    return SeverityAssessment(severity=severity, reasons=reasons)


class Triage(CaseAggregate):
    """Routing's decisions about one case: what it is and how serious."""

    class ComplaintTriaged(CaseAggregate.Created):
        category: str
        subcategory: str | None
        confidence: Decimal
        matched_terms: list[str]
        severity: str
        severity_reasons: list[str]

    def __init__(
        self,
        envelope: dict[str, Any],
        category: str,
        subcategory: str | None,
        confidence: Decimal,
        matched_terms: list[str],
        severity: str,
        severity_reasons: list[str],
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.category = category
        self.subcategory = subcategory
        self.confidence = confidence
        self.matched_terms = matched_terms
        self.severity = severity
        self.severity_reasons = severity_reasons

    @classmethod
    def triage(
        cls, id: UUID, ctx: EventContext, classification: Classification, severity: SeverityAssessment
    ) -> Triage:
        """Record the first triage of a case."""
        return cls._start(
            cls.ComplaintTriaged,
            id,
            ctx,
            category=classification.category.value,
            subcategory=classification.subcategory,
            confidence=classification.confidence,
            matched_terms=classification.matched_terms,
            severity=severity.severity.value,
            severity_reasons=severity.reasons,
        )
