"""Routing's two tables beside its events, rewritten in the same transaction as each save of a ``Triage``:

* ``timers``: every warning and breach not yet announced, with the instant it falls due; the timer worker reads the
  due ones. Being derived from the events and committed with them, no timer is lost when the service is down.
* ``queue``: one row per case and team working on it (the lead and any supporting teams), with the nearest
  deadline: the work queues per team and per person.
* ``loads``: per member, the open cases they lead and when they were last given one, kept by the same statements
  that rewrite a case's lead row, so balancing reads one row per candidate however many cases exist.

Instants are stored as integer microseconds since the epoch (UTC), which sort and index alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.routing.calendar import BusinessCalendar
from services.routing.domain import Load, Triage
from shared.sidetables import SideTables, instant, micros

Write = tuple[str, tuple[Any, ...]]


class RoutingTables:
    """The timers and work-queue tables of routing's store."""

    def __init__(self, side: SideTables) -> None:
        self.side = side
        self.timers = side.table("timers")
        self.queue = side.table("queue")
        self.loads_table = side.table("loads")
        side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.timers} (case_id TEXT NOT NULL, clock TEXT NOT NULL, "
                    "kind TEXT NOT NULL, fires_at BIGINT NOT NULL, PRIMARY KEY (case_id, clock, kind))",
                    (),
                ),
                (f"CREATE INDEX IF NOT EXISTS {side.prefix}_timers_due ON {self.timers} (fires_at)", ()),
                (
                    f"CREATE TABLE IF NOT EXISTS {self.queue} (case_id TEXT NOT NULL, queue TEXT NOT NULL, "
                    "role TEXT NOT NULL, case_number TEXT NOT NULL, team TEXT NOT NULL, assignee TEXT, "
                    "tier TEXT, severity TEXT NOT NULL, category TEXT NOT NULL, state TEXT NOT NULL, "
                    "flags TEXT NOT NULL, next_due_at BIGINT, assigned_at BIGINT, PRIMARY KEY (case_id, queue))",
                    (),
                ),
                (
                    f"CREATE TABLE IF NOT EXISTS {self.loads_table} (staff_id TEXT PRIMARY KEY, "
                    "open_cases INTEGER NOT NULL, last_assigned_at BIGINT)",
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS {side.prefix}_queue_by_queue "
                    f"ON {self.queue} (queue, state, next_due_at)",
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS {side.prefix}_queue_by_assignee "
                    f"ON {self.queue} (assignee, state, next_due_at)",
                    (),
                ),
            ]
        )

    def writes_for(self, triage: Triage, calendar: BusinessCalendar) -> list[Write]:
        """The rows of one case after a save: its pending timers and its queue rows."""
        case = str(triage.case_id)
        writes: list[Write] = [
            (f"DELETE FROM {self.timers} WHERE case_id = ?", (case,)),
            # The case's previous lead row no longer counts for its member; the new one is counted below.
            (
                f"UPDATE {self.loads_table} SET open_cases = open_cases - 1 WHERE staff_id = "
                f"(SELECT assignee FROM {self.queue} WHERE case_id = ? AND role = 'lead' AND state = 'open')",
                (case,),
            ),
            (f"DELETE FROM {self.queue} WHERE case_id = ?", (case,)),
        ]
        insert_timer = f"INSERT INTO {self.timers} (case_id, clock, kind, fires_at) VALUES (?, ?, ?, ?)"
        writes += [
            (insert_timer, (case, clock.value, kind.value, micros(at)))
            for clock, kind, at in triage.pending_timers(calendar)
        ]
        owner = triage.owner
        if owner is None:
            return writes
        due = triage.next_due_at(calendar)
        common = (
            triage.intake.case_number,
            triage.severity,
            triage.category,
            triage.state.value,
            ",".join(sorted(triage.flags)),
            None if due is None else micros(due),
        )
        insert_row = (
            f"INSERT INTO {self.queue} (case_id, queue, role, team, assignee, tier, assigned_at, case_number, "
            "severity, category, state, flags, next_due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        since = None if owner.since is None else micros(owner.since)
        writes.append(
            (insert_row, (case, owner.queue, "lead", owner.team, owner.assignee, owner.tier.value, since, *common))
        )
        if owner.assignee is not None:
            writes.append(
                (
                    f"INSERT INTO {self.loads_table} AS l (staff_id, open_cases, last_assigned_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (staff_id) DO UPDATE SET open_cases = l.open_cases + excluded.open_cases, "
                    "last_assigned_at = CASE WHEN l.last_assigned_at IS NULL "
                    "OR excluded.last_assigned_at > l.last_assigned_at "
                    "THEN excluded.last_assigned_at ELSE l.last_assigned_at END",
                    (owner.assignee, 1 if triage.is_open else 0, since),
                )
            )
        for queue in triage.supporting:
            team = queue.split("@", 1)[0]
            writes.append((insert_row, (case, queue, "supporting", team, None, None, None, *common)))
        return writes

    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Timers due at ``now``, earliest first."""
        return self.side.query(
            f"SELECT case_id, clock, kind, fires_at FROM {self.timers} WHERE fires_at <= ? "
            "ORDER BY fires_at, case_id, clock, kind LIMIT ?",
            (micros(now), limit),
        )

    def loads(self, members: list[str]) -> dict[str, Load]:
        """Each member's open cases (as lead) and when they were last given a case."""
        if not members:
            return {}
        marks = ", ".join("?" for _ in members)
        rows = self.side.query(
            f"SELECT staff_id, open_cases, last_assigned_at FROM {self.loads_table} WHERE staff_id IN ({marks})",
            tuple(members),
        )
        return {
            row["staff_id"]: Load(open_cases=row["open_cases"], last_assigned_at=instant(row["last_assigned_at"]))
            for row in rows
        }

    def work_queue(
        self, *, queue: str | None = None, assignee: str | None = None, state: str = "open", limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """A team's queue or a person's cases in ``state``, nearest deadline first (none last); total and page."""
        column, value = ("queue", queue) if queue is not None else ("assignee", assignee)
        where = f"WHERE {column} = ? AND state = ?"
        total = self.side.query(f"SELECT COUNT(*) AS n FROM {self.queue} {where}", (value, state))[0]["n"]
        rows = self.side.query(
            f"SELECT case_id, case_number, queue, role, team, assignee, tier, severity, category, state, flags, "
            f"next_due_at, assigned_at FROM {self.queue} {where} "
            "ORDER BY CASE WHEN next_due_at IS NULL THEN 1 ELSE 0 END, next_due_at, case_number LIMIT ? OFFSET ?",
            (value, state, limit, offset),
        )
        return int(total), [
            {
                **row,
                "flags": [f for f in row["flags"].split(",") if f],
                "next_due_at": _iso(instant(row["next_due_at"])),
                "assigned_at": _iso(instant(row["assigned_at"])),
            }
            for row in rows
        ]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
