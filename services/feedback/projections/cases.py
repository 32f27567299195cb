"""The case view and the timeline, projected from every service's events.

Each message is applied together with a tracking record in one transaction, in a store of the
projection's own (``feedback_views``), so the views can be dropped and rebuilt at any time. The case view is the
case's facts (``facts.fold_case``). The timeline is an index: per case, which events of which service's log are
about it (service, notification id); the entries are read from the services' stores when asked for, decoded as the
relays decode them (``logs.StoreLog``), so the audit trail shows the very events the hash chains cover, never a copy
of them. A case can also be rebuilt from them as it stood at any earlier instant.
"""

from __future__ import annotations

import heapq
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

from services.feedback.projections.base import Projection, RowsOf, Table
from services.feedback.projections.facts import Fact, as_fact, fold_case, load, moment
from services.feedback.projections.logs import StoreLog
from shared.access.policy import CaseScope
from shared.contracts import Envelope, EventMessage
from shared.errors import InvalidValue
from shared.settings import Settings


def timeline_entry(message: EventMessage | Fact) -> dict[str, Any]:
    """One line of a case's audit trail: who did what, when, caused by which event.

    It holds the whole message (``message_from_entry`` gives it back) for as-of rebuilds.
    """
    fact = as_fact(message)
    envelope = fact.envelope
    return {
        "msg_id": fact.msg_id,
        "service": fact.service,
        "notification_id": fact.notification_id,
        "type": fact.type,
        "case_id": fact.case_id,
        "event_id": envelope["event_id"],
        "causation_id": envelope["causation_id"],
        "correlation_id": envelope["correlation_id"],
        "recorded_at": fact.at.local,
        "occurred_at": moment(envelope["occurred_at"]).local,
        "actor": envelope["actor"],
        "schema_version": envelope["schema_version"],
        "payload": fact.payload,
    }


def message_from_entry(entry: dict[str, Any]) -> EventMessage:
    """The message a timeline entry was made from (its envelope names the service that published it)."""
    fact = fact_from_entry(entry)
    return EventMessage(
        service=fact.service,
        notification_id=fact.notification_id,
        type=fact.type,
        envelope=Envelope.model_validate(fact.envelope),
        payload=fact.payload,
    )


def recorded_by(entries: list[dict[str, Any]], as_of: datetime) -> list[dict[str, Any]]:
    """The timeline entries recorded at or before ``as_of``, which must be timezone-aware."""
    if as_of.utcoffset() is None:
        raise InvalidValue("as_of", "needs a timezone, e.g. 2026-11-25T10:00:00+08:00 or 2026-11-25T02:00:00Z")
    return [entry for entry in entries if datetime.fromisoformat(entry["recorded_at"]) <= as_of]


def fact_from_entry(entry: dict[str, Any]) -> Fact:
    """The fact a timeline entry was made from (the entry keeps every envelope field under its own name)."""
    envelope = {key: entry[key] for key in _ENVELOPE}
    return Fact(entry["service"], entry["notification_id"], entry["type"], envelope, entry["payload"])


_ENVELOPE = tuple(Envelope.model_fields)


def rebuild_case(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The case view that the entries' events make, folded in causal order; None without events."""
    view = None
    for entry in causal_order(entries):
        view = fold_case(view, fact_from_entry(entry))
    return view


def causal_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event after the event that caused it; otherwise by recorded time (stable)."""
    by_id = {e["event_id"]: e for e in entries}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for entry in entries:
        cause = entry["causation_id"]
        if cause in by_id:
            children.setdefault(cause, []).append(entry)
        else:
            roots.append(entry)
    # Same instant: the service's own order (its notification ids), numerically.
    key = lambda e: (e["recorded_at"], e["service"], e["notification_id"])
    heap = [(key(e), e["event_id"]) for e in roots]
    heapq.heapify(heap)
    ordered = []
    while heap:
        _, event_id = heapq.heappop(heap)
        ordered.append(by_id[event_id])
        for child in children.get(event_id, []):
            heapq.heappush(heap, (key(child), child["event_id"]))
    return ordered


class CaseViews(Projection):
    """The case view and the timeline of every case."""

    name = "feedback_views"
    keeps_case = True
    case_table = "case_view"
    tables = {
        "case_view": Table({"case_id": "TEXT NOT NULL", "doc": "TEXT NOT NULL"}, ("case_id",)),
        "timeline": Table({"case_id": "TEXT NOT NULL", "service": "TEXT NOT NULL", "notification_id": "BIGINT NOT NULL"},
                          ("case_id", "service", "notification_id"), upsert=False),
    }  # fmt: skip

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, **options)
        self.settings = settings
        self._logs: dict[str, StoreLog] = {}  # service -> its log, opened when a timeline first reads it
        self._opening = threading.Lock()

    def event_rows(self, fact: Fact) -> RowsOf:
        return (("timeline", (fact.case_id, fact.service, fact.notification_id)),)

    def case_rows(self, case_id: str, state: dict[str, Any], case_doc: str | None) -> RowsOf:
        return (("case_view", (case_id, case_doc)),)

    def case(self, case_id: UUID, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The case view now, or as it stood at ``as_of`` (rebuilt from its events); None if there was none."""
        if as_of is not None:
            return rebuild_case(recorded_by(self._entries(case_id), as_of))
        rows = self.side.query(f"SELECT doc FROM {self.table['case_view']} WHERE case_id = ?", (str(case_id),))
        return load(rows[0]["doc"]) if rows else None

    def case_scope(self, case_id: UUID) -> CaseScope | None:
        """Where the case belongs (its store), for the access check; None for a case not seen yet."""
        case = self.case(case_id)
        return CaseScope(case["store_id"]) if case and case.get("store_id") else None

    def timeline(self, case_id: UUID, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """The case's events in causal order: all of them, or those recorded at or before ``as_of``."""
        entries = self._entries(case_id)
        return causal_order(entries if as_of is None else recorded_by(entries, as_of))

    def _entries(self, case_id: UUID) -> list[dict[str, Any]]:
        """The timeline entries of a case's events, read from the services' logs."""
        rows = self.side.query(
            f"SELECT service, notification_id FROM {self.table['timeline']} WHERE case_id = ?", (str(case_id),)
        )
        by_service: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            by_service[row["service"]].append(int(row["notification_id"]))
        return [
            timeline_entry(fact)
            for service, ids in sorted(by_service.items())
            for fact in self._log(service).facts_at(sorted(ids))
        ]

    def _log(self, service: str) -> StoreLog:
        with self._opening:
            if service not in self._logs:
                self._logs[service] = StoreLog(service, self.settings, create=False, connections=None)
            return self._logs[service]

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
        super().close()
