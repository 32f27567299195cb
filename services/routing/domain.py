"""Routing's domain: classification and severity rules, and the ``Triage`` aggregate. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Category, Channel, Severity


class CategoryTerms(BaseModel):
    """The words and phrases (Chinese and English) that point to one category."""

    code: Category
    label_zh: str
    label_en: str
    keywords: list[str] = Field(min_length=1)


class Taxonomy(BaseModel):
    """``config/taxonomy.yaml``: categories in precedence order (the first wins a tie)."""

    categories: list[CategoryTerms]

    @model_validator(mode="after")
    def _unique_codes(self) -> Taxonomy:
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ValueError("a category is listed twice")
        return self


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


class Classification(BaseModel):
    """A category with the evidence for it: a person sees why."""

    category: Category
    confidence: Decimal
    matched_terms: list[str]


class SeverityAssessment(BaseModel):
    severity: Severity
    reasons: list[str]


_RANK = {Severity.GENERAL: 0, Severity.URGENT: 1, Severity.CRITICAL: 2}


def classify(text: str, taxonomy: Taxonomy) -> Classification:
    """Count each category's terms in the text; most hits wins, ties go to the earlier category."""
    lowered = text.lower()
    best: tuple[int, CategoryTerms] | None = None
    total = 0
    matched: dict[Category, list[str]] = {}
    for terms in taxonomy.categories:
        hits = [k for k in terms.keywords if k.lower() in lowered]
        matched[terms.code] = hits
        total += len(hits)
        if hits and (best is None or len(hits) > best[0]):
            best = (len(hits), terms)
    if best is None:
        return Classification(category=Category.OTHER, confidence=Decimal("0"), matched_terms=[])
    confidence = (Decimal(best[0]) / Decimal(total)).quantize(Decimal("0.01"))
    return Classification(category=best[1].code, confidence=confidence, matched_terms=matched[best[1].code])


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
        confidence: Decimal
        matched_terms: list[str]
        severity: str
        severity_reasons: list[str]

    def __init__(
        self,
        envelope: dict[str, Any],
        category: str,
        confidence: Decimal,
        matched_terms: list[str],
        severity: str,
        severity_reasons: list[str],
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.category = category
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
            confidence=classification.confidence,
            matched_terms=classification.matched_terms,
            severity=severity.severity.value,
            severity_reasons=severity.reasons,
        )
