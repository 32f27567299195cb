"""Work queues per team and per person, with filters and pagination.

One row per case (its owner, status, severity, category, store, flags: the case view's order-independent rules, see
``statistics.fold_case``) and one row per case clock holding that clock's latest state ("latest by recorded time",
a tie broken by the lifecycle: started < paused/resumed/replanned < stopped, then by the values). The case's nearest
due instant is the minimum over its clocks that are running now — a function of the clock rows alone, so it does not
depend on the order the events came in either. Lists are ordered by that instant, nearest first.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from services.feedback.projections.base import BatchRunner, Projection, case_key
from services.feedback.projections.statistics import (
    CLOSED_STATUSES,
    dump,
    fold_case,
    later,
    parse_instant,
    sorted_rows,
    stamp,
)
from shared.contracts import EventMessage
from shared.errors import InvalidValue
from shared.sidetables import Runner

STATES = ("open", "closed", "all")
_CLOCK_EVENTS = {"ClockStarted": 0, "ClockPaused": 1, "ClockResumed": 1, "ClockReplanned": 1, "ClockStopped": 2}
_DURATION = TypeAdapter(timedelta)
MAX_LIMIT = 500
# The columns of a case's row, in the order ``WorkQueues.finish`` writes them.
_CASE_COLUMNS = (
    "case_id",
    "case_number",
    "status",
    "state",
    "severity",
    "category",
    "store_id",
    "team",
    "queue",
    "assignee",
    "tier",
    "flags",
    "received_at",
    "due_clock",
    "due_at",
    "doc",
)


def clock_due(clock: dict[str, Any], stopped: bool = False) -> datetime | None:
    """When a clock falls due, from its state (pure): None when it is stopped or paused.

    ``due_at`` if the clock carries it, else its absolute ``deadline``, else ``started_at + duration`` plus the time
    it spent paused (wall time: a clock counted in working hours falls due later than this, never earlier).
    """
    if stopped or clock.get("stopped_at") or clock.get("paused_since"):
        return None
    if clock.get("due_at"):
        return parse_instant(clock["due_at"])
    if clock.get("deadline"):
        return parse_instant(clock["deadline"])
    started, duration = parse_instant(clock.get("started_at")), clock.get("duration")
    if started is None or duration is None:
        return None
    paused = _DURATION.validate_python(clock.get("paused_total") or "PT0S")
    return started + _DURATION.validate_python(duration) + paused


def fold_clock(row: dict[str, Any] | None, message: EventMessage) -> dict[str, Any]:
    """A clock's latest state after one more clock event (pure, order-independent)."""
    clock = message.payload.get("clock") or {}
    row = dict(row or {"rank": None, "clock": None, "stopped": False})
    at = stamp(message.envelope.recorded_at)
    values = {"clock": clock, "stopped": message.type == "ClockStopped"}
    # The event's place in a clock's lifecycle breaks a tie at one instant before the values do.
    later(row, "rank", f"{at}#{_CLOCK_EVENTS[message.type]}", values)
    return row


def nearest_due(clocks: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """The name and instant (UTC stamp) of the running clock due first; (None, None) if none runs."""
    due = [(stamp(at), name) for name, row in clocks.items() if (at := clock_due(row["clock"], row["stopped"]))]
    if not due:
        return None, None
    at, name = min(due)
    return name, at


class WorkQueues(Projection):
    """Work queues per team and per person, with filters and pagination."""

    name = "feedback_queues"
    tables = {
        "cases": "CREATE TABLE IF NOT EXISTS {table} (case_id TEXT PRIMARY KEY, case_number TEXT, status TEXT, "
        "state TEXT NOT NULL, severity TEXT, category TEXT, store_id TEXT, team TEXT, queue TEXT, assignee TEXT, "
        "tier TEXT, flags TEXT NOT NULL, received_at TEXT, due_clock TEXT, due_at TEXT, doc TEXT NOT NULL)",
        "clocks": "CREATE TABLE IF NOT EXISTS {table} (case_id TEXT NOT NULL, clock TEXT NOT NULL, "
        "doc TEXT NOT NULL, PRIMARY KEY (case_id, clock))",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {prefix}_cases_queue ON {cases} (queue, state, due_at)",
        "CREATE INDEX IF NOT EXISTS {prefix}_cases_assignee ON {cases} (assignee, state, due_at)",
    ]

    def begin(self) -> dict[str, Any]:
        # Per case in the batch: its facts and its clocks, read once (one query each for the batch) and written once.
        return {}

    def preload(self, run: BatchRunner, case_ids: list[str], batch: dict[str, Any]) -> None:
        for case_id in case_ids:
            batch[case_id] = {"doc": None, "clocks": {}}
        found = run.where_in(f"SELECT case_id, doc FROM {self.table['cases']} WHERE case_id IN ({{marks}})", case_ids)
        for row in found:
            batch[row["case_id"]]["doc"] = json.loads(row["doc"])
        clocks = run.where_in(
            f"SELECT case_id, clock, doc FROM {self.table['clocks']} WHERE case_id IN ({{marks}})", case_ids
        )
        for row in clocks:
            batch[row["case_id"]]["clocks"][row["clock"]] = json.loads(row["doc"])

    def apply(self, run: Runner, message: EventMessage, batch: dict[str, Any]) -> None:
        case_id = case_key(message.envelope.case_id)
        if case_id not in batch:
            rows = run(f"SELECT doc FROM {self.table['cases']} WHERE case_id = ?", (case_id,))
            clocks = run(f"SELECT clock, doc FROM {self.table['clocks']} WHERE case_id = ?", (case_id,))
            batch[case_id] = {
                "doc": json.loads(rows[0]["doc"]) if rows else None,
                "clocks": {row["clock"]: json.loads(row["doc"]) for row in clocks},
            }
        entry = batch[case_id]
        entry["doc"] = fold_case(entry["doc"], message)
        if message.type in _CLOCK_EVENTS:
            name = str((message.payload.get("clock") or {}).get("name") or "unknown")
            entry["clocks"][name] = fold_clock(entry["clocks"].get(name), message)
            entry["changed"] = True

    def finish(self, run: Runner, batch: dict[str, Any]) -> None:
        clock_rows, case_rows = [], []
        for case_id, entry in batch.items():
            doc, clocks = entry["doc"], entry["clocks"]
            if doc is None:
                continue
            if entry.get("changed"):
                clock_rows += [(case_id, name, dump(row)) for name, row in clocks.items()]
            due_clock, due_at = nearest_due(clocks)
            received = parse_instant(doc["received_at"])
            case_rows.append(
                (
                    case_id,
                    doc["case_number"],
                    doc["status"],
                    "closed" if doc["status"] in CLOSED_STATUSES else "open",
                    doc["severity"],
                    doc["category"],
                    doc["store_id"],
                    doc["team"],
                    doc["queue"],
                    doc["assignee"],
                    doc["tier"],
                    json.dumps(doc["flags"]),
                    stamp(received) if received else None,
                    due_clock,
                    due_at,
                    dump(doc),
                )
            )
        run.many(  # type: ignore[attr-defined]
            f"INSERT INTO {self.table['clocks']} (case_id, clock, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (case_id, clock) DO UPDATE SET doc = excluded.doc",
            clock_rows,
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in _CASE_COLUMNS if c != "case_id")
        run.many(  # type: ignore[attr-defined]
            f"INSERT INTO {self.table['cases']} ({', '.join(_CASE_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _CASE_COLUMNS)}) ON CONFLICT (case_id) DO UPDATE SET {updates}",
            case_rows,
        )

    # --- queries -------------------------------------------------------------------------------------------------

    def queue(self, queue: str, **filters: Any) -> dict[str, Any]:
        """A team's queue: its cases matching the filters, nearest due first, one page."""
        return self._page("queue", queue, **filters)

    def person(self, staff_id: str, **filters: Any) -> dict[str, Any]:
        """A person's work: the cases assigned to them matching the filters, nearest due first, one page."""
        return self._page("assignee", staff_id, **filters)

    def _page(
        self,
        column: str,
        value: str,
        state: str | None = "open",
        severity: str | None = None,
        category: str | None = None,
        store: str | None = None,
        flags: list[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        if state is not None and state not in STATES:
            raise InvalidValue("state", f"unknown state {state!r}", STATES)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidValue("limit", f"must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise InvalidValue("offset", "must be 0 or more")
        clauses, params = [f"{column} = ?"], [value]
        wanted = {"state": None if state == "all" else state, "severity": severity, "category": category}
        for name, given in (*wanted.items(), ("store_id", store)):
            if given is not None:
                clauses.append(f"{name} = ?")
                params.append(given)
        for flag in flags or []:
            # Flags are stored as a sorted JSON list of names: each wanted flag must appear in it, quoted.
            clauses.append("flags LIKE ?")
            params.append(f'%"{flag}"%')
        where = " AND ".join(clauses)
        total = self.side.query(f"SELECT COUNT(*) AS n FROM {self.table['cases']} WHERE {where}", params)[0]["n"]
        rows = self.side.query(
            "SELECT case_id, case_number, status, state, severity, category, store_id, team, queue, assignee, tier, "
            f"flags, received_at, due_clock, due_at FROM {self.table['cases']} WHERE {where} "
            "ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, received_at, case_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        items = [{**row, "flags": json.loads(row["flags"])} for row in rows]
        return {"total": int(total), "limit": limit, "offset": offset, "items": items}

    def dump_tables(self) -> dict[str, list[dict[str, Any]]]:
        return {short: sorted_rows(self, short) for short in self.tables}
