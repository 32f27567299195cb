"""What every read model folds: a public event as a ``Fact``, and the one fold of a case's facts (``fold_case``).

A ``Fact`` is an ``EventMessage`` in its JSON form — the envelope and payload exactly as NATS carries them — with
the case key and the recorded instant parsed once. The live consumer makes one from each message it receives
(``Fact.of``); a rebuild makes them straight from the stored events (``services.feedback.rebuild``), without
pydantic. Every fold reads facts only, so live and rebuilt read models run the same code.

``fold_case`` is the case's facts as every case read model keeps them (the case view, the statistics, the work
queues): status through every service, owner, flags, clocks, SKU, when acknowledged and resolved, whether reopened.
It depends on the set of events only, never on their order: each kind of fact comes from its latest recorded event
(a tie broken by the values themselves), the status only moves forward, counts and flag sets are order-free.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from shared.contracts import EventMessage
from shared.vocabulary import CaseStatus


def dump(doc: Any) -> str:
    """The stored form of every read model document: JSON, sorted keys, no spaces, UTF-8 kept."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()


def load(text: str | bytes) -> Any:
    """A stored document back."""
    return orjson.loads(text)


class Moment(NamedTuple):
    """One instant in the forms the read models store it in (parsed once per distinct text, see ``moment``)."""

    utc: datetime  # aware, in UTC: compare these
    iso: str  # utc.isoformat(): the case view's and the library's form
    stamp: str  # fixed-width UTC, so text order is time order (statistics, queues; in SQL too)
    local: str  # isoformat in the offset it was recorded with: the timeline's form


def moment(text: str) -> Moment:
    """An ISO 8601 instant with its offset (``…Z`` or ``…+08:00``) in every stored form, parsed once per text."""
    found = _MOMENTS.get(text)
    if found is None:
        found = _parse(text)
        if len(_MOMENTS) > _MOMENTS_KEPT:
            _MOMENTS.clear()  # a rebuild meets each instant a few times, close together: no need for LRU order
        # The forms it is stored in are parsed again later (the case's facts keep ``iso``): the same moment.
        _MOMENTS[text] = _MOMENTS[found.iso] = _MOMENTS[found.local] = found
    return found


_MOMENTS: dict[str, Moment] = {}
_MOMENTS_KEPT = 1 << 18


def _parse(text: str) -> Moment:
    at = datetime.fromisoformat(text)
    offset = at.utcoffset()
    if offset is None:
        raise ValueError(f"instants must be timezone-aware: {text!r}")
    utc = at.astimezone(UTC) if offset or at.tzinfo is not UTC else at
    iso = utc.isoformat()
    # isoformat gives the microseconds only when there are some: the stamp always has them (fixed width).
    stamp = iso if len(iso) == 32 else f"{iso[:19]}.000000+00:00"
    return Moment(utc, iso, stamp, iso if utc is at else at.isoformat())


def stamp(at: datetime) -> str:
    """An aware instant as a fixed-width UTC string, so text order is time order (in SQL too): ``Moment.stamp``."""
    if at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 instant (a string from a payload or a row) as an aware datetime (UTC if it names no offset);
    None for None."""
    if value is None:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.utcoffset() is not None else at.replace(tzinfo=UTC)


class Fact:
    """One public event, as the read models fold it."""

    __slots__ = ("at", "case_id", "envelope", "msg_id", "notification_id", "payload", "service", "type")

    def __init__(
        self, service: str, notification_id: int, type: str, envelope: dict[str, Any], payload: dict[str, Any]
    ) -> None:
        self.service = service
        self.notification_id = notification_id
        self.type = type
        self.envelope = envelope  # JSON form: ids and instants as text
        self.payload = payload  # JSON form, as the contract dumps it
        self.case_id: str = envelope["case_id"]
        self.at = moment(envelope["recorded_at"])
        self.msg_id = f"{service}:{notification_id}"  # the message's id on the bus

    @classmethod
    def of(cls, message: EventMessage) -> Fact:
        """The fact of a message as the bus delivers it."""
        return cls(
            message.service,
            message.notification_id,
            message.type,
            message.envelope.model_dump(mode="json"),
            message.payload,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fact):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.service, self.notification_id))

    def __repr__(self) -> str:
        return f"Fact({self.msg_id} {self.type} case {self.case_id})"

    def _key(self) -> tuple[Any, ...]:
        return self.service, self.notification_id, self.type, self.envelope, self.payload


def as_fact(message: EventMessage | Fact) -> Fact:
    """A fact, from a fact or a message (the pure folds take either)."""
    return message if isinstance(message, Fact) else Fact.of(message)


# --- the case's facts -----------------------------------------------------------------------------------------

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
_STEP = {status.value: step for step, status in enumerate(CaseStatus)}
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
# Event type -> (the case's time of that event, the payload fields it copies). Types sharing a time (assignment,
# transfer and escalation all set the owner) share it: the latest of them wins.
_OWNER = ("owner_since", ("team", "queue", "assignee", "tier"))
_LATEST: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "ComplaintReceived": [("received_at", ("case_number", "channel", "store_id", "sku"))],
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
# Clock events by precedence at one instant: a stop outranks a pause, resume or re-plan, which outrank a start.
CLOCK_CHANGES = {"ClockStarted": 0, "ClockReplanned": 1, "ClockPaused": 1, "ClockResumed": 1, "ClockStopped": 2}


def new_case(case_id: str) -> dict[str, Any]:
    """A case's facts before its first event."""
    return {
        "case_id": case_id,
        "case_number": None,
        "status": None,
        "status_rank": -1,
        "status_at": None,
        "channel": None,
        "store_id": None,
        "sku": None,
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
        "acknowledged_at": None,
        "resolved_at": None,
        "reopened": False,
        "evidence_count": 0,
        "amendments": 0,
        "updated_at": None,
        "clocks": {},
        "event_count": 0,
    }


_CASE_KEYS = frozenset(new_case(""))


def evolve_case(case: dict[str, Any] | None, message: EventMessage | Fact) -> dict[str, Any]:
    """The case's facts after one more event (pure: ``case`` is left as it was)."""
    return fold_case(dict(case) if case is not None else None, as_fact(message))


def fold_case(case: dict[str, Any] | None, fact: Fact) -> dict[str, Any]:
    """``evolve_case`` on facts the caller owns: changed in place (a new dict for None) and returned.

    Nested values (flags, clocks) are replaced, never changed, so a shallow copy of ``case`` stays as it was.
    """
    if case is None:
        case = new_case(fact.case_id)
    elif not _CASE_KEYS <= case.keys():
        # Written before a field existed: the defaults fill it.
        case = {**new_case(fact.case_id), **case}
    kind, payload, at = fact.type, fact.payload, fact.at
    for stamp_key, fields in _LATEST.get(kind, ()):
        current = case[stamp_key]
        if current is None or _later(at, [payload.get(f) for f in fields], current, [case[f] for f in fields]):
            case[stamp_key] = at.iso
            for f in fields:
                case[f] = payload.get(f)
    status = _status_of(kind, payload)
    if status is not None:
        rank, value = status
        current_at = case["status_at"]
        mine = (rank, at.utc, _STEP[value])
        if current_at is None or mine > (case["status_rank"], moment(current_at).utc, _STEP[case["status"]]):
            case["status"], case["status_rank"], case["status_at"] = value, rank, at.iso
    flag = _FLAGS.get(kind) or ("nuisance" if payload.get("source_flagged") else None)
    if flag and flag not in case["flags"]:
        case["flags"] = sorted({*case["flags"], flag})
    counter = _COUNTS.get(kind)
    if counter:
        case[counter] += 1
    if kind in CLOCK_CHANGES:
        clock = payload.get("clock") or {}
        _clock_seen(case, kind, clock, at.iso)
        if kind == "ClockStopped" and clock.get("name") == "acknowledge":
            # When the customer was acknowledged: the earliest stop of the acknowledge clock.
            stopped = moment(clock["stopped_at"]).stamp if clock.get("stopped_at") else at.stamp
            if case["acknowledged_at"] is None or stopped < case["acknowledged_at"]:
                case["acknowledged_at"] = stopped
    elif kind == "CaseResolved":
        if case["resolved_at"] is None or at.stamp > case["resolved_at"]:
            case["resolved_at"] = at.stamp
    elif kind == "CaseReopened":
        case["reopened"] = True
    if case["updated_at"] is None or at.utc > moment(case["updated_at"]).utc:
        case["updated_at"] = at.iso
    case["event_count"] += 1
    return case


def _later(at: Moment, values: list[Any], than: str, than_values: list[Any]) -> bool:
    """Whether (``at``, ``values``) is past (``than``, ``than_values``): the instants first, the values only to break
    a tie."""
    before = moment(than).utc
    if at.utc != before:
        return at.utc > before
    return dump(values) > dump(than_values)


def _status_of(kind: str, payload: dict[str, Any]) -> tuple[int, str] | None:
    if kind == "ValidityDecided":
        return None if payload.get("well_founded") else (2, CaseStatus.REJECTED.value)
    if kind == "RemedyProposed":
        waits = payload.get("proposer_tier") != payload.get("required_tier")
        return 2, (CaseStatus.AWAITING_APPROVAL if waits else CaseStatus.PROPOSED).value
    if kind == "ProposalApproved":
        return (2, CaseStatus.PROPOSED.value) if payload.get("final") else None
    found = _STATUS.get(kind)
    return None if found is None else (found[0], found[1].value)


def _clock_seen(case: dict[str, Any], kind: str, clock: dict[str, Any], iso: str) -> None:
    """Keep each clock's latest change (by recorded time, then precedence, then value): when it falls due (the work
    queues order by it) and whether it runs; the routing API's ``/clocks`` has the live reading."""
    name = clock.get("name")
    if not name:
        return
    entry = {
        "state": "stopped" if clock.get("stopped_at") else "paused" if clock.get("paused_since") else "running",
        "started_at": clock.get("started_at"),
        "duration": clock.get("duration"),
        "paused_total": clock.get("paused_total"),
        "due_at": clock.get("due_at"),
        "deadline": clock.get("deadline"),
        "stopped_at": clock.get("stopped_at"),
        "changed_at": iso,
        "change": CLOCK_CHANGES[kind],
    }
    current = case["clocks"].get(name)
    if current is None or _clock_later(entry, current):
        case["clocks"] = {**case["clocks"], name: entry}


def _clock_later(entry: dict[str, Any], than: dict[str, Any]) -> bool:
    mine, theirs = (moment(entry["changed_at"]).utc, entry["change"]), (moment(than["changed_at"]).utc, than["change"])
    return mine > theirs if mine != theirs else dump(entry) > dump(than)
