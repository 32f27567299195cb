"""Counts, timeliness, durations, satisfaction, repeat and reopen rates, by category, store, region, channel,
severity and period; and the high-frequency warnings (高频问题预警) over the same rows.

The stored rows depend on the set of events only, never on their order (live arrival order and a rebuild service by
service must give the same rows): one fact row per case (the case's facts, ``facts.fold_case``), one row per stopped
clock and one per survey answer, each keyed by its event. Every figure is computed at query time from those rows
(``summarize``), so filters and groupings cost no extra state.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.feedback.projections.base import Projection, RowsOf, Table
from services.feedback.projections.facts import Fact, moment, stamp
from services.feedback.projections.warnings import WarningPolicy, warnings_at
from shared.configfiles import load_config
from shared.errors import InvalidValue
from shared.masterdata import MasterData
from shared.settings import Settings

Period = Literal["day", "week", "month"]
GroupBy = Literal["category", "subcategory", "store", "region", "channel", "severity", "period"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
GROUPS: tuple[str, ...] = ("category", "subcategory", "store", "region", "channel", "severity", "period")
UNKNOWN = "unknown"
PERCENTILES = (50, 90, 95)
SCORES = (1, 2, 3, 4, 5)
# Statuses after which a case is no longer worked on by anyone.
CLOSED_STATUSES = ("closed", "withdrawn", "rejected")


# --- aggregation (pure) --------------------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float | None:
    """The ``p``-th percentile (0–100) by linear interpolation between closest ranks; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError("a percentile lies between 0 and 100")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def durations(seconds: list[float]) -> dict[str, Any]:
    """How many durations there are and their p50/p90/p95, in seconds."""
    result: dict[str, Any] = {"count": len(seconds)}
    for p in PERCENTILES:
        value = percentile(seconds, p)
        result[f"p{p}_seconds"] = None if value is None else round(value, 3)
    return result


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; None when there is no whole."""
    return round(part / whole, 4) if whole else None


def csat(scores: list[int]) -> dict[str, Any]:
    """The average satisfaction score and how many answers gave each score 1–5."""
    counts = Counter(scores)
    return {
        "answers": len(scores),
        "average": round(sum(scores) / len(scores), 2) if scores else None,
        "distribution": {str(score): counts.get(score, 0) for score in SCORES},
    }


def timeliness(stops: list[dict[str, Any]]) -> dict[str, Any]:
    """Per clock name, of the clocks stopped, how many met their deadline and the share; plus all clocks together."""
    by_clock: dict[str, list[bool]] = defaultdict(list)
    for stop in stops:
        by_clock[stop["clock"]].append(bool(stop["met"]))
    result: dict[str, Any] = {}
    for clock in sorted(by_clock):
        met = sum(by_clock[clock])
        result[clock] = {"stopped": len(by_clock[clock]), "met": met, "share": rate(met, len(by_clock[clock]))}
    met = sum(bool(stop["met"]) for stop in stops)
    result["all"] = {"stopped": len(stops), "met": met, "share": rate(met, len(stops))}
    return result


def period_of(received_at: str, period: str, zone: ZoneInfo) -> str:
    """The day (2026-11-25), ISO week (2026-W48) or month (2026-11) of an instant, in the chain's zone."""
    local = datetime.fromisoformat(received_at).astimezone(zone)
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return local.strftime("%Y-%m")
    raise InvalidValue("period", f"unknown period {period!r}", PERIODS)


def seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def group_key(group_by: str, period: str, zone: ZoneInfo) -> Callable[[dict[str, Any]], str | None]:
    """The value a case row is counted under for ``group_by`` (None: not counted, e.g. no sub-category)."""
    if group_by == "period":
        return lambda case: period_of(case["received_at"], period, zone)
    if group_by == "subcategory":
        return lambda case: f"{case['category'] or UNKNOWN}/{case['subcategory']}" if case["subcategory"] else None
    column = {"store": "store_id"}.get(group_by, group_by)
    if group_by not in GROUPS:
        raise InvalidValue("group_by", f"unknown grouping {group_by!r}", GROUPS)
    return lambda case: case[column] or UNKNOWN


def summarize(
    cases: list[dict[str, Any]],
    stops: list[dict[str, Any]],
    surveys: list[dict[str, Any]],
    period: str = "month",
    zone: ZoneInfo = ZoneInfo("Asia/Shanghai"),
) -> dict[str, Any]:
    """Every figure over the given case rows and the stopped clocks and survey answers of those cases."""
    ack = [s for c in cases if (s := seconds_between(c["received_at"], c["acknowledged_at"])) is not None]
    resolve = [s for c in cases if (s := seconds_between(c["received_at"], c["resolved_at"])) is not None]
    resolved = sum(1 for c in cases if c["resolved_at"] is not None)
    repeated = sum(1 for c in cases if c["repeated"])
    reopened = sum(1 for c in cases if c["reopened"])
    counts: dict[str, dict[str, int]] = {}
    for group in GROUPS:
        key = group_key(group, period, zone)
        tally = Counter(value for case in cases if (value := key(case)) is not None)
        counts[group] = dict(sorted(tally.items()))
    return {
        "cases": len(cases),
        "period": period,
        "counts": counts,
        "timeliness": timeliness(stops),
        "time_to_acknowledge": durations(ack),
        "time_to_resolve": durations(resolve),
        "csat": csat([int(s["score"]) for s in surveys]),
        "repeat": {"cases": repeated, "rate": rate(repeated, len(cases))},
        "reopen": {"cases": reopened, "resolved": resolved, "rate": rate(reopened, resolved)},
    }


EXPORT_COLUMNS = (
    "cases",
    "timeliness",
    "acknowledge_p50_hours",
    "acknowledge_p90_hours",
    "acknowledge_p95_hours",
    "resolve_p50_hours",
    "resolve_p90_hours",
    "resolve_p95_hours",
    "csat_average",
    "csat_answers",
    "repeat_rate",
    "reopen_rate",
)


def grouped(
    cases: list[dict[str, Any]],
    stops: list[dict[str, Any]],
    surveys: list[dict[str, Any]],
    group_by: str,
    period: str = "month",
    zone: ZoneInfo = ZoneInfo("Asia/Shanghai"),
) -> list[dict[str, Any]]:
    """One row per value of ``group_by`` (sorted), with the export's columns."""
    key = group_key(group_by, period, zone)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        value = key(case)
        if value is not None:
            groups[value].append(case)
    rows = []
    for value in sorted(groups):
        members = {case["case_id"] for case in groups[value]}
        summary = summarize(
            groups[value],
            [s for s in stops if s["case_id"] in members],
            [s for s in surveys if s["case_id"] in members],
            period,
            zone,
        )
        row: dict[str, Any] = {group_by: value, "cases": summary["cases"]}
        row["timeliness"] = summary["timeliness"]["all"]["share"]
        for name, figures in (("acknowledge", summary["time_to_acknowledge"]), ("resolve", summary["time_to_resolve"])):
            for p in PERCENTILES:
                seconds = figures[f"p{p}_seconds"]
                row[f"{name}_p{p}_hours"] = None if seconds is None else round(seconds / 3600, 2)
        row["csat_average"] = summary["csat"]["average"]
        row["csat_answers"] = summary["csat"]["answers"]
        row["repeat_rate"] = summary["repeat"]["rate"]
        row["reopen_rate"] = summary["reopen"]["rate"]
        rows.append(row)
    return rows


# --- the read model ------------------------------------------------------------------------------------------------


class Statistics(Projection):
    """Counts, timeliness, durations, satisfaction, repeat and reopen rates, by category, store, region,
    channel, severity and period."""

    name = "feedback_statistics"
    keeps_case = True
    tables = {
        "cases": Table(
            {"case_id": "TEXT NOT NULL", "received_at": "TEXT", "channel": "TEXT", "store_id": "TEXT", "region": "TEXT",
             "category": "TEXT", "subcategory": "TEXT", "severity": "TEXT", "sku": "TEXT", "acknowledged_at": "TEXT",
             "resolved_at": "TEXT", "repeated": "INTEGER NOT NULL", "reopened": "INTEGER NOT NULL",
             "doc": "TEXT NOT NULL"},
            ("case_id",),
        ),
        "clock_stops": Table(
            {"event_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "clock": "TEXT NOT NULL",
             "met": "INTEGER NOT NULL", "stopped_at": "TEXT NOT NULL"},
            ("event_id",), upsert=False,
        ),
        "surveys": Table(
            {"event_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "score": "INTEGER NOT NULL",
             "answered_at": "TEXT NOT NULL"},
            ("event_id",), upsert=False,
        ),
    }  # fmt: skip
    indexes = [
        "CREATE INDEX IF NOT EXISTS {prefix}_cases_received ON {cases} (received_at)",
        "CREATE INDEX IF NOT EXISTS {prefix}_stops_case ON {clock_stops} (case_id)",
        "CREATE INDEX IF NOT EXISTS {prefix}_surveys_case ON {surveys} (case_id)",
    ]

    def __init__(self, settings: Settings, *, policy: WarningPolicy | None = None, **options: Any) -> None:
        super().__init__(settings, **options)
        self.zone = ZoneInfo(settings.timezone)
        self.regions = {sid: store.region for sid, store in MasterData.load(settings.master_data_dir).stores.items()}
        self.policy = policy or load_config(settings.config_dir / "warnings.yaml", WarningPolicy)

    def event_rows(self, fact: Fact) -> RowsOf:
        if fact.type == "ClockStopped":
            clock = fact.payload.get("clock") or {}
            stopped = moment(clock["stopped_at"]).stamp if clock.get("stopped_at") else fact.at.stamp
            met = int(bool(fact.payload.get("met")))
            return (("clock_stops", (fact.envelope["event_id"], fact.case_id, str(clock.get("name") or UNKNOWN), met,
                                     stopped)),)  # fmt: skip
        if fact.type == "SurveyAnswered":
            return (("surveys", (fact.envelope["event_id"], fact.case_id, int(fact.payload["score"]), fact.at.stamp)),)
        return ()

    def case_rows(self, case_id: str, state: dict[str, Any], case_doc: str | None) -> RowsOf:
        case = state["case"]
        store = case["store_id"]
        received = case["received_at"]
        row = (
            case_id,
            moment(received).stamp if received else None,
            case["channel"],
            store,
            self.regions.get(store) if store else None,
            case["category"],
            case["subcategory"],
            case["severity"],
            case["sku"],
            case["acknowledged_at"],
            case["resolved_at"],
            int("repeat" in case["flags"]),
            int(bool(case["reopened"])),
            case_doc,
        )
        return (("cases", row),)

    # --- queries -------------------------------------------------------------------------------------------------

    def rows(self, **filters: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The received cases matching the filters, their stopped clocks and their survey answers."""
        where, params = case_filter(**filters)
        cases = self.side.query(
            f"SELECT case_id, received_at, channel, store_id, region, category, subcategory, severity, sku, "
            f"acknowledged_at, resolved_at, repeated, reopened FROM {self.table['cases']} c WHERE {where} "
            "ORDER BY case_id",
            params,
        )
        stops = self.side.query(
            f"SELECT s.case_id, s.clock, s.met FROM {self.table['clock_stops']} s "
            f"JOIN {self.table['cases']} c ON c.case_id = s.case_id WHERE {where}",
            params,
        )
        surveys = self.side.query(
            f"SELECT s.case_id, s.score FROM {self.table['surveys']} s "
            f"JOIN {self.table['cases']} c ON c.case_id = s.case_id WHERE {where}",
            params,
        )
        return cases, stops, surveys

    def warnings(self, at: datetime) -> list[dict[str, Any]]:
        """The high-frequency warnings at ``at``, each with the ids of the cases behind it."""
        if at.utcoffset() is None:
            raise InvalidValue("at", "needs a timezone, e.g. 2026-11-25T10:00:00+08:00")
        since = at - self.policy.window - self.policy.baseline
        rows = self.side.query(
            f"SELECT case_id, received_at, category, sku, store_id FROM {self.table['cases']} "
            "WHERE received_at > ? AND received_at <= ?",
            (stamp(since), stamp(at)),
        )
        return warnings_at(rows, at, self.policy)

    def summary(self, period: str = "month", **filters: Any) -> dict[str, Any]:
        """Every figure over the cases received in [from, to) that match the filters."""
        if period not in PERIODS:
            raise InvalidValue("period", f"unknown period {period!r}", PERIODS)
        result = summarize(*self.rows(**filters), period=period, zone=self.zone)
        return {"filters": described(**filters), **result}

    def export(self, group_by: str, period: str = "month", **filters: Any) -> list[dict[str, Any]]:
        """One row per group (``group_by``) with the export's columns."""
        if group_by not in GROUPS:
            raise InvalidValue("group_by", f"unknown grouping {group_by!r}", GROUPS)
        if period not in PERIODS:
            raise InvalidValue("period", f"unknown period {period!r}", PERIODS)
        return grouped(*self.rows(**filters), group_by=group_by, period=period, zone=self.zone)


def case_filter(
    start: datetime | None = None,
    end: datetime | None = None,
    store: str | None = None,
    region: str | None = None,
    category: str | None = None,
    channel: str | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (on alias ``c``) for received cases in [start, end) of a store, region, category, channel."""
    clauses, params = ["c.received_at IS NOT NULL"], []
    for field, bound, op in (("from", start, ">="), ("to", end, "<")):
        if bound is not None:
            if bound.utcoffset() is None:
                raise InvalidValue(field, "needs a timezone, e.g. 2026-11-01T00:00:00+08:00")
            clauses.append(f"c.received_at {op} ?")
            params.append(stamp(bound))
    for column, value in (("store_id", store), ("region", region), ("category", category), ("channel", channel)):
        if value is not None:
            clauses.append(f"c.{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def described(**filters: Any) -> dict[str, Any]:
    names = {"start": "from", "end": "to"}
    return {
        names.get(k, k): (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.items() if v is not None
    }
