"""Severity rules (紧急程度分级) from ``config/severity.yaml``: the highest severity any rule gives, with reasons. Pure."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

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
