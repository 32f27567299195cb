"""Recalls, application: each notice's progress (contacted, responded, remedied, unreachable) and the notice queries.

A notice's status row in ``resolution_recall_notices`` is written with its event; the customer's own contact
details typed into a note are masked with the sealed contact (opened with the customer's data key, which their
erasure destroys: ``erase_recall_contacts``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.resolution.application.recalls.common import CONFLICT_RETRIES, CONTACT_FIELD
from services.resolution.domain.recall import ContactChannel, NoticeStatus, RecallNotice, RecallRemedy
from shared.contracts import Actor, CustomerErased, EventMessage
from shared.errors import InvalidTransition, InvalidValue, NotFound
from shared.eventstore import EventContext
from shared.privacy import key_id_of, mask_contact


class RecallNotices:
    """Recording a notice's progress; reading notices (never their contact details)."""

    # --- notices ----------------------------------------------------------------------------------------------

    def mark_notice(
        self: Any,
        notice_id: UUID,
        actor: Actor,
        status: NoticeStatus,
        *,
        channel: ContactChannel | None = None,
        remedy: RecallRemedy | None = None,
        note: str | None = None,
    ) -> RecallNotice:
        """Record a notice's progress: contacted (by ``channel``), responded, remedied (``remedy``, the campaign's
        by default) or unreachable. 409 for a move its status does not allow."""

        def decide(notice: RecallNotice, ctx: EventContext) -> None:
            if status is NoticeStatus.CONTACTED:
                if channel is None:
                    raise InvalidValue("channel", "is required", allowed=[c.value for c in ContactChannel])
                notice.contacted(ctx, channel, note)
            elif status is NoticeStatus.RESPONDED:
                notice.responded(ctx, note)
            elif status is NoticeStatus.REMEDIED:
                notice.remedied(ctx, remedy, note)
            elif status is NoticeStatus.UNREACHABLE:
                notice.unreachable(ctx, note)
            else:
                raise InvalidValue("status", "a notice is issued only by an import",
                                   allowed=[s.value for s in NoticeStatus if s is not NoticeStatus.ISSUED])  # fmt: skip

        conflict = None
        for attempt in range(CONFLICT_RETRIES):
            notice = self.get_notice(notice_id)
            if note and attempt == 0:
                # The customer's own name, phone and e-mail typed into the note are masked (then any number).
                note = mask_contact(note, self._contact_of(notice))
            ctx = self.context(notice_id, actor, correlation_id=notice.campaign_id)
            decide(notice, ctx)
            last = notice.pending_events[-1]
            update = (
                f"UPDATE {self.notices_table} SET status = ?, remedy = ?, updated_at = ? WHERE notice_id = ?",
                (notice.status.value, getattr(last, "remedy", None), ctx.recorded_at.isoformat(), str(notice_id)),
            )
            try:
                self.save(notice, side_writes=[update])
                return notice
            except IntegrityError as error:
                conflict = error
        raise InvalidTransition("the notice kept changing concurrently; try again") from conflict

    def erase_recall_contacts(self: Any, message: EventMessage, erased: CustomerErased) -> Iterator[Any]:
        """Policy: an erased customer's recall contacts become unreadable for good (their keys are deleted in the
        transaction that tracks the message); the notices stay, naming the customer by pseudonym only."""
        yield from self.recall_keys.destroy_writes(erased.customer_id)

    def _contact_of(self: Any, notice: RecallNotice) -> dict[str, str | None]:
        key = self.recall_keys.find(key_id_of(notice.contact_sealed))
        return json.loads(key.open(notice.contact_sealed, CONTACT_FIELD)) if key else {}

    def get_notice(self: Any, notice_id: UUID) -> RecallNotice:
        notice = self._find(notice_id)
        if not isinstance(notice, RecallNotice):
            raise NotFound(f"no recall notice {notice_id}")
        return notice

    def list_notices(
        self: Any, campaign_id: UUID, status: NoticeStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A page of a campaign's notices (no contact details), in order-id order."""
        self._campaign(campaign_id)
        where, params = "WHERE campaign_id = ?", [str(campaign_id)]
        if status is not None:
            where, params = where + " AND status = ?", [*params, status.value]
        return self.side.query(
            "SELECT notice_id, order_id, sku, batch, customer_ref, status, remedy, updated_at "
            f"FROM {self.notices_table} "
            f"{where} ORDER BY order_id, notice_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
