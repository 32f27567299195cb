"""Work queues per team and per person, with filters and pagination.

One row per case: its owner, status, severity, category, store, flags and the nearest instant one of its clocks falls
due, all from the case's facts (``facts.fold_case``, which keeps each clock's latest state: "latest by recorded time",
a tie broken by the lifecycle — started < paused/resumed/replanned < stopped — then by the values). The nearest due
instant is the minimum over the clocks running now, so it does not depend on the order the events came in either.
Lists are ordered by that instant, nearest first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from services.feedback.projections.base import Projection, RowsOf, Table
from services.feedback.projections.facts import dump, load, moment, parse_instant, stamp
from services.feedback.projections.statistics import CLOSED_STATUSES
from shared.bounds import OFFSET_MAX
from shared.errors import InvalidValue
from shared.sidetables import LIKE_ESCAPE, containing

STATES = ("open", "closed", "all")
_DURATION = TypeAdapter(timedelta)
MAX_LIMIT = 500


def clock_due(clock: dict[str, Any]) -> datetime | None:
    """When a clock falls due, from its state (a clock as routing publishes it, or its latest state in the case's
    facts; pure): None when it is stopped or paused.

    ``due_at`` if the clock carries it, else its absolute ``deadline``, else ``started_at + duration`` plus the time
    it spent paused (wall time: a clock counted in working hours falls due later than this, never earlier).
    """
    if clock.get("stopped_at") or clock.get("paused_since") or clock.get("state", "running") != "running":
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


def nearest_due(clocks: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """The name and instant (UTC stamp) of the running clock due first; (None, None) if none runs."""
    due = [(stamp(at), name) for name, clock in clocks.items() if (at := clock_due(clock))]
    if not due:
        return None, None
    at, name = min(due)
    return name, at


class WorkQueues(Projection):
    """Work queues per team and per person, with filters and pagination."""

    name = "feedback_queues"
    keeps_case = True
    retired = ("clocks",)  # each clock's latest state, now in the case's facts
    tables = {
        "cases": Table(
            {"case_id": "TEXT NOT NULL", "case_number": "TEXT", "status": "TEXT", "state": "TEXT NOT NULL",
             "severity": "TEXT", "category": "TEXT", "store_id": "TEXT", "team": "TEXT", "queue": "TEXT",
             "assignee": "TEXT", "tier": "TEXT", "flags": "TEXT NOT NULL", "received_at": "TEXT", "due_clock": "TEXT",
             "due_at": "TEXT", "doc": "TEXT NOT NULL"},
            ("case_id",),
        ),
    }  # fmt: skip
    indexes = [
        "CREATE INDEX IF NOT EXISTS {prefix}_cases_queue ON {cases} (queue, state, due_at)",
        "CREATE INDEX IF NOT EXISTS {prefix}_cases_assignee ON {cases} (assignee, state, due_at)",
    ]

    def case_rows(self, case_id: str, state: dict[str, Any], case_doc: str | None) -> RowsOf:
        case = state["case"]
        due_clock, due_at = nearest_due(case["clocks"])
        received = case["received_at"]
        row = (
            case_id,
            case["case_number"],
            case["status"],
            "closed" if case["status"] in CLOSED_STATUSES else "open",
            case["severity"],
            case["category"],
            case["store_id"],
            case["team"],
            case["queue"],
            case["assignee"],
            case["tier"],
            dump(case["flags"]),
            moment(received).stamp if received else None,
            due_clock,
            due_at,
            case_doc,
        )
        return (("cases", row),)

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
        if not 0 <= offset <= OFFSET_MAX:
            raise InvalidValue("offset", f"must be between 0 and {OFFSET_MAX}")
        clauses, params = [f"{column} = ?"], [value]
        wanted = {"state": None if state == "all" else state, "severity": severity, "category": category}
        for name, given in (*wanted.items(), ("store_id", store)):
            if given is not None:
                clauses.append(f"{name} = ?")
                params.append(given)
        for flag in flags or []:
            # Flags are stored as a sorted JSON list of names: each wanted flag must appear in it, quoted.
            clauses.append(f"flags LIKE ? {LIKE_ESCAPE}")
            params.append(containing(f'"{flag}"'))
        where = " AND ".join(clauses)
        total = self.side.query(f"SELECT COUNT(*) AS n FROM {self.table['cases']} WHERE {where}", params)[0]["n"]
        rows = self.side.query(
            "SELECT case_id, case_number, status, state, severity, category, store_id, team, queue, assignee, tier, "
            f"flags, received_at, due_clock, due_at FROM {self.table['cases']} WHERE {where} "
            "ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, received_at, case_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        items = [{**row, "flags": load(row["flags"])} for row in rows]
        return {"total": int(total), "limit": limit, "offset": offset, "items": items}
