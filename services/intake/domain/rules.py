"""Intake's rules with numbers: repeat complaints and nuisance sources. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class RepeatRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(default=30, ge=1)


class NuisanceRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flags_to_block: int = Field(default=3, ge=1)
    window_days: int = Field(default=30, ge=1)


class IntakeRules(BaseModel):
    """``config/intake.yaml``."""

    model_config = ConfigDict(extra="forbid")

    repeat: RepeatRule = RepeatRule()
    nuisance: NuisanceRule = NuisanceRule()


@dataclass(frozen=True)
class PastCase:
    """What repeat detection knows of one of the customer's cases."""

    case_id: UUID
    case_number: str
    order_id: str | None
    category: str | None
    received_at: datetime


@dataclass(frozen=True)
class Repeat:
    """The earlier case a complaint repeats, and why."""

    case: PastCase
    basis: str  # "same_order" or "same_category"
    days_apart: int


def find_repeat(new: PastCase, earlier: list[PastCase], rule: RepeatRule) -> Repeat | None:
    """The most recent earlier case of the same customer with the same order, or the same category,
    received at most ``rule.window_days`` days before ``new``; None if there is none."""
    window = timedelta(days=rule.window_days)
    matches = []
    for case in earlier:
        if case.case_id == new.case_id or not (timedelta(0) <= new.received_at - case.received_at <= window):
            continue
        if new.order_id and case.order_id == new.order_id:
            matches.append(Repeat(case, "same_order", (new.received_at - case.received_at).days))
        elif new.category and case.category == new.category:
            matches.append(Repeat(case, "same_category", (new.received_at - case.received_at).days))
    return max(matches, key=lambda r: r.case.received_at, default=None)
