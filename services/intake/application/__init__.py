"""Intake's Application: receives and records complaints, guards the customers' personal data, screens sources."""

from services.intake.application.intake import NUMBER_BLOCK, Intake, Receipt, case_id_for_key
from services.intake.application.personal_data import ContactDetails, ErasureReceipt

__all__ = ["NUMBER_BLOCK", "ContactDetails", "ErasureReceipt", "Intake", "Receipt", "case_id_for_key"]
