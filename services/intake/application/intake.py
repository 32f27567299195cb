"""Intake's Application: receives and records complaints from every channel and keeps the record.

Personal data (``personal_data.py``) and sources and repeats (``sources.py``) are mixed in from their
own modules; all share this one store and eventsourcing Application."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.persistence import IntegrityError

from services.intake.application.delivery import DELIVERY_REACTIONS, Deliveries
from services.intake.application.personal_data import PersonalData
from services.intake.application.sources import Sources
from services.intake.domain import (
    Blocked,
    Complaint,
    ComplaintRecord,
    IntakeRules,
    case_number,
    receiver_of,
)
from services.intake.screening import BLOCKED, SourceStatuses
from shared.access.policy import CaseScope
from shared.clock import Clock
from shared.configfiles import load_config
from shared.contracts import Actor
from shared.errors import InvalidValue, NotFound
from shared.eventstore import ServiceApplication
from shared.groupcommit import GroupCommit
from shared.idempotency import Fingerprints
from shared.keys import blind_index_key
from shared.masterdata import MasterData
from shared.privacy import KeyStore, customer_id_for, master_key, normalise_contact
from shared.settings import Settings

NUMBER_BLOCK = 100
# Texts longer than this (characters) are checked and masked in a worker thread, off the event loop.
INLINE_TEXT_MAX = 2_000
IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "https://ombud.example/idempotency-key")
# A save that loses a race with a concurrent command on the same aggregate is tried again this often.


def case_id_for_key(idempotency_key: str) -> UUID:
    """The case a command with this idempotency key files (derived: a repeat collides instead of forking)."""
    return uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key)


@dataclass(frozen=True)
class Receipt:
    """What the caller gets back: the case's id and number, and whether this call created it."""

    case_id: UUID
    case_number: str
    created: bool


class Intake(Deliveries, PersonalData, Sources, ServiceApplication):
    """Receives and records complaints from every channel; keeps the customers' personal data sealed."""

    name = "intake"
    # Repeat detection by category needs the triage.
    # Feedback's prepared messages are delivered by intake, which alone holds the contact (application/delivery.py).
    reactions = {"ComplaintTriaged": "link_repeat", **DELIVERY_REACTIONS}

    def __init__(self, settings: Settings, clock: Clock, master_data: MasterData) -> None:
        super().__init__(settings, clock)
        self.master_data = master_data
        self.rules = load_config(settings.config_dir / "intake.yaml", IntakeRules)
        self.sources = SourceStatuses(self.side)
        self.zone = ZoneInfo(settings.timezone)
        self._numbers = self.side.table("case_numbers")
        self.side.execute(f"CREATE TABLE IF NOT EXISTS {self._numbers} (day TEXT PRIMARY KEY, last BIGINT NOT NULL)")
        self._block_lock = threading.Lock()
        self._block = ("", 1, 0)  # (day, next number, last reserved number)
        self.keys = KeyStore(self.side, master_key(settings), clock)
        # Read once: the key file does not change under a running process, and every filing needs it.
        self.blind_index_key = blind_index_key(settings)
        self.fingerprints = Fingerprints(self.side, self.blind_index_key)
        self.group_commit = GroupCommit(self, max_bytes=200_000 if self.side.is_postgres else None)
        self.init_delivery()
        # One row per case: found by number, and the customer's recent cases for repeat detection.
        self._cases = self.side.table("cases")
        self.side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self._cases} (case_id TEXT PRIMARY KEY, case_number TEXT NOT NULL "
                    "UNIQUE, customer_id TEXT NOT NULL, order_id TEXT, category TEXT, received_at TEXT NOT NULL, "
                    "nuisance INTEGER NOT NULL DEFAULT 0)",
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS intake_cases_by_customer ON {self._cases} (customer_id, received_at)",
                    (),
                ),
            ]
        )

    def receive_complaint(
        self,
        record: ComplaintRecord,
        *,
        actor: Actor | None = None,
        idempotency_key: str | None = None,
        correlation_id: UUID | None = None,
    ) -> Receipt:
        """Record a complaint; a repeated idempotency key returns the first receipt (``Blocked`` for a blocked contact)."""
        try:
            complaint = self.open_complaint(
                record, actor=actor, idempotency_key=idempotency_key, correlation_id=correlation_id
            )
        except Blocked as refused:
            self.record_refusal(record, refused, correlation_id)
            raise
        try:
            self.save(complaint, side_writes=self._receipt_writes(complaint, record, idempotency_key))
        except IntegrityError as error:
            return self._repeat(complaint, record, idempotency_key, error)
        return Receipt(case_id=complaint.id, case_number=complaint.case_number, created=True)

    async def receive_complaint_shared(
        self,
        record: ComplaintRecord,
        *,
        actor: Actor | None = None,
        idempotency_key: str | None = None,
        correlation_id: UUID | None = None,
    ) -> Receipt:
        """``receive_complaint`` for the event loop: the save shares a transaction with concurrent ones.

        A long text is checked and masked in a worker thread, so one large complaint never stalls the loop
        (a short one is not worth the hop)."""
        opening = functools.partial(
            self.open_complaint, record, actor=actor, idempotency_key=idempotency_key, correlation_id=correlation_id
        )
        try:
            long_text = len(record.description) + len(record.demand or "") > INLINE_TEXT_MAX
            complaint = await asyncio.to_thread(opening) if long_text else opening()
        except Blocked as refused:
            await asyncio.to_thread(self.record_refusal, record, refused, correlation_id)
            raise
        try:
            writes = self._receipt_writes(complaint, record, idempotency_key)
            await self.group_commit.save(complaint, side_writes=writes)
        except IntegrityError as error:
            return await asyncio.to_thread(self._repeat, complaint, record, idempotency_key, error)
        return Receipt(case_id=complaint.id, case_number=complaint.case_number, created=True)

    def open_complaint(
        self,
        record: ComplaintRecord,
        *,
        actor: Actor | None = None,
        idempotency_key: str | None = None,
        correlation_id: UUID | None = None,
    ) -> Complaint:
        """The new complaint, validated, numbered and its personal data sealed, but not yet saved.

        ``actor`` defaults to the member of staff in ``record.received_by``, else the channel itself.
        With an idempotency key the case id is derived from the key, so a repeat collides on save
        (and then gets the first receipt) instead of needing a look-up first. The complaint's data
        key is issued in memory; its row is written in the transaction that saves the complaint. A blocked
        contact is refused (``Blocked``; the receive commands record the attempt).
        """
        customer_id = self.customer_id_of(record.customer.phone, record.customer.email)
        status = self.sources.status(customer_id)
        if status == BLOCKED:
            raise Blocked(customer_id)
        if record.store_id not in self.master_data.stores:
            raise InvalidValue("store_id", f"unknown store {record.store_id!r} (GET /api/stores lists them)")
        case_id = case_id_for_key(idempotency_key) if idempotency_key else uuid4()
        ctx = self.context(case_id, actor or receiver_of(record), correlation_id=correlation_id)
        return Complaint.receive(
            ctx,
            record,
            customer_id=customer_id,
            assign_number=lambda: case_number(*self._next_number(ctx.recorded_at)),
            seal=self.keys.sealer(customer_id, case_id),
            source_flagged=status is not None,
        )

    def customer_id_of(self, phone: str | None, email: str | None) -> UUID:
        """The pseudonymous id of the customer with this contact (the same for every channel)."""
        return customer_id_for(normalise_contact(phone, email), self.blind_index_key)

    def _receipt_writes(
        self, complaint: Complaint, record: ComplaintRecord, idempotency_key: str | None
    ) -> list[tuple[str, Any]]:
        # The case's index row, its data key and its key's body fingerprint go in the transaction saving its events.
        index = (
            f"INSERT INTO {self._cases} (case_id, case_number, customer_id, order_id, category, received_at, nuisance) "
            "VALUES (?, ?, ?, ?, NULL, ?, ?)",
            (str(complaint.id), complaint.case_number, str(complaint.customer_id), complaint.order_id,
             complaint.created_on.isoformat(), int(complaint.nuisance_flagged)),
        )  # fmt: skip
        fingerprint = self.fingerprints.writes_for(idempotency_key, record.model_dump(mode="json"))
        return [index, *self.keys.writes_for(complaint.id), *fingerprint]

    def case_id_for_number(self, number: str) -> UUID:
        """The case with this number (404 if none)."""
        rows = self.side.query(f"SELECT case_id FROM {self._cases} WHERE case_number = ?", (number.strip().upper(),))
        if not rows:
            raise NotFound(f"no case numbered {number!r}")
        return UUID(rows[0]["case_id"])

    def confirm_read_back(
        self, case_id: UUID, *, actor: Actor, note: str | None = None, correlation_id: UUID | None = None
    ) -> None:
        """The receiver read the complaint back and the customer confirmed it (复述确认)."""
        self._command(case_id, actor, correlation_id, lambda c, ctx: c.confirm_read_back(ctx, note))

    def amend_complaint(
        self,
        case_id: UUID,
        *,
        actor: Actor,
        kind: str,
        reason: str,
        changes: dict[str, Any],
        correlation_id: UUID | None = None,
    ) -> None:
        """A correction or supplement: a new event with what changed and why (the record keeps both)."""

        def amend(complaint: Complaint, ctx: Any) -> None:
            if "store_id" in changes and changes["store_id"] not in self.master_data.stores:
                raise InvalidValue("changes.store_id", f"unknown store {changes['store_id']!r}")
            seal = self.keys.sealer(complaint.customer_id, complaint.id)
            known = self.known_contact(complaint)
            complaint.amend(ctx, kind=kind, reason=reason, changes=changes, seal=seal, known=known)

        self._command(case_id, actor, correlation_id, amend)

    def withdraw_complaint(
        self, case_id: UUID, *, actor: Actor, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """The customer withdraws the complaint, with a reason."""
        self._command(case_id, actor, correlation_id, lambda c, ctx: c.withdraw(ctx, reason))

    def attach_evidence(
        self,
        case_id: UUID,
        *,
        actor: Actor,
        sha256: str,
        media_type: str,
        size: int,
        filename: str | None = None,
        note: str | None = None,
        correlation_id: UUID | None = None,
    ) -> bool:
        """Record evidence already stored under its content hash; False if the case already has this content."""
        attached: list[bool] = []

        def attach(complaint: Complaint, ctx: Any) -> None:
            attached.append(complaint.attach_evidence(
                ctx, sha256=sha256, media_type=media_type, size=size, filename=filename, note=note,
                known=self.known_contact(complaint),
            ))  # fmt: skip

        self._command(case_id, actor, correlation_id, attach)
        return attached[-1]

    def _command(
        self, case_id: UUID, actor: Actor, correlation_id: UUID | None, decide: Callable[[Complaint, Any], None]
    ) -> None:
        # Load, decide, save; a concurrent command on the same case makes us load and decide again.
        def attempt() -> None:
            complaint = self.get_complaint(case_id)
            decide(complaint, self.context(case_id, actor, correlation_id=correlation_id))
            self.save(complaint, side_writes=self.keys.writes_for(case_id))

        self.retrying(attempt)

    def case_scope(self, case_id: UUID) -> CaseScope | None:
        """Where the case belongs (its store and merchant), for the access check; None if it is not a case."""
        found = self.find(case_id)
        return CaseScope(found.store_id, found.merchant_id) if isinstance(found, Complaint) else None

    def get_complaint(self, case_id: UUID) -> Complaint:
        """The complaint as recorded (404 for an unknown id, or the id of another aggregate)."""
        found = self.find(case_id)
        if not isinstance(found, Complaint):
            raise NotFound(f"no complaint {case_id}")
        return found

    def _repeat(
        self, refused: Complaint, record: ComplaintRecord, idempotency_key: str | None, error: IntegrityError
    ) -> Receipt:
        # Only a repeated idempotency key may collide; its number is left unused (a gap).
        if not idempotency_key or refused.id not in self.repository:
            raise error
        self.fingerprints.check(idempotency_key, record.model_dump(mode="json"))
        first = self.repository.get(refused.id)
        return Receipt(case_id=first.id, case_number=first.case_number, created=False)

    def _next_number(self, at: datetime) -> tuple[str, int]:
        # Numbers are reserved a block at a time (one commit per NUMBER_BLOCK complaints, not one
        # each); every process draws its own blocks, so numbers stay unique and date-sortable. A
        # refused save or a restart leaves a gap, which a case number may have.
        day = at.astimezone(self.zone).strftime("%Y%m%d")
        with self._block_lock:
            block_day, next_number, last = self._block
            if block_day != day or next_number > last:
                rows = self.side.execute(
                    f"INSERT INTO {self._numbers} (day, last) VALUES (?, ?) "
                    f"ON CONFLICT (day) DO UPDATE SET last = {self._numbers}.last + ? RETURNING last",
                    (day, NUMBER_BLOCK, NUMBER_BLOCK),
                )
                last = int(rows[0]["last"])
                next_number = last - NUMBER_BLOCK + 1
            self._block = (day, next_number + 1, last)
        return day, next_number
