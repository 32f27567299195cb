"""Intake's Application: receives complaints and stores them, guards the customers' personal data
(sealed, read with an audit record, erased on request); it reacts to no other service."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.persistence import IntegrityError

from services.intake.domain import (
    Blocked,
    Complaint,
    ComplaintRecord,
    ContactSource,
    CustomerPrivacy,
    IntakeRules,
    PastCase,
    case_number,
    customer_id_for,
    find_repeat,
    may_read_contact,
    normalise_contact,
    privacy_record_id,
    receiver_of,
    source_id,
)
from services.intake.screening import BLOCKED, FLAGGED, SourceStatuses
from shared.clock import Clock
from shared.configfiles import load_config
from shared.contracts import Actor, ComplaintTriaged, EventMessage, event_id_for
from shared.errors import InvalidTransition, InvalidValue, NotFound
from shared.eventstore import ServiceApplication
from shared.groupcommit import GroupCommit
from shared.masterdata import MasterData
from shared.privacy import DataKey, KeyStore, key_id_of, mask_contact, master_key
from shared.settings import Settings

NUMBER_BLOCK = 100
IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "https://ombud.example/idempotency-key")
# A save that loses a race with a concurrent command on the same aggregate is tried again this often.
CONFLICT_RETRIES = 5


def case_id_for_key(idempotency_key: str) -> UUID:
    """The case a command with this idempotency key files (derived: a repeat collides instead of forking)."""
    return uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key)


@dataclass(frozen=True)
class Receipt:
    """What the caller gets back: the case's id and number, and whether this call created it."""

    case_id: UUID
    case_number: str
    created: bool


@dataclass(frozen=True)
class ContactDetails:
    """How to reach a case's customer, decrypted for one reader; ``erased`` with nothing else once erased."""

    erased: bool
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ErasureReceipt:
    """What an erasure did: how many data keys it destroyed, and the cases whose personal data is gone."""

    customer_id: UUID
    keys_destroyed: int
    case_ids: list[UUID]


class Intake(ServiceApplication):
    """Receives and records complaints from every channel; keeps the customers' personal data sealed."""

    name = "intake"
    # Repeat detection by category needs the triage.
    reactions = {"ComplaintTriaged": "link_repeat"}

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
        self.group_commit = GroupCommit(self, max_bytes=200_000 if self.side.is_postgres else None)
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
        self.refuse_if_blocked(record, correlation_id)
        complaint = self.open_complaint(
            record, actor=actor, idempotency_key=idempotency_key, correlation_id=correlation_id
        )
        try:
            self.save(complaint, side_writes=self._receipt_writes(complaint))
        except IntegrityError as error:
            return self._repeat(complaint, idempotency_key, error)
        return Receipt(case_id=complaint.id, case_number=complaint.case_number, created=True)

    async def receive_complaint_shared(
        self,
        record: ComplaintRecord,
        *,
        actor: Actor | None = None,
        idempotency_key: str | None = None,
        correlation_id: UUID | None = None,
    ) -> Receipt:
        """``receive_complaint`` for the event loop: the save shares a transaction with concurrent ones."""
        if self.sources.status(self.customer_id_of(record.customer.phone, record.customer.email)) == BLOCKED:
            await asyncio.to_thread(self.refuse_if_blocked, record, correlation_id)
        complaint = self.open_complaint(
            record, actor=actor, idempotency_key=idempotency_key, correlation_id=correlation_id
        )
        try:
            await self.group_commit.save(complaint, side_writes=self._receipt_writes(complaint))
        except IntegrityError as error:
            return await asyncio.to_thread(self._repeat, complaint, idempotency_key, error)
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
        key is issued in memory; its row is written in the transaction that saves the complaint.
        """
        if record.store_id not in self.master_data.stores:
            raise InvalidValue("store_id", f"unknown store {record.store_id!r} (GET /api/stores lists them)")
        case_id = case_id_for_key(idempotency_key) if idempotency_key else uuid4()
        ctx = self.context(case_id, actor or receiver_of(record), correlation_id=correlation_id)
        customer_id = self.customer_id_of(record.customer.phone, record.customer.email)
        return Complaint.receive(
            ctx,
            record,
            customer_id=customer_id,
            assign_number=lambda: case_number(*self._next_number(ctx.recorded_at)),
            seal=self.keys.sealer(customer_id, case_id),
            source_flagged=self.sources.status(customer_id) is not None,
        )

    def refuse_if_blocked(self, record: ComplaintRecord, correlation_id: UUID | None = None) -> None:
        """A blocked contact's complaint is refused (``Blocked``, 403) and the attempt recorded."""
        customer_id = self.customer_id_of(record.customer.phone, record.customer.email)
        if self.sources.status(customer_id) != BLOCKED:
            return
        source = self.repository.get(source_id(customer_id))
        source.refuse(self.context(source.id, receiver_of(record), correlation_id=correlation_id), record.channel.value)
        self.save(source)
        raise Blocked(
            "this contact is blocked after repeated abusive complaints; a manager can lift the block "
            f"(case reference for staff: source {source.id})"
        )

    def flag_nuisance(self, case_id: UUID, *, actor: Actor, reason: str, correlation_id: UUID | None = None) -> bool:
        """Flag the case's contact as abusive; returns whether the contact is now blocked."""
        blocked: list[bool] = []

        def attempt() -> None:
            complaint = self.get_complaint(case_id)
            ctx = self.context(case_id, actor, correlation_id=correlation_id)
            complaint.flag_nuisance(ctx, reason)
            found = source_id(complaint.customer_id)
            source = self.repository.get(found) if found in self.repository else None
            source = source or ContactSource.open(ctx.model_copy(update={"case_id": found}), complaint.customer_id)
            source.flag(ctx.model_copy(update={"case_id": found}), case_id=case_id, reason=reason,
                        rule=self.rules.nuisance)  # fmt: skip
            status = self.sources.write(complaint.customer_id, BLOCKED if source.blocked else FLAGGED)
            self.save(complaint, source, side_writes=[status, self._case_flag(case_id)])
            blocked.append(source.blocked)

        self._retrying(attempt)
        return blocked[-1]

    def unblock_source(
        self, customer_id: UUID, *, actor: Actor, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """A manager lifts a contact's block, with a reason (404 if the contact was never flagged)."""
        found = source_id(customer_id)
        if found not in self.repository:
            raise NotFound(f"contact {customer_id} was never flagged")

        def attempt() -> None:
            source = self.repository.get(found)
            source.unblock(self.context(found, actor, correlation_id=correlation_id), reason)
            self.save(source, side_writes=[self.sources.write(customer_id, FLAGGED)])

        self._retrying(attempt)

    def nuisance_queue(self) -> list[dict[str, Any]]:
        """Cases from contacts flagged as abusive, newest first: they are handled apart."""
        rows = self.side.query(
            f"SELECT case_id, case_number, received_at FROM {self._cases} WHERE nuisance = 1 ORDER BY received_at DESC"
        )
        return [dict(row) for row in rows]

    def _case_flag(self, case_id: UUID) -> tuple[str, Any]:
        return f"UPDATE {self._cases} SET nuisance = 1 WHERE case_id = ?", (str(case_id),)

    def link_repeat(self, message: EventMessage, triaged: ComplaintTriaged) -> Iterable[Any]:
        """Policy: once a complaint is triaged, link it to the customer's most recent complaint about the same
        order or the same category within the window (``config/intake.yaml``), and note its category."""
        case_id = message.envelope.case_id
        yield f"UPDATE {self._cases} SET category = ? WHERE case_id = ?", (triaged.category.value, str(case_id))
        rows = self.side.query(f"SELECT customer_id FROM {self._cases} WHERE case_id = ?", (str(case_id),))
        if not rows:
            return
        cases = [
            PastCase(UUID(r["case_id"]), r["case_number"], r["order_id"], r["category"],
                     datetime.fromisoformat(r["received_at"]))
            for r in self.side.query(
                f"SELECT case_id, case_number, order_id, category, received_at FROM {self._cases} WHERE customer_id = ?",
                (rows[0]["customer_id"],),
            )
        ]  # fmt: skip
        [new] = [c for c in cases if c.case_id == case_id]
        found = find_repeat(
            PastCase(new.case_id, new.case_number, new.order_id, triaged.category.value, new.received_at),
            cases,
            self.rules.repeat,
        )
        if found is not None:
            complaint = self.get_complaint(case_id)
            complaint.link_repeat(
                self.context(case_id, Actor.system(self.name), cause=message),
                earlier_case_id=found.case.case_id,
                earlier_case_number=found.case.case_number,
                basis=found.basis,
                days_apart=found.days_apart,
            )
            yield complaint

    def evidence_key(self, case_id: UUID) -> DataKey:
        """The data key the case's evidence is encrypted under (``InvalidTransition`` once the customer was erased)."""
        complaint = self.get_complaint(case_id)
        key = None if complaint.customer_erased else self.keys.find(key_id_of(complaint.customer_sealed))
        if key is None:
            raise InvalidTransition(f"the customer of case {complaint.case_number} was erased")
        return key

    def contact_matches(self, case_id: UUID, contact: str) -> bool:
        """Whether ``contact`` (the last 4 digits of the customer's phone, or their e-mail) is the case's
        customer's; always False once the customer was erased."""
        complaint = self.get_complaint(case_id)
        key = None if complaint.customer_erased else self.keys.find(key_id_of(complaint.customer_sealed))
        if key is None:
            return False
        known = json.loads(key.open(complaint.customer_sealed, "customer"))
        given = contact.strip().lower()
        phone_digits = "".join(ch for ch in known.get("phone", "") if ch.isdigit())
        if given.isdigit() and len(given) == 4:
            return bool(phone_digits) and phone_digits.endswith(given)
        return bool(known.get("email")) and hmac.compare_digest(known["email"].strip().lower(), given)

    def customer_id_of(self, phone: str | None, email: str | None) -> UUID:
        """The pseudonymous id of the customer with this contact (the same for every channel)."""
        key = self.settings.blind_index_key.get_secret_value().encode()
        return customer_id_for(normalise_contact(phone, email), key)

    def _receipt_writes(self, complaint: Complaint) -> list[tuple[str, Any]]:
        # The case's index row and its data key go in the transaction that saves its events.
        index = (
            f"INSERT INTO {self._cases} (case_id, case_number, customer_id, order_id, category, received_at, nuisance) "
            "VALUES (?, ?, ?, ?, NULL, ?, ?)",
            (str(complaint.id), complaint.case_number, str(complaint.customer_id), complaint.order_id,
             complaint.created_on.isoformat(), int(complaint.nuisance_flagged)),
        )  # fmt: skip
        return [index, *self.keys.writes_for(complaint.id)]

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
            complaint.amend(ctx, kind=kind, reason=reason, changes=changes, seal=seal)

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
                ctx, sha256=sha256, media_type=media_type, size=size, filename=filename, note=note
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

        self._retrying(attempt)

    def get_complaint(self, case_id: UUID) -> Complaint:
        """The complaint as recorded (404 for an unknown id, or the id of another aggregate)."""
        found = self.repository.get(case_id) if case_id in self.repository else None
        if not isinstance(found, Complaint):
            raise NotFound(f"no complaint {case_id}")
        return found

    def customer_erased(self, complaint: Complaint) -> bool:
        """Whether the complaint's personal data is gone: its erasure recorded, or its data key destroyed."""
        return complaint.customer_erased or self.keys.find(key_id_of(complaint.customer_sealed)) is None

    def read_contact(self, case_id: UUID, *, actor: Actor, correlation_id: UUID | None = None) -> ContactDetails:
        """The case's customer contact and original description, for ``actor``; the read is recorded
        (``ContactDetailsRead``) before anything is returned. After erasure: ``erased`` and nothing else."""
        may_read_contact(actor)

        def attempt() -> ContactDetails:
            complaint = self.get_complaint(case_id)
            key = None if complaint.customer_erased else self.keys.find(key_id_of(complaint.customer_sealed))
            if key is None:
                return ContactDetails(erased=True)
            contact = json.loads(key.open(complaint.customer_sealed, "customer"))
            details = ContactDetails(
                erased=False, description=key.open(complaint.description_sealed, "description"), **contact
            )
            complaint.record_contact_read(
                self.context(case_id, actor, correlation_id=correlation_id), fields=[*sorted(contact), "description"]
            )
            self.save(complaint)
            return details

        return self._retrying(attempt)

    def erase_customer(
        self, customer_id: UUID, *, actor: Actor, approved_by: Actor, reason: str, correlation_id: UUID | None = None
    ) -> ErasureReceipt:
        """Erase a customer's personal data (crypto-shredding): record who asked, who approved and why,
        mark each of the customer's cases, then destroy every data key the customer had.

        The events are saved first: should destroying the keys fail, the cases already read as erased
        and a repeated request destroys what is left.
        """

        def attempt() -> ErasureReceipt:
            record_id = privacy_record_id(customer_id)
            record = self.repository.get(record_id) if record_id in self.repository else None
            held = self.keys.held(customer_id)
            # A key without a complaint is left by a save that failed after its key was stored.
            case_ids = sorted({key.case_id for key in held if key.case_id in self.repository}, key=str)
            complaints = [self.repository.get(case_id) for case_id in case_ids]
            ctx = self.context(record_id, actor, correlation_id=correlation_id)
            record = CustomerPrivacy.erase(
                record,
                ctx,
                customer_id=customer_id,
                # Staff write the reason; a phone number or e-mail address in it is masked all the same.
                reason=mask_contact(reason),
                approved_by=approved_by,
                keys_held=len(held),
                case_ids=case_ids,
            )
            # Each case's erasure is caused by the erasure on the customer's record.
            cause = event_id_for(record.id, record.version)
            for complaint in complaints:
                case_ctx = self.context(complaint.id, actor, correlation_id=ctx.correlation_id)
                complaint.record_erasure(case_ctx.model_copy(update={"causation_id": cause}), approved_by)
            self.save(record, *complaints)
            destroyed = self.keys.destroy([key.key_id for key in held])
            return ErasureReceipt(customer_id=customer_id, keys_destroyed=destroyed, case_ids=case_ids)

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        # A concurrent command saved the same aggregate first: load it again and decide again.
        conflict = None
        for _ in range(CONFLICT_RETRIES):
            try:
                return attempt()
            except IntegrityError as error:
                conflict = error
        raise InvalidTransition("the record kept changing concurrently; try again") from conflict

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
