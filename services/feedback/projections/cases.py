"""The case view and the timeline, projected from every service's events.

Each message is applied together with a tracking record in one transaction, in a store of the
projection's own (``feedback_views``), so the views can be dropped and rebuilt at any time. A timeline
entry keeps its whole message, so a case can also be rebuilt as it stood at any earlier instant.
"""

from __future__ import annotations

import functools
import heapq
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from services.feedback.projections.base import BatchRunner, Projection, case_key
from services.feedback.projections.base import dump as _encode
from shared.contracts import Envelope, EventMessage
from shared.errors import InvalidValue
from shared.sidetables import Runner
from shared.vocabulary import CaseStatus

# Event type -> (rank, status). Among the events that set a status, the highest rank wins; within a rank the
# latest recorded, and at the same instant the later step of the lifecycle: received < triaged < what happens to a
# triaged case (rejected, reopened, investigating, ...) < withdrawn.
_STATUS = {
    "ComplaintReceived": (0, CaseStatus.RECEIVED),
    "ComplaintTriaged": (1, CaseStatus.TRIAGED),
    "AppealLodged": (2, CaseStatus.REOPENED),
    "InvestigationPlanned": (2, CaseStatus.INVESTIGATING),
    "InvestigationTaskAssigned": (2, CaseStatus.INVESTIGATING),
    "EvidenceItemRecorded": (2, CaseStatus.INVESTIGATING),
    "FindingsRecorded": (2, CaseStatus.INVESTIGATING),
    "ProposalRejected": (2, CaseStatus.INVESTIGATING),
    "CustomerRefused": (2, CaseStatus.INVESTIGATING),
    "CustomerCountered": (2, CaseStatus.INVESTIGATING),
    "ProposalOffered": (2, CaseStatus.AWAITING_CUSTOMER),
    "CustomerAccepted": (2, CaseStatus.RESOLVING),
    "CaseResolved": (2, CaseStatus.RESOLVED),
    "FollowUpScheduled": (2, CaseStatus.FOLLOW_UP),
    "CaseClosed": (2, CaseStatus.CLOSED),
    "CaseReopened": (2, CaseStatus.REOPENED),
    "ComplaintWithdrawn": (3, CaseStatus.WITHDRAWN),
}
_LIFECYCLE = list(CaseStatus)
# Event type -> the flag it sets on the case (flags are a set: order does not matter).
_FLAGS = {
    "RepeatComplaintLinked": "repeat",
    "NuisanceFlagged": "nuisance",
    "SlaBreached": "sla_breached",
    "CaseEscalated": "escalated",
    "EmergencyDeclared": "emergency",
}
# Event type -> the counter it adds one to.
_COUNTS = {"EvidenceAttached": "evidence_count", "ComplaintAmended": "amendments"}
# Event type -> (the view's time of that event, the payload fields it copies into the view). Types sharing a time
# (e.g. assignment, transfer and escalation all set the owner) share it: the latest of them wins.
_OWNER = ("owner_since", ("team", "queue", "assignee", "tier"))
_LATEST: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "ComplaintReceived": [("received_at", ("case_number", "channel", "store_id"))],
    "ComplaintTriaged": [
        ("triaged_at", ()),
        ("classified_at", ("category", "subcategory")),
        ("severity_at", ("severity",)),
    ],
    "CategoryOverridden": [("classified_at", ("category", "subcategory"))],
    "SeverityChanged": [("severity_at", ("severity",))],
    "ValidityDecided": [("validity_decided_at", ("well_founded",))],
    "CaseAssigned": [_OWNER],
    "CaseTransferred": [_OWNER],
    "CaseEscalated": [_OWNER],
    "ResolutionOpened": [("resolution_opened_at", ())],
    "AcknowledgementPrepared": [("acknowledgement_prepared_at", ())],
    "ReadBackConfirmed": [("read_back_confirmed_at", ())],
    "ComplaintWithdrawn": [("withdrawn_at", ())],
    "RepeatComplaintLinked": [("repeat_linked_at", ("earlier_case_number",))],
}


def evolve_case(view: dict[str, Any] | None, message: EventMessage) -> dict[str, Any]:
    """The case view after one more event (pure).

    The view depends on the set of events only, never on their order: the live view (arrival order) and
    an as-of rebuild (causal order) must agree. So each event type's fields come from its latest recorded
    event (a tie is broken by the values themselves), status only moves forward, ``updated_at`` is a max.
    """
    envelope, payload = message.envelope, message.payload
    # Keys a view written before a field existed lacks come from the defaults.
    if view is not None and _VIEW_KEYS <= view.keys():
        view = dict(view)
    else:
        view = {**_new_view(envelope.case_id), **(view or {})}
    # In UTC, so one instant is one string whichever offset the event was recorded with.
    at, iso = _in_utc(envelope.recorded_at)
    for stamp, fields in _LATEST.get(message.type, ()):
        if view[stamp] is None or _later(at, [payload.get(f) for f in fields], view[stamp], [view[f] for f in fields]):
            view[stamp] = iso
            view.update({f: payload.get(f) for f in fields})
    status = _status_of(message)
    if status is not None:
        rank, value = status
        current = (
            view["status_rank"],
            view["status_at"] or "",
            _LIFECYCLE.index(view["status"]) if view["status"] else -1,
        )
        if (rank, iso, _LIFECYCLE.index(value)) > current:
            view.update(status=value.value, status_rank=rank, status_at=iso)
    flag = _FLAGS.get(message.type) or ("nuisance" if payload.get("source_flagged") else None)
    if flag:
        view["flags"] = sorted({*view["flags"], flag})
    if message.type in _COUNTS:
        view[_COUNTS[message.type]] += 1
    if message.type in _CLOCK_CHANGES:
        _clock_seen(view, message.type, payload.get("clock") or {}, iso)
    if view["updated_at"] is None or at > datetime.fromisoformat(view["updated_at"]):
        view["updated_at"] = iso
    view["event_count"] += 1
    return view


# Clock events by precedence at one instant: a stop outranks a pause, resume or re-plan, which outrank a start.
_CLOCK_CHANGES = {"ClockStarted": 0, "ClockReplanned": 1, "ClockPaused": 1, "ClockResumed": 1, "ClockStopped": 2}


def _clock_seen(view: dict[str, Any], kind: str, clock: dict[str, Any], iso: str) -> None:
    """Keep each clock's latest change (by recorded time, then precedence, then value): a summary; the routing
    API's ``/clocks`` has the live reading."""
    name = clock.get("name")
    if not name:
        return
    entry = {
        "state": "stopped" if clock.get("stopped_at") else "paused" if clock.get("paused_since") else "running",
        "started_at": clock.get("started_at"),
        "duration": clock.get("duration"),
        "deadline": clock.get("deadline"),
        "stopped_at": clock.get("stopped_at"),
        "changed_at": iso,
        "change": _CLOCK_CHANGES[kind],
    }
    current = view["clocks"].get(name)
    key = lambda e: (e["changed_at"], e["change"], json.dumps(e, sort_keys=True))  # noqa: E731
    if current is None or key(entry) > key(current):
        view["clocks"] = {**view["clocks"], name: entry}


def _new_view(case_id: UUID) -> dict[str, Any]:
    """A case's view before its first event."""
    return {
        "case_id": str(case_id),
        "case_number": None,
        "status": None,
        "status_rank": -1,
        "status_at": None,
        "channel": None,
        "store_id": None,
        "category": None,
        "subcategory": None,
        "severity": None,
        "well_founded": None,
        "team": None,
        "queue": None,
        "assignee": None,
        "tier": None,
        "flags": [],
        "received_at": None,
        "triaged_at": None,
        "classified_at": None,
        "severity_at": None,
        "validity_decided_at": None,
        "owner_since": None,
        "resolution_opened_at": None,
        "acknowledgement_prepared_at": None,
        "read_back_confirmed_at": None,
        "withdrawn_at": None,
        "repeat_linked_at": None,
        "earlier_case_number": None,
        "evidence_count": 0,
        "amendments": 0,
        "updated_at": None,
        "clocks": {},
        "event_count": 0,
    }


@functools.lru_cache(maxsize=65_536)
def _in_utc(at: datetime) -> tuple[datetime, str]:
    # Cached by the instant (the same string for it in any offset): every case projection folds the same events.
    utc = at.astimezone(UTC)
    return utc, utc.isoformat()


_VIEW_KEYS = frozenset(_new_view(UUID(int=0)))


def _rank(at: datetime, values: list[Any]) -> tuple[datetime, str]:
    return at, json.dumps(values, ensure_ascii=False, sort_keys=True)


def _later(at: datetime, values: list[Any], than: str, than_values: list[Any]) -> bool:
    """``_rank(at, values) > _rank(fromisoformat(than), than_values)``, the values compared only at the same instant."""
    before = datetime.fromisoformat(than)
    if at != before:
        return at > before
    return _rank(at, values) > _rank(before, than_values)


def _status_of(message: EventMessage) -> tuple[int, CaseStatus] | None:
    payload = message.payload
    if message.type == "ValidityDecided":
        return None if payload.get("well_founded") else (2, CaseStatus.REJECTED)
    if message.type == "RemedyProposed":
        waits = payload.get("proposer_tier") != payload.get("required_tier")
        return 2, CaseStatus.AWAITING_APPROVAL if waits else CaseStatus.PROPOSED
    if message.type == "ProposalApproved":
        return (2, CaseStatus.PROPOSED) if payload.get("final") else None
    return _STATUS.get(message.type)


def timeline_entry(message: EventMessage) -> dict[str, Any]:
    """One line of a case's audit trail: who did what, when, caused by which event.

    It keeps the whole message (``message_from_entry`` gives it back) for as-of rebuilds.
    """
    envelope = message.envelope
    return {
        "msg_id": message.msg_id,
        "service": message.service,
        "notification_id": message.notification_id,
        "type": message.type,
        "case_id": str(envelope.case_id),
        "event_id": str(envelope.event_id),
        "causation_id": str(envelope.causation_id) if envelope.causation_id else None,
        "correlation_id": str(envelope.correlation_id),
        "recorded_at": envelope.recorded_at.isoformat(),
        "occurred_at": envelope.occurred_at.isoformat(),
        "actor": envelope.actor.model_dump(mode="json"),
        "schema_version": envelope.schema_version,
        "payload": message.payload,
    }


def message_from_entry(entry: dict[str, Any]) -> EventMessage:
    """The message a timeline entry was made from (its envelope names the service that published it)."""
    # The entry keeps every envelope field under its own name, but the service only once.
    envelope = {key: entry[key] for key in Envelope.model_fields if key != "service"}
    return EventMessage(
        service=entry["service"],
        notification_id=entry["notification_id"],
        type=entry["type"],
        envelope=Envelope.model_validate({**envelope, "service": entry["service"]}),
        payload=entry["payload"],
    )


def recorded_by(entries: list[dict[str, Any]], as_of: datetime) -> list[dict[str, Any]]:
    """The timeline entries recorded at or before ``as_of``, which must be timezone-aware."""
    if as_of.utcoffset() is None:
        raise InvalidValue("as_of", "needs a timezone, e.g. 2026-11-25T10:00:00+08:00 or 2026-11-25T02:00:00Z")
    return [entry for entry in entries if datetime.fromisoformat(entry["recorded_at"]) <= as_of]


def rebuild_case(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The case view that the entries' events make, folded in causal order; None without events."""
    view = None
    for entry in causal_order(entries):
        view = evolve_case(view, message_from_entry(entry))
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
    tables = {
        "case_view": "CREATE TABLE IF NOT EXISTS {table} (case_id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
        "timeline": "CREATE TABLE IF NOT EXISTS {table} (case_id TEXT NOT NULL, msg_id TEXT NOT NULL, "
        "doc TEXT NOT NULL, PRIMARY KEY (case_id, msg_id))",
    }

    def begin(self) -> dict[str, Any]:
        # Each case's view is read once per batch (one query for all of them) and written once at its end, the
        # timeline entries with it.
        return {"views": {}, "timeline": []}

    def preload(self, run: BatchRunner, case_ids: list[str], batch: dict[str, Any]) -> None:
        views = batch["views"]
        views.update(dict.fromkeys(case_ids))
        found = run.where_in(
            f"SELECT case_id, doc FROM {self.table['case_view']} WHERE case_id IN ({{marks}})", case_ids
        )
        views.update((row["case_id"], json.loads(row["doc"])) for row in found)

    def apply(self, run: Runner, message: EventMessage, batch: dict[str, Any]) -> None:
        case_id = case_key(message.envelope.case_id)
        views = batch["views"]
        if case_id not in views:
            rows = run(f"SELECT doc FROM {self.table['case_view']} WHERE case_id = ?", (case_id,))
            views[case_id] = json.loads(rows[0]["doc"]) if rows else None
        views[case_id] = evolve_case(views[case_id], message)
        batch["timeline"].append((case_id, message.msg_id, _dump(timeline_entry(message))))

    def finish(self, run: Runner, batch: dict[str, Any]) -> None:
        many = run.many  # type: ignore[attr-defined]
        many(f"INSERT INTO {self.table['timeline']} (case_id, msg_id, doc) VALUES (?, ?, ?)", batch["timeline"])
        many(
            f"INSERT INTO {self.table['case_view']} (case_id, doc) VALUES (?, ?) "
            "ON CONFLICT (case_id) DO UPDATE SET doc = excluded.doc",
            [(case_id, _dump(view)) for case_id, view in batch["views"].items() if view is not None],
        )

    def case(self, case_id: UUID, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The case view now, or as it stood at ``as_of`` (rebuilt from its events); None if there was none."""
        if as_of is not None:
            return rebuild_case(recorded_by(self._entries(case_id), as_of))
        rows = self.side.query(f"SELECT doc FROM {self.table['case_view']} WHERE case_id = ?", (str(case_id),))
        return json.loads(rows[0]["doc"]) if rows else None

    def timeline(self, case_id: UUID, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """The case's events in causal order: all of them, or those recorded at or before ``as_of``."""
        entries = self._entries(case_id)
        return causal_order(entries if as_of is None else recorded_by(entries, as_of))

    def _entries(self, case_id: UUID) -> list[dict[str, Any]]:
        rows = self.side.query(f"SELECT doc FROM {self.table['timeline']} WHERE case_id = ?", (str(case_id),))
        return [json.loads(row["doc"]) for row in rows]


def _dump(doc: dict[str, Any]) -> str:
    return _encode(doc)
