"""Recalls, pure: the notice to each affected customer.

``RecallNotice``: one per affected order line of a campaign (its id is ``notice_id_for`` the line): the customer is
contacted → responds → is remedied, or is unreachable. Contact details are sealed (a token); the events name the
customer by a pseudonym only, and contact details typed into staff notes are masked.

Instants come in as arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.resolution.domain.recall.campaign import RecallRemedy
from services.resolution.domain.recall.common import _note
from shared.errors import InvalidTransition
from shared.eventstore import CaseAggregate, EventContext

# --- notices to affected customers ------------------------------------------------------------------------------


class NoticeStatus(StrEnum):
    ISSUED = "issued"
    CONTACTED = "contacted"
    RESPONDED = "responded"
    REMEDIED = "remedied"
    UNREACHABLE = "unreachable"


# Which statuses each status may be reached from. An unreachable customer found later is contacted after all.
_FROM: dict[NoticeStatus, frozenset[NoticeStatus]] = {
    NoticeStatus.CONTACTED: frozenset({NoticeStatus.ISSUED, NoticeStatus.UNREACHABLE}),
    NoticeStatus.RESPONDED: frozenset({NoticeStatus.CONTACTED}),
    NoticeStatus.REMEDIED: frozenset({NoticeStatus.CONTACTED, NoticeStatus.RESPONDED}),
    NoticeStatus.UNREACHABLE: frozenset({NoticeStatus.ISSUED, NoticeStatus.CONTACTED}),
}
_STATUS_OF = {f"RecallNotice{status.value.capitalize()}": status for status in NoticeStatus}
# A notice is done (counts towards % done) once remedied or the customer could not be reached.
DONE = frozenset({NoticeStatus.REMEDIED, NoticeStatus.UNREACHABLE})


class ContactChannel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    STORE = "store"
    APP = "app"


class RecallNotice(CaseAggregate):
    """The recall notice to one affected order line's customer, tracked to completion."""

    class RecallNoticeIssued(CaseAggregate.Created):
        notice_id: UUID
        campaign_id: UUID
        customer_ref: UUID
        order_id: str
        sku: str
        batch: str | None
        sold_on: str | None
        remedy: str
        language: str
        channels: list[str]
        contact_sealed: str  # private: never in the contract

    def __init__(
        self,
        envelope: dict[str, Any],
        notice_id: UUID,
        campaign_id: UUID,
        customer_ref: UUID,
        order_id: str,
        sku: str,
        batch: str | None,
        sold_on: str | None,
        remedy: str,
        language: str,
        channels: list[str],
        contact_sealed: str,
    ) -> None:
        self.campaign_id = campaign_id
        self.customer_ref = customer_ref
        self.order_id = order_id
        self.sku = sku
        self.batch = batch
        self.sold_on = sold_on
        self.remedy = remedy
        self.language = language
        self.channels = channels
        self.contact_sealed = contact_sealed
        self.status = NoticeStatus.ISSUED
        self.history: list[dict[str, Any]] = [{"status": "issued", "at": envelope["recorded_at"]}]

    @classmethod
    def issue(
        cls,
        ctx: EventContext,
        campaign_id: UUID,
        customer_ref: UUID,
        order_id: str,
        sku: str,
        batch: str | None,
        sold_on: date | None,
        remedy: RecallRemedy,
        language: str,
        channels: list[str],
        contact_sealed: str,
    ) -> RecallNotice:
        """The notice for one order line; ``ctx.case_id`` is its id (``notice_id_for``)."""
        return cls._start(
            cls.RecallNoticeIssued, ctx.case_id, ctx, notice_id=ctx.case_id, campaign_id=campaign_id,
            customer_ref=customer_ref, order_id=order_id, sku=sku, batch=batch,
            sold_on=sold_on.isoformat() if sold_on else None, remedy=remedy.value, language=language,
            channels=channels, contact_sealed=contact_sealed,
        )  # fmt: skip

    class _StatusEvent(CaseAggregate.Event):
        notice_id: UUID
        campaign_id: UUID
        note: str | None

        def apply(self, aggregate: RecallNotice) -> None:
            aggregate.status = _STATUS_OF[type(self).__name__]
            envelope = self.envelope
            aggregate.history.append(
                {"status": aggregate.status.value, "at": envelope["recorded_at"], "by": envelope["actor"]["id"]}
            )

    class RecallNoticeContacted(_StatusEvent):
        channel: str

    class RecallNoticeResponded(_StatusEvent):
        pass

    class RecallNoticeRemedied(_StatusEvent):
        remedy: str

    class RecallNoticeUnreachable(_StatusEvent):
        pass

    def _move(self, to: NoticeStatus, event_class: type[Any], ctx: EventContext, note: str | None, **more: Any) -> None:
        if self.status not in _FROM[to]:
            raise InvalidTransition(f"the notice is {self.status.value}; it cannot become {to.value}")
        self._record(event_class, ctx, notice_id=self.id, campaign_id=self.campaign_id, note=_note(note), **more)

    def contacted(self, ctx: EventContext, channel: ContactChannel, note: str | None = None) -> None:
        """The customer was told of the recall (by phone, SMS, e-mail, letter, in store or in the app)."""
        self._move(NoticeStatus.CONTACTED, self.RecallNoticeContacted, ctx, note, channel=channel.value)

    def responded(self, ctx: EventContext, note: str | None = None) -> None:
        """The customer answered (e.g. booked the repair, will bring the product back)."""
        self._move(NoticeStatus.RESPONDED, self.RecallNoticeResponded, ctx, note)

    def remedied(self, ctx: EventContext, remedy: RecallRemedy | None = None, note: str | None = None) -> None:
        """The free repair, replacement or refund was done (the campaign's remedy unless another is named)."""
        done = (remedy or RecallRemedy(self.remedy)).value
        self._move(NoticeStatus.REMEDIED, self.RecallNoticeRemedied, ctx, note, remedy=done)

    def unreachable(self, ctx: EventContext, note: str | None = None) -> None:
        """Every way of reaching the customer failed."""
        self._move(NoticeStatus.UNREACHABLE, self.RecallNoticeUnreachable, ctx, note)

    def view(self) -> dict[str, Any]:
        """The notice without contact details (those are sealed; only the customer's pseudonym is shown)."""
        return {
            "notice_id": str(self.id),
            "campaign_id": str(self.campaign_id),
            "customer_ref": str(self.customer_ref),
            "order_id": self.order_id,
            "sku": self.sku,
            "batch": self.batch,
            "sold_on": self.sold_on,
            "remedy": self.remedy,
            "language": self.language,
            "channels": self.channels,
            "status": self.status.value,
            "history": self.history,
        }
