"""Intake's domain: the complaint record, the ``Complaint`` aggregate, contact sources, privacy. Pure."""

from services.intake.domain.complaint import (
    AMENDABLE,
    Complaint,
    Seal,
    case_number,
)
from services.intake.domain.privacy import (
    ERASURE_APPROVERS,
    CustomerPrivacy,
    privacy_record_id,
)
from services.intake.domain.record import CHANNEL_DETAILS, Changes, ComplaintRecord, Customer, ReceivedBy, receiver_of
from services.intake.domain.rules import IntakeRules, PastCase, Repeat, find_repeat
from services.intake.domain.sources import Blocked, ContactSource, source_id

__all__ = [
    "AMENDABLE",
    "CHANNEL_DETAILS",
    "Changes",
    "ERASURE_APPROVERS",
    "Blocked",
    "Complaint",
    "ComplaintRecord",
    "ContactSource",
    "Customer",
    "CustomerPrivacy",
    "IntakeRules",
    "PastCase",
    "ReceivedBy",
    "Repeat",
    "Seal",
    "case_number",
    "find_repeat",
    "privacy_record_id",
    "receiver_of",
    "source_id",
]
