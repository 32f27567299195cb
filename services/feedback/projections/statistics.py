"""Counts, timeliness, durations, satisfaction, repeat and reopen rates, by category, store, region, channel,
severity and period.

The stored rows depend on the set of events only, never on their order (live arrival order and a rebuild service by
service must give the same rows): one fact row per case, folded by ``fold_case`` (``evolve_case`` plus a few
order-independent rules of its own), one row per stopped clock and one per survey answer, each keyed by its event.
Every figure is computed at query time from those rows (``summarize``), so filters and groupings cost no extra state.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.feedback.projections.base import BatchRunner, Projection, case_key
from services.feedback.projections.base import dump as _encode
from services.feedback.projections.cases import evolve_case
from shared.contracts import EventMessage
from shared.errors import InvalidValue
from shared.masterdata import MasterData
from shared.settings import Settings
from shared.sidetables import Runner

Period = Literal["day", "week", "month"]
GroupBy = Literal["category", "subcategory", "store", "region", "channel", "severity", "period"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
GROUPS: tuple[str, ...] = ("category", "subcategory", "store", "region", "channel", "severity", "period")
UNKNOWN = "unknown"
PERCENTILES = (50, 90, 95)
SCORES = (1, 2, 3, 4, 5)
# Statuses after which a case is no longer worked on by anyone.
CLOSED_STATUSES = ("closed", "withdrawn", "rejected")


# --- folding (pure, order-independent) ---------------------------------------------------------------------------


def stamp(at: datetime) -> str:
    """An instant as a fixed-width UTC string, so text order is time order (in SQL too)."""
    if at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    return _stamp(at)


@functools.lru_cache(maxsize=65_536)
def _stamp(at: datetime) -> str:
    # Cached by the instant (equal instants in any offset give the same string): every projection stamps the same
    # recorded times.
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 instant (a string from a payload or a row) as an aware datetime; None for None."""
    if value is None:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at if at.utcoffset() is not None else at.replace(tzinfo=UTC)


def later(doc: dict[str, Any], key: str, at: str, values: dict[str, Any]) -> None:
    """The "latest wins" rule: set ``values`` when ``at`` (and then the values themselves, to break a tie) is past
    what ``doc[key]`` recorded."""
    rank = [at, json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)]
    if doc.get(key) is None or rank > doc[key]:
        doc[key] = rank
        doc.update(values)


def fold_case(doc: dict[str, Any] | None, message: EventMessage) -> dict[str, Any]:
    """A case's facts after one more event (pure): the case view (``evolve_case``) plus the SKU, when the customer
    was acknowledged (earliest stop of the acknowledge clock), when it was last resolved, whether it was reopened.

    Every rule is a max, a min, a set union or "latest by recorded time": the same events in any order give the same
    document.
    """
    doc = evolve_case(doc, message)
    payload = message.payload
    at = stamp(message.envelope.recorded_at)
    doc.setdefault("sku", None)
    doc.setdefault("acknowledged_at", None)
    doc.setdefault("resolved_at", None)
    doc.setdefault("reopened", False)
    if message.type == "ComplaintReceived":
        later(doc, "sku_rank", at, {"sku": payload.get("sku")})
    elif message.type == "ClockStopped" and (payload.get("clock") or {}).get("name") == "acknowledge":
        stopped = parse_instant(payload["clock"].get("stopped_at")) or message.envelope.recorded_at
        if doc["acknowledged_at"] is None or stamp(stopped) < doc["acknowledged_at"]:
            doc["acknowledged_at"] = stamp(stopped)
    elif message.type == "CaseResolved":
        if doc["resolved_at"] is None or at > doc["resolved_at"]:
            doc["resolved_at"] = at
    elif message.type == "CaseReopened":
        doc["reopened"] = True
    return doc


def dump(doc: dict[str, Any]) -> str:
    return _encode(doc)


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

_CASE_COLUMNS = (
    "case_id",
    "received_at",
    "channel",
    "store_id",
    "region",
    "category",
    "subcategory",
    "severity",
    "sku",
    "acknowledged_at",
    "resolved_at",
    "repeated",
    "reopened",
    "doc",
)


class Statistics(Projection):
    """Counts, timeliness, durations, satisfaction, repeat and reopen rates, by category, store, region,
    channel, severity and period."""

    name = "feedback_statistics"
    tables = {
        "cases": "CREATE TABLE IF NOT EXISTS {table} (case_id TEXT PRIMARY KEY, received_at TEXT, channel TEXT, "
        "store_id TEXT, region TEXT, category TEXT, subcategory TEXT, severity TEXT, sku TEXT, "
        "acknowledged_at TEXT, resolved_at TEXT, repeated INTEGER NOT NULL, reopened INTEGER NOT NULL, "
        "doc TEXT NOT NULL)",
        "clock_stops": "CREATE TABLE IF NOT EXISTS {table} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
        "clock TEXT NOT NULL, met INTEGER NOT NULL, stopped_at TEXT NOT NULL)",
        "surveys": "CREATE TABLE IF NOT EXISTS {table} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
        "score INTEGER NOT NULL, answered_at TEXT NOT NULL)",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {prefix}_cases_received ON {cases} (received_at)",
        "CREATE INDEX IF NOT EXISTS {prefix}_stops_case ON {clock_stops} (case_id)",
        "CREATE INDEX IF NOT EXISTS {prefix}_surveys_case ON {surveys} (case_id)",
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.zone = ZoneInfo(settings.timezone)
        self.regions = {sid: store.region for sid, store in MasterData.load(settings.master_data_dir).stores.items()}

    def begin(self) -> dict[str, Any]:
        # Each case's facts are read once per batch (one query for all of them) and written once at its end, the
        # stopped clocks and survey answers with them.
        return {"docs": {}, "stops": [], "surveys": []}

    def preload(self, run: BatchRunner, case_ids: list[str], batch: dict[str, Any]) -> None:
        docs = batch["docs"]
        docs.update(dict.fromkeys(case_ids))
        found = run.where_in(f"SELECT case_id, doc FROM {self.table['cases']} WHERE case_id IN ({{marks}})", case_ids)
        docs.update((row["case_id"], json.loads(row["doc"])) for row in found)

    def apply(self, run: Runner, message: EventMessage, batch: dict[str, Any]) -> None:
        case_id = case_key(message.envelope.case_id)
        docs = batch["docs"]
        if case_id not in docs:
            rows = run(f"SELECT doc FROM {self.table['cases']} WHERE case_id = ?", (case_id,))
            docs[case_id] = json.loads(rows[0]["doc"]) if rows else None
        docs[case_id] = fold_case(docs[case_id], message)
        if message.type == "ClockStopped":
            payload = message.payload
            clock = payload.get("clock") or {}
            stopped = parse_instant(clock.get("stopped_at")) or message.envelope.recorded_at
            batch["stops"].append(
                (
                    str(message.envelope.event_id),
                    case_id,
                    str(clock.get("name") or UNKNOWN),
                    int(bool(payload.get("met"))),
                    stamp(stopped),
                )
            )
        elif message.type == "SurveyAnswered":
            batch["surveys"].append(
                (
                    str(message.envelope.event_id),
                    case_id,
                    int(message.payload["score"]),
                    stamp(message.envelope.recorded_at),
                )
            )

    def finish(self, run: Runner, batch: dict[str, Any]) -> None:
        many = run.many  # type: ignore[attr-defined]
        many(
            f"INSERT INTO {self.table['clock_stops']} (event_id, case_id, clock, met, stopped_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            batch["stops"],
        )
        many(
            f"INSERT INTO {self.table['surveys']} (event_id, case_id, score, answered_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING",
            batch["surveys"],
        )
        columns = _CASE_COLUMNS
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "case_id")
        many(
            f"INSERT INTO {self.table['cases']} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT (case_id) DO UPDATE SET {updates}",
            [self._row(case_id, doc) for case_id, doc in batch["docs"].items() if doc is not None],
        )

    def _row(self, case_id: str, doc: dict[str, Any]) -> tuple[Any, ...]:
        """A case's row, in the order of ``_CASE_COLUMNS``."""
        received = parse_instant(doc["received_at"])
        return (
            case_id,
            stamp(received) if received else None,
            doc["channel"],
            doc["store_id"],
            self.regions.get(doc["store_id"]) if doc["store_id"] else None,
            doc["category"],
            doc["subcategory"],
            doc["severity"],
            doc["sku"],
            doc["acknowledged_at"],
            doc["resolved_at"],
            int("repeat" in doc["flags"]),
            int(bool(doc["reopened"])),
            dump(doc),
        )

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

    def dump_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every stored row, sorted (to compare two builds of the read model)."""
        return {short: sorted_rows(self, short) for short in self.tables}


def sorted_rows(projection: Projection, short: str) -> list[dict[str, Any]]:
    rows = projection.side.query(f"SELECT * FROM {projection.table[short]}")
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


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
