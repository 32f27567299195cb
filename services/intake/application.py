"""Intake's Application: receives complaints and stores them; it reacts to no other service."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.persistence import IntegrityError

from services.intake.domain import Complaint, case_number, customer_id_for, normalise_contact
from shared.clock import Clock
from shared.contracts import Actor
from shared.errors import InvalidValue, NotFound
from shared.eventstore import ServiceApplication
from shared.groupcommit import GroupCommit
from shared.masterdata import MasterData
from shared.settings import Settings

NUMBER_BLOCK = 100
IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "https://ombud.example/idempotency-key")


@dataclass(frozen=True)
class Receipt:
    """What the caller gets back: the case's id and number, and whether this call created it."""

    case_id: UUID
    case_number: str
    created: bool


class Intake(ServiceApplication):
    """Receives and records complaints from every channel."""

    name = "intake"

    def __init__(self, settings: Settings, clock: Clock, master_data: MasterData) -> None:
        super().__init__(settings, clock)
        self.master_data = master_data
        self.zone = ZoneInfo(settings.timezone)
        self._numbers = self.side.table("case_numbers")
        self.side.execute(f"CREATE TABLE IF NOT EXISTS {self._numbers} (day TEXT PRIMARY KEY, last BIGINT NOT NULL)")
        self._block_lock = threading.Lock()
        self._block = ("", 1, 0)  # (day, next number, last reserved number)
        self.group_commit = GroupCommit(self)

    def receive_complaint(self, *, idempotency_key: str | None = None, **fields: Any) -> Receipt:
        """Record a complaint (fields as ``open_complaint``); a repeated idempotency key returns the first receipt."""
        complaint = self.open_complaint(idempotency_key=idempotency_key, **fields)
        try:
            self.save(complaint)
        except IntegrityError as error:
            return self._repeat(complaint, idempotency_key, error)
        return Receipt(case_id=complaint.id, case_number=complaint.case_number, created=True)

    async def receive_complaint_shared(self, *, idempotency_key: str | None = None, **fields: Any) -> Receipt:
        """``receive_complaint`` for the event loop: the save shares a transaction with concurrent ones."""
        complaint = self.open_complaint(idempotency_key=idempotency_key, **fields)
        try:
            await self.group_commit.save(complaint)
        except IntegrityError as error:
            return await asyncio.to_thread(self._repeat, complaint, idempotency_key, error)
        return Receipt(case_id=complaint.id, case_number=complaint.case_number, created=True)

    def open_complaint(
        self,
        *,
        actor: Actor,
        channel: str,
        store_id: str,
        customer: dict[str, Any],
        description: str,
        demand: str | None = None,
        order_id: str | None = None,
        sku: str | None = None,
        batch: str | None = None,
        amount_paid: Decimal | None = None,
        occurred_at: datetime | None = None,
        language: str = "zh",
        idempotency_key: str | None = None,
        correlation_id: UUID | None = None,
    ) -> Complaint:
        """The new complaint, validated and numbered but not yet saved.

        With an idempotency key the case id is derived from the key, so a repeat collides on save
        (and then gets the first receipt) instead of needing a look-up first.
        """
        if store_id not in self.master_data.stores:
            raise InvalidValue("store_id", f"unknown store {store_id!r} (GET /api/stores lists them)")
        case_id = uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key) if idempotency_key else uuid4()
        ctx = self.context(case_id, actor, correlation_id=correlation_id)
        contact = normalise_contact(customer.get("phone"), customer.get("email"))
        return Complaint.receive(
            ctx,
            assign_number=lambda: case_number(*self._next_number(ctx.recorded_at)),
            channel=channel,
            store_id=store_id,
            customer_id=customer_id_for(contact, self.settings.blind_index_key.get_secret_value().encode()),
            customer=customer,
            description=description,
            demand=demand,
            order_id=order_id,
            sku=sku,
            batch=batch,
            amount_paid=amount_paid,
            occurred_at=occurred_at,
            language=language,
        )

    def get_complaint(self, case_id: UUID) -> Complaint:
        """The complaint as recorded (404 for an unknown id)."""
        if case_id not in self.repository:
            raise NotFound(f"no complaint {case_id}")
        return self.repository.get(case_id)

    def _repeat(self, refused: Complaint, idempotency_key: str | None, error: IntegrityError) -> Receipt:
        # Only a repeated idempotency key may collide; its number is left unused (a gap).
        if not idempotency_key or refused.id not in self.repository:
            raise error
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
