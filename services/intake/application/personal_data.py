"""Intake's commands about personal data: contact reads (audited), erasure, the keys evidence is sealed with."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.intake.domain import Complaint, CustomerPrivacy, privacy_record_id
from shared.contracts import Actor, event_id_for
from shared.errors import InvalidTransition, NotFound
from shared.privacy import DataKey, key_id_of, mask_contact


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


class PersonalData:
    """Mixed into ``Intake``: what touches the customers' personal data."""

    keys: Any

    def evidence_key(self, case_id: UUID) -> DataKey:
        """The data key the case's evidence is encrypted under (``InvalidTransition`` once the customer was erased)."""
        complaint = self.get_complaint(case_id)
        key = self.data_key(complaint)
        if key is None:
            raise InvalidTransition(f"the customer of case {complaint.case_number} was erased")
        return key

    def contact_matches(self, complaint: Complaint, contact: str) -> bool:
        """Whether ``contact`` (the last 4 digits of the customer's phone, or their e-mail) is the complaint's
        customer's; always False once the customer was erased."""
        key = self.data_key(complaint)
        if key is None:
            return False
        known = json.loads(key.open(complaint.customer_sealed, "customer"))
        given = contact.strip().lower()
        phone_digits = "".join(ch for ch in known.get("phone", "") if ch.isdigit())
        if given.isdigit() and len(given) == 4:
            return bool(phone_digits) and phone_digits.endswith(given)
        return bool(known.get("email")) and hmac.compare_digest(known["email"].strip().lower(), given)

    def known_contact(self, complaint: Complaint) -> dict[str, str]:
        """The customer's contact as sealed on the complaint (to mask it in new text); empty once erased."""
        key = self.data_key(complaint)
        return json.loads(key.open(complaint.customer_sealed, "customer")) if key is not None else {}

    def data_key(self, complaint: Complaint) -> DataKey | None:
        """The key the complaint's personal data is sealed with; None once the customer was erased."""
        return None if complaint.customer_erased else self.keys.find(key_id_of(complaint.customer_sealed))

    def customer_erased(self, complaint: Complaint) -> bool:
        """Whether the complaint's personal data is gone: its erasure recorded, or its data key destroyed."""
        return self.data_key(complaint) is None

    def read_contact(self, case_id: UUID, *, actor: Actor, correlation_id: UUID | None = None) -> ContactDetails:
        """The case's customer contact and original description, for ``actor``; the read is recorded
        (``ContactDetailsRead``) before anything is returned. After erasure: ``erased`` and nothing else."""

        def attempt() -> ContactDetails:
            complaint = self.get_complaint(case_id)
            key = self.data_key(complaint)
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

        return self.retrying(attempt)

    def request_erasure(
        self, customer_id: UUID, *, actor: Actor, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """Ask, as ``actor``, for a customer's personal data to be erased; another person approves it
        (``erase_customer``). 404 for a customer with no data, 409 if already erased or already asked."""

        def attempt() -> None:
            record_id = privacy_record_id(customer_id)
            record = CustomerPrivacy.request_erasure(
                self.find(record_id),
                self.context(record_id, actor, correlation_id=correlation_id),
                customer_id=customer_id,
                # Staff write the reason; a phone number or e-mail address in it is masked all the same.
                reason=mask_contact(reason),
                keys_held=len(self.keys.held(customer_id)),
            )
            self.save(record)

        self.retrying(attempt)

    def erase_customer(self, customer_id: UUID, *, actor: Actor, correlation_id: UUID | None = None) -> ErasureReceipt:
        """Approve, as ``actor``, the customer's waiting erasure and carry it out (crypto-shredding): record who
        asked, who approved and why, mark each of the customer's cases, then destroy every data key they had.

        The events are saved first: should destroying the keys fail, the cases already read as erased
        and a repeated request destroys what is left.
        """

        def attempt() -> ErasureReceipt:
            record_id = privacy_record_id(customer_id)
            record = self.find(record_id)
            if not isinstance(record, CustomerPrivacy):
                raise NotFound(f"no erasure of customer {customer_id} was asked for")
            held = self.keys.held(customer_id)
            # A key without a complaint is left by a save that failed after its key was stored.
            case_ids = sorted({key.case_id for key in held if key.case_id in self.repository}, key=str)
            complaints = [self.repository.get(case_id) for case_id in case_ids]
            ctx = self.context(record_id, actor, correlation_id=correlation_id)
            record.approve_erasure(ctx, keys_held=len(held), case_ids=case_ids)
            # Each case's erasure is caused by the erasure on the customer's record.
            cause = event_id_for(record.id, record.version)
            for complaint in complaints:
                case_ctx = self.context(complaint.id, actor, correlation_id=ctx.correlation_id)
                complaint.record_erasure(case_ctx.model_copy(update={"causation_id": cause}), actor)
            self.save(record, *complaints)
            destroyed = self.keys.destroy([key.key_id for key in held])
            return ErasureReceipt(customer_id=customer_id, keys_destroyed=destroyed, case_ids=case_ids)

        return self.retrying(attempt)
