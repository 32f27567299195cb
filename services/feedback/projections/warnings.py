"""High-frequency warnings (高频问题预警): a category, SKU or store over its baseline.

The read model keeps one row per case (when it was received, its category, SKU and store: the case's facts,
``facts.fold_case``); the warnings themselves are computed at query time for an
instant ``at`` (``warnings_at``), by the rule of ``config/warnings.yaml`` (``is_warning``). Nothing is stored per
warning, so the list cannot depend on the order in which the events arrived, and changing the policy needs no rebuild.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from services.feedback.projections.base import Projection, RowsOf, Table
from services.feedback.projections.facts import moment
from services.feedback.projections.statistics import parse_instant, stamp
from shared.configfiles import load_config
from shared.errors import InvalidValue
from shared.settings import Settings

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


class HighFrequencyWarnings(Projection):
    """High-frequency warnings (高频问题预警): a category, SKU or store over its baseline."""

    name = "feedback_warnings"
    keeps_case = True
    tables = {
        "cases": Table(
            {"case_id": "TEXT NOT NULL", "received_at": "TEXT", "category": "TEXT", "sku": "TEXT", "store_id": "TEXT",
             "doc": "TEXT NOT NULL"},
            ("case_id",),
        ),
    }  # fmt: skip
    indexes = ["CREATE INDEX IF NOT EXISTS {prefix}_cases_received ON {cases} (received_at)"]

    def __init__(self, settings: Settings, policy: WarningPolicy | None = None, *, aside: bool = False) -> None:
        super().__init__(settings, aside=aside)
        self.policy = policy or load_config(settings.config_dir / "warnings.yaml", WarningPolicy)

    def case_rows(self, case_id: str, state: dict[str, Any], case_doc: str | None) -> RowsOf:
        case = state["case"]
        received = moment(case["received_at"]).stamp if case["received_at"] else None
        return (("cases", (case_id, received, case["category"], case["sku"], case["store_id"], case_doc)),)

    def warnings(self, at: datetime) -> list[dict[str, Any]]:
        """The warnings at ``at``, each with the ids of the cases behind it."""
        if at.utcoffset() is None:
            raise InvalidValue("at", "needs a timezone, e.g. 2026-11-25T10:00:00+08:00")
        since = at - self.policy.window - self.policy.baseline
        rows = self.side.query(
            f"SELECT case_id, received_at, category, sku, store_id FROM {self.table['cases']} "
            "WHERE received_at > ? AND received_at <= ?",
            (stamp(since), stamp(at)),
        )
        return warnings_at(rows, at, self.policy)
