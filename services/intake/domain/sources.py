"""Intake's ``ContactSource`` aggregate: nuisance flags on a customer contact, blocking and unblocking. Pure.

A source is a customer contact (its pseudonymous ``customer_id``). Staff flag it as abusive (骚扰)
with a reason; enough flags within the window block it; intake then refuses its complaints and
records each attempt; a manager may unblock it with a reason, after which only new flags count.
Its events are about a contact, not a case, so they stay inside intake (no public contract).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from services.intake.domain.rules import NuisanceRule
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.privacy import mask_contact


class Blocked(Forbidden):
    """A complaint from a blocked contact (HTTP 403); the attempt is recorded."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__(
            "this contact is blocked after repeated abusive complaints; a manager can lift the block "
            f"(case reference for staff: source {source_id(customer_id)})"
        )
        self.customer_id = customer_id




def source_id(customer_id: UUID) -> UUID:
    """The id of a contact's source record: derived, so two first flags collide instead of forking."""
    return uuid5(customer_id, "intake:source")


class ContactSource(CaseAggregate):
    """The nuisance record of one customer contact."""

    class SourceOpened(CaseAggregate.Created):
        customer_id: UUID

    class SourceFlagged(CaseAggregate.Event):
        case_id: str
        reason: str

        def apply(self, aggregate: ContactSource) -> None:
            aggregate.flagged_at.append(self.timestamp)

    class SourceBlocked(CaseAggregate.Event):
        flags: int
        window_days: int

        def apply(self, aggregate: ContactSource) -> None:
            aggregate.blocked = True

    class SourceUnblocked(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: ContactSource) -> None:
            aggregate.blocked = False
            aggregate.counted_since = self.timestamp

    class IntakeRefused(CaseAggregate.Event):
        channel: str

        def apply(self, aggregate: ContactSource) -> None:
            aggregate.refused += 1

    def __init__(self, envelope: dict[str, Any], customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.flagged_at: list[datetime] = []
        self.blocked = False
        self.counted_since: datetime | None = None
        self.refused = 0

    @classmethod
    def open(cls, ctx: EventContext, customer_id: UUID) -> ContactSource:
        """The source record of a contact not flagged before."""
        return cls._start(cls.SourceOpened, source_id(customer_id), ctx, customer_id=customer_id)

    def flag(self, ctx: EventContext, *, case_id: UUID, reason: str, rule: NuisanceRule) -> None:
        """Flag the contact as abusive; the flag that reaches ``rule.flags_to_block`` within the window blocks it."""
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        self._record(self.SourceFlagged, ctx, case_id=str(case_id), reason=mask_contact(reason.strip()))
        counted = self.flags_within(ctx.recorded_at, rule)
        if not self.blocked and counted >= rule.flags_to_block:
            self._record(self.SourceBlocked, ctx, flags=counted, window_days=rule.window_days)

    def flags_within(self, now: datetime, rule: NuisanceRule) -> int:
        """Flags that count now: within the window, and after the last unblocking."""
        window_start = now - timedelta(days=rule.window_days)
        after = self.counted_since
        return sum(1 for at in self.flagged_at if at >= window_start and (after is None or at > after))

    def unblock(self, ctx: EventContext, reason: str) -> None:
        """A manager lifts the block, with a reason."""
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        if not self.blocked:
            raise InvalidTransition("this contact is not blocked")
        self._record(self.SourceUnblocked, ctx, reason=mask_contact(reason.strip()))

    def refuse(self, ctx: EventContext, channel: str) -> None:
        """Record a complaint refused because the contact is blocked."""
        if not self.blocked:
            raise InvalidTransition("this contact is not blocked")
        self._record(self.IntakeRefused, ctx, channel=channel)
