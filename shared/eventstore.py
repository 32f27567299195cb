"""The event store every service uses: an eventsourcing Application per service.

* ``CaseAggregate``: the base of every aggregate; each of its events carries the envelope.
* ``EventContext``: who/when/why of a command, from which each event's envelope is made.
* ``ServiceApplication``: one per service, on SQLite (embedded) or PostgreSQL (by settings).
  Its store is the outbox (the relay tails its notification log), and ``handle`` applies the
  service's policy to another service's message, saving the new events together with a
  tracking record (upstream service, notification id) in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Notification,
    StoredEvent,
    Tracking,
    Transcoder,
    UUIDAsHex,
)
from eventsourcing.projection import EventSourcedProjection
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict

from shared.audit import chain
from shared.audit.seal import LogChain
from shared.clock import Clock
from shared.contracts import CONTRACTS, Actor, Envelope, EventMessage, event_id_for
from shared.errors import InvalidTransition, NotFound
from shared.settings import Settings
from shared.sidetables import SideTables

T = TypeVar("T")
# How often a command is decided again when a concurrent save of the same aggregate came first.
CONFLICT_RETRIES = 5


class EventContext(BaseModel):
    """The envelope of the events one command records, less each event's own id."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    actor: Actor
    service: str
    recorded_at: datetime
    occurred_at: datetime | None = None
    causation_id: UUID | None = None
    correlation_id: UUID

    def envelope(self, event_id: UUID) -> dict[str, Any]:
        return Envelope(
            event_id=event_id,
            case_id=self.case_id,
            actor=self.actor,
            occurred_at=self.occurred_at or self.recorded_at,
            recorded_at=self.recorded_at,
            causation_id=self.causation_id,
            correlation_id=self.correlation_id,
            service=self.service,
        ).as_stored()


class CaseAggregate(Aggregate):
    """An aggregate whose events carry the Ombud envelope and the recorded time of the context."""

    class Event(Aggregate.Event):
        envelope: dict[str, Any]

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _start(cls, event_class: type[Any], id: UUID, ctx: EventContext, **payload: Any) -> Any:
        return cls._create(
            event_class,
            id=id,
            timestamp=ctx.recorded_at,
            envelope=ctx.envelope(event_id_for(id, 1)),
            **payload,
        )

    def _record(self, event_class: type[Any], ctx: EventContext, **payload: Any) -> None:
        self.trigger_event(
            event_class,
            timestamp=ctx.recorded_at,
            envelope=ctx.envelope(event_id_for(self.id, self.version + 1)),
            **payload,
        )


def aggregate_id(case_id: UUID, service: str) -> UUID:
    """The id of a service's per-case aggregate: derived, so creating it twice is a conflict."""
    return uuid5(case_id, service)


def to_message(service: str, notification_id: int, event: DomainEventProtocol[Any]) -> EventMessage | None:
    """The public message for a stored domain event, or None if its type has no contract."""
    type_name = type(event).__name__
    contract = CONTRACTS.get(type_name)
    if contract is None:
        return None
    # Only the contract's fields leave the service: private fields (the customer's contact) stay.
    fields = {k: v for k, v in event.__dict__.items() if k in contract.model_fields}
    payload = contract.model_validate(fields).model_dump(mode="json")
    return EventMessage(
        service=service,
        notification_id=notification_id,
        type=type_name,
        envelope=Envelope.model_validate(event.envelope),  # type: ignore[attr-defined]
        payload=payload,
    )


_LINK = "_chain_link"  # on an event about to be stored: the previous event's hash, or that event itself
_HASH = "_chain_hash"  # on an event just mapped: its hash, for the next event of the same save


class ChainedMapper(Mapper[UUID]):
    """Stores each event with its hash and its predecessor's hash (see ``shared.audit.chain``)."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        link = state.pop(_LINK)
        state.pop(_HASH, None)
        originator_id = state.pop("originator_id")
        version = state.pop("originator_version")
        topic = get_topic(type(domain_event))
        prev_hash = link if isinstance(link, str) else getattr(link, _HASH)
        body = self.transcoder.encode(state)
        digest = chain.event_hash(topic, str(originator_id), version, prev_hash, body)
        object.__setattr__(domain_event, _HASH, digest)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=version,
            topic=topic,
            state=chain.seal(body, prev_hash, digest),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        body, _, _ = chain.split(stored_event.state)
        return super().to_domain_event(
            StoredEvent(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                topic=stored_event.topic,
                state=body,
            )
        )


def reader_mapper(transcoder: Transcoder) -> ChainedMapper:
    """The mapper a service's store is read with, outside the service's Application: eventsourcing's default
    transcodings (what ``Application.register_transcodings`` registers; no service adds any of its own)."""
    if isinstance(transcoder, JSONTranscoder):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    return ChainedMapper(transcoder=transcoder)


class ServiceApplication(EventSourcedProjection[UUID]):
    """The Application of one service: its store, its commands and its policy.

    Subclasses set ``name`` (the service) and ``reactions``: message type -> method name. A
    reaction gets the message and its parsed contract and yields the aggregates to save (and any
    ``(sql, params)`` side writes to commit with them, see ``shared.audit.sealing``).
    """

    name: ClassVar[str] = "service"
    reactions: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        super().__init__(env=settings.persistence_env(self.name))
        self.side = SideTables(self.recorder, self.name)
        # From here on every save also seals its events into the log chain (shared.audit.sealing).
        self.recorder.log_chain_table = LogChain(self.side).table  # type: ignore[attr-defined]
        self._saved_listeners: list[Callable[[], None]] = []
        # What the current unit of work (one transaction, on one thread) decided but has not committed yet, for
        # reactions later in the same batch to see (see ``unit_of_work``).
        self.unit = threading.local()

    def construct_mapper(self) -> Mapper[UUID]:
        return ChainedMapper(transcoder=self.construct_transcoder())

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Any]:
        self._link(processing_event.events)
        return super()._record(processing_event)

    def _link(self, events: Sequence[Any]) -> None:
        """Give each event its predecessor in its stream: genesis, an event of this save, or the stored head."""
        latest: dict[Any, Any] = {}
        for event in events:
            originator_id, version = event.originator_id, event.originator_version
            before = latest.get(originator_id)
            if version == 1:
                link: Any = chain.GENESIS
            elif before is not None and before.originator_version == version - 1:
                link = before
            else:
                link = self._stored_hash(originator_id, version - 1)
            object.__setattr__(event, _LINK, link)
            latest[originator_id] = event

    def _stored_hash(self, originator_id: UUID, version: int) -> str:
        stored = self.recorder.select_events(originator_id, gt=version - 1, lte=version, limit=1)
        if not stored:
            # The save would leave a gap in the stream; refuse it as the version conflict it is.
            raise IntegrityError(f"{originator_id} has no version {version} to follow")
        return chain.split(stored[0].state)[2]

    # --- commands support -------------------------------------------------
    def context(
        self,
        case_id: UUID,
        actor: Actor,
        *,
        occurred_at: datetime | None = None,
        cause: EventMessage | None = None,
        correlation_id: UUID | None = None,
    ) -> EventContext:
        """The context of a command or reaction, stamped now by the injected clock."""
        return EventContext(
            case_id=case_id,
            actor=actor,
            service=self.name,
            recorded_at=self.clock.now(),
            occurred_at=occurred_at,
            causation_id=cause.envelope.event_id if cause else None,
            correlation_id=(cause.envelope.correlation_id if cause else correlation_id) or uuid4(),
        )

    def retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (load, decide, save) again while a concurrent save of the same aggregate wins (409 after
        ``CONFLICT_RETRIES`` tries)."""
        conflict = None
        for _ in range(CONFLICT_RETRIES):
            try:
                return attempt()
            except IntegrityError as error:
                conflict = error
        raise InvalidTransition("the case kept changing concurrently; try again") from conflict

    def find(self, originator_id: UUID) -> Any:
        """The aggregate with this id, or None. One read: ``id in repository`` would replay it a first time.

        Inside a unit of work, the same object every time, made or changed by an earlier reaction of the same batch
        but not saved yet: a batch with a case's complaint and, after it, the acknowledgement of that complaint folds
        both into one aggregate (loading it from the store instead would miss the first, or conflict with it)."""
        kept = getattr(self.unit, "aggregates", None)
        if kept is not None and originator_id in kept:
            return kept[originator_id]
        try:
            found = self.repository.get(originator_id)
        except AggregateNotFoundError:
            return None
        if kept is not None:
            kept[originator_id] = found
        return found

    def case_aggregate(self, case_id: UUID) -> Any:
        """This service's aggregate for a case (NotFound until the service has one)."""
        found = self.find(aggregate_id(case_id, self.name))
        if found is None:
            raise NotFound(f"{self.name} has nothing for case {case_id} yet")
        return found

    # --- outbox -------------------------------------------------------------
    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every save (the relay uses it to wake up at once)."""
        self._saved_listeners.append(listener)

    def _notify(self, recordings: list[Any]) -> None:
        super()._notify(recordings)
        for listener in self._saved_listeners:
            listener()

    def messages(self, notifications: Iterable[Notification]) -> list[tuple[int, EventMessage | None]]:
        """Each notification as (id, public message or None when it has no contract)."""
        return [(n.id, to_message(self.name, n.id, self.mapper.to_domain_event(n))) for n in notifications]

    # --- policy ---------------------------------------------------------------
    @property
    def consumes(self) -> list[str]:
        """The NATS subjects this service's policy reacts to."""
        return [CONTRACTS[type_name].subject() for type_name in self.reactions]

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """One transaction's decisions: what it keeps pending in ``unit`` (its aggregates, see ``find``) is gone when it
        ends, committed or not."""
        self.unit.__dict__.clear()
        self.unit.aggregates = {}
        try:
            yield
        finally:
            self.unit.__dict__.clear()

    def handle(self, message: EventMessage) -> bool:
        """Apply the policy to an upstream message exactly once; False if already applied."""
        with self.unit_of_work():
            return self._handle(message)

    def _handle(self, message: EventMessage) -> bool:
        if message.type not in self.reactions:
            return False
        tracking = Tracking(application_name=message.service, notification_id=message.notification_id)
        # No look-up first: the tracking row's unique key refuses a repeat inside the same
        # transaction, which saves a read per message on the common path.
        try:
            self.process_event(message, tracking)  # type: ignore[arg-type]
        except IntegrityError:
            if self.side.has_tracking(tracking.application_name, tracking.notification_id):
                return False  # applied before (a redelivery or a concurrent worker)
            raise
        return True

    def handle_batch(self, messages: Sequence[EventMessage]) -> None:
        """Apply the policy to a fetched batch in one transaction, with one tracking row per message.

        One commit per batch instead of one per message. Any conflict (a redelivered message, two
        messages about one aggregate) makes the whole transaction fail; the consumer then applies the
        batch message by message through ``handle``, which sorts out each case exactly once.
        """
        with self.unit_of_work():
            self._handle_batch(messages)

    def _handle_batch(self, messages: Sequence[EventMessage]) -> None:
        events: list[Any] = []
        writes: list[tuple[str, Any]] = []
        track = f"INSERT INTO {self.side.tracking_table} (application_name, notification_id) VALUES (?, ?)"
        for message in messages:
            if message.type not in self.reactions:
                continue  # ``handle`` records nothing for these either
            processing: ProcessingEvent[UUID] = ProcessingEvent()
            self.policy(message, processing)
            events += processing.events
            writes += [
                *processing.saved_kwargs.get("side_writes", ()),
                (track, (message.service, message.notification_id)),
            ]
        if writes:
            self.save(*events, side_writes=writes)

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:  # type: ignore[override]
        message: EventMessage = domain_event
        reaction = getattr(self, self.reactions[message.type])
        writes = []
        for item in reaction(message, message.contract()):
            # A reaction yields aggregates to save, and ``(sql, params)`` rows to write in the same transaction.
            if isinstance(item, tuple):
                writes.append(item)
            else:
                processing_event.collect_events(item)
                kept = getattr(self.unit, "aggregates", None)
                if kept is not None:
                    kept[item.id] = item  # later reactions of the batch find it (``find``)
        if writes:
            processing_event.collect_events(side_writes=writes)
