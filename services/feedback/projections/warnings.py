"""High-frequency warnings (高频问题预警): a category, SKU or store over its baseline.

Computed at query time for an instant ``at`` (``warnings_at``) from the statistics read model's case rows (when each
case was received, its category, SKU and store: the case's facts, ``facts.fold_case``), by the rule of
``config/warnings.yaml`` (``is_warning``; ``Statistics.warnings``). Nothing is stored per warning, so the list cannot
depend on the order in which the events arrived, changing the policy needs no rebuild, and the warnings need no store
of their own: the statistics' rows are the same facts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from services.feedback.projections.facts import parse_instant

Dimension = Literal["category", "sku", "store"]
_COLUMN = {"category": "category", "sku": "sku", "store": "store_id"}


class WarningPolicy(BaseModel):
    """``config/warnings.yaml``: the window, the baseline period before it, the factor and the minimum count."""

    window: timedelta
    baseline: timedelta
    factor: Decimal = Field(gt=0)
    minimum: int = Field(ge=1)
    dimensions: list[Dimension]

    @field_validator("window", "baseline")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def expected(baseline_count: int, window: timedelta, baseline: timedelta) -> Fraction:
    """The baseline scaled to the window: ``baseline_count × window / baseline`` (exact)."""
    return Fraction(baseline_count) * Fraction(_micros(window), _micros(baseline))


def is_warning(count: int, baseline_count: int, policy: WarningPolicy) -> bool:
    """More than ``factor`` × the scaled baseline, and at least ``minimum``: exactly the threshold is no warning."""
    threshold = Fraction(policy.factor) * expected(baseline_count, policy.window, policy.baseline)
    return count >= policy.minimum and count > threshold


def warnings_at(rows: list[dict[str, Any]], at: datetime, policy: WarningPolicy) -> list[dict[str, Any]]:
    """The warnings at ``at`` among case rows (``received_at`` and the dimensions' columns), pure.

    The window is (at − window, at]; the baseline period is (at − window − baseline, at − window].
    """
    window_start = at - policy.window
    baseline_start = window_start - policy.baseline
    found = []
    for dimension in policy.dimensions:
        in_window: dict[str, list[str]] = defaultdict(list)
        in_baseline: dict[str, int] = defaultdict(int)
        for row in rows:
            value, received = row[_COLUMN[dimension]], parse_instant(row["received_at"])
            if value is None or received is None:
                continue
            if window_start < received <= at:
                in_window[value].append(row["case_id"])
            elif baseline_start < received <= window_start:
                in_baseline[value] += 1
        for value, case_ids in in_window.items():
            count, base = len(case_ids), in_baseline.get(value, 0)
            if not is_warning(count, base, policy):
                continue
            scaled = expected(base, policy.window, policy.baseline)
            found.append(
                {
                    "dimension": dimension,
                    "value": value,
                    "count": count,
                    "baseline": round(float(scaled), 4),
                    "baseline_count": base,
                    "factor": float(policy.factor),
                    "threshold": round(float(Fraction(policy.factor) * scaled), 4),
                    "minimum": policy.minimum,
                    "window": {"from": window_start.astimezone(UTC).isoformat(), "to": at.astimezone(UTC).isoformat()},
                    "baseline_window": {
                        "from": baseline_start.astimezone(UTC).isoformat(),
                        "to": window_start.astimezone(UTC).isoformat(),
                    },
                    "case_ids": sorted(case_ids),
                }
            )
    order = {d: i for i, d in enumerate(policy.dimensions)}
    return sorted(found, key=lambda w: (order[w["dimension"]], -w["count"], w["value"]))
