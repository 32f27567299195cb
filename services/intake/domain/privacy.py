"""Intake's domain for personal data: who may read a customer's contact, and the customer's privacy
record (erasures: who asked, who approved, why). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Role

# Who may see how to reach a customer: the staff who handle the case, and legal.
CONTACT_READERS = frozenset({Role.FRONTLINE, Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.LEGAL})
# Who may approve erasing a customer's personal data.
ERASURE_APPROVERS = frozenset({Role.LEGAL, Role.HQ, Role.ADMIN})


def may_read_contact(actor: Actor) -> None:
    """Refuse (``Forbidden``) an actor whose role may not see a customer's contact details."""
    if actor.role not in CONTACT_READERS:
        allowed = ", ".join(sorted(CONTACT_READERS))
        raise Forbidden(f"role {actor.role.value!r} may not read contact details (allowed: {allowed})")


def privacy_record_id(customer_id: UUID) -> UUID:
    """The id of a customer's privacy record: derived, so two first erasures collide instead of forking."""
    return uuid5(customer_id, "intake:privacy")


class CustomerPrivacy(CaseAggregate):
    """A customer's privacy record: every erasure of their personal data, who asked, who approved, why.

    Its events are about a customer, not a case: their envelope's ``case_id`` is the record's own id.
    """

    class PrivacyRecordOpened(CaseAggregate.Created):
        customer_id: UUID

    class ErasureRecorded(CaseAggregate.Event):
        reason: str
        requested_by: dict[str, Any]
        approved_by: dict[str, Any]
        keys_destroyed: int
        case_ids: list[str]

        def apply(self, aggregate: CustomerPrivacy) -> None:
            aggregate.erasures += 1

    def __init__(self, envelope: dict[str, Any], customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.erasures = 0

    @classmethod
    def erase(
        cls,
        record: CustomerPrivacy | None,
        ctx: EventContext,
        *,
        customer_id: UUID,
        reason: str,
        approved_by: Actor,
        keys_held: int,
        case_ids: Sequence[UUID],
    ) -> CustomerPrivacy:
        """Erase the customer's personal data: the ``keys_held`` data keys (of ``case_ids``) are to be destroyed.

        Refuses an unknown customer (404), an approver whose role may not approve (403), a requester
        approving their own request or a customer with nothing left to erase (409), an empty reason (422).
        ``record`` is the customer's privacy record, None before their first erasure.
        """
        if keys_held == 0 and record is None:
            raise NotFound(f"no personal data is held for customer {customer_id}")
        if not reason.strip():
            raise InvalidValue("reason", "must not be empty")
        if approved_by.role not in ERASURE_APPROVERS:
            allowed = ", ".join(sorted(ERASURE_APPROVERS))
            raise Forbidden(f"role {approved_by.role.value!r} may not approve an erasure (allowed: {allowed})")
        if approved_by.id == ctx.actor.id:
            raise InvalidTransition("the approver must be a different person from the requester")
        if keys_held == 0:
            raise InvalidTransition(f"customer {customer_id} is already erased")
        if record is None:
            record = cls._start(cls.PrivacyRecordOpened, privacy_record_id(customer_id), ctx, customer_id=customer_id)
        record._record(
            cls.ErasureRecorded,
            ctx,
            reason=reason.strip(),
            requested_by=ctx.actor.model_dump(mode="json"),
            approved_by=approved_by.model_dump(mode="json"),
            keys_destroyed=keys_held,
            case_ids=[str(case_id) for case_id in case_ids],
        )
        return record
