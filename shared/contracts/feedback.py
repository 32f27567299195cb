"""Events feedback publishes: messages to the customer."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import Contract


class AcknowledgementPrepared(Contract):
    producer: ClassVar[str] = "feedback"
    case_number: str
    language: str
    template: str


class RejectionExplained(Contract):
    """A polite explanation, with the reason, was prepared for a customer whose complaint was not well-founded."""

    producer: ClassVar[str] = "feedback"
    case_number: str
    language: str
    reason: str
    template: str
