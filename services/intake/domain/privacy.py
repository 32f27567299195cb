"""Intake's domain for personal data: the customer's privacy record (erasures: who asked, who approved, why).
Who may read a customer's contact at all is the permission policy's (config/permissions.yaml). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Role

# Who may approve erasing a customer's personal data.
ERASURE_APPROVERS = frozenset({Role.LEGAL, Role.HQ, Role.ADMIN})


def privacy_record_id(customer_id: UUID) -> UUID:
    """The id of a customer's privacy record: derived, so two first erasures collide instead of forking."""
    return uuid5(customer_id, "intake:privacy")


class CustomerPrivacy(CaseAggregate):
    """A customer's privacy record: every erasure of their personal data, who asked, who approved, why.

    Its events are about a customer, not a case: their envelope's ``case_id`` is the record's own id.
    """

    class PrivacyRecordOpened(CaseAggregate.Created):
        customer_id: UUID

    class ErasureRequested(CaseAggregate.Event):
        reason: str
        requested_by: dict[str, Any]

        def apply(self, aggregate: CustomerPrivacy) -> None:
            aggregate.pending = {"reason": self.reason, "requested_by": self.requested_by}

    class ErasureRecorded(CaseAggregate.Event):
        reason: str
        requested_by: dict[str, Any]
        approved_by: dict[str, Any]
        keys_destroyed: int
        case_ids: list[str]

        def apply(self, aggregate: CustomerPrivacy) -> None:
            aggregate.erasures += 1
            aggregate.pending = None

    def __init__(self, envelope: dict[str, Any], customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.erasures = 0
        # The erasure asked for and not yet approved: its reason and who asked.
        self.pending: dict[str, Any] | None = None

    @classmethod
    def request_erasure(
        cls, record: CustomerPrivacy | None, ctx: EventContext, *, customer_id: UUID, reason: str, keys_held: int
    ) -> CustomerPrivacy:
        """Ask for the customer's personal data to be erased; a second person approves (``approve_erasure``).

        Refuses an unknown customer (404), an empty reason (422), a customer already erased or one whose erasure
        already awaits approval (409). ``record`` is the customer's privacy record, None before their first.
        """
        if keys_held == 0 and record is None:
            raise NotFound(f"no personal data is held for customer {customer_id}")
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        if keys_held == 0:
            raise InvalidTransition(f"customer {customer_id} is already erased")
        if record is not None and record.pending is not None:
            raise InvalidTransition(f"an erasure of customer {customer_id} already awaits approval")
        if record is None:
            record = cls._start(cls.PrivacyRecordOpened, privacy_record_id(customer_id), ctx, customer_id=customer_id)
        record._record(cls.ErasureRequested, ctx, reason=reason.strip(), requested_by=ctx.actor.model_dump(mode="json"))
        return record

    def approve_erasure(self, ctx: EventContext, *, keys_held: int, case_ids: Sequence[UUID]) -> None:
        """The approver (``ctx.actor``) approves the waiting request: the ``keys_held`` data keys of ``case_ids``
        are to be destroyed.

        Four eyes: refuses an approver whose role may not approve (403), the requester approving their own
        request, no request waiting, or nothing left to erase (409).
        """
        approver = ctx.actor
        if self.pending is None:
            raise InvalidTransition(f"no erasure of customer {self.customer_id} awaits approval")
        if approver.role not in ERASURE_APPROVERS:
            allowed = ", ".join(sorted(ERASURE_APPROVERS))
            raise Forbidden(f"role {approver.role.value!r} may not approve an erasure (allowed: {allowed})")
        if approver.id == self.pending["requested_by"]["id"]:
            raise InvalidTransition("the approver must be a different person from the requester")
        if keys_held == 0:
            raise InvalidTransition(f"customer {self.customer_id} is already erased")
        self._record(
            self.ErasureRecorded,
            ctx,
            reason=self.pending["reason"],
            requested_by=self.pending["requested_by"],
            approved_by=approver.model_dump(mode="json"),
            keys_destroyed=keys_held,
            case_ids=[str(case_id) for case_id in case_ids],
        )
