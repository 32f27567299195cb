"""Feedback's domain: messages to the customer (the acknowledgement first). Pure."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.eventstore import CaseAggregate, EventContext


class Acknowledgement(CaseAggregate):
    """The acknowledgement owed to a customer at once: apology and case number.

    Prepared here as an event; delivery by e-mail, SMS or push comes with the channel adapters.
    """

    class AcknowledgementPrepared(CaseAggregate.Created):
        case_number: str
        language: str
        template: str

    def __init__(self, envelope: dict[str, Any], case_number: str, language: str, template: str) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.case_number = case_number
        self.language = language
        self.template = template

    @classmethod
    def prepare(cls, id: UUID, ctx: EventContext, *, case_number: str, language: str) -> Acknowledgement:
        """Prepare the acknowledgement in the customer's language."""
        language = language if language in ("zh", "en") else "zh"
        return cls._start(
            cls.AcknowledgementPrepared, id, ctx, case_number=case_number, language=language, template="acknowledgement"
        )


class RejectionExplanation(CaseAggregate):
    """The polite explanation owed to a customer whose complaint was found not well-founded, with the reason.

    One per rejection (a case rejected again after an appeal gets another); delivery comes with the channel adapters.
    """

    class RejectionExplained(CaseAggregate.Created):
        case_number: str
        language: str
        reason: str
        template: str

    def __init__(self, envelope: dict[str, Any], case_number: str, language: str, reason: str, template: str) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.case_number = case_number
        self.language = language
        self.reason = reason
        self.template = template

    @classmethod
    def prepare(
        cls, id: UUID, ctx: EventContext, *, case_number: str, language: str, reason: str
    ) -> RejectionExplanation:
        """Prepare the explanation in the customer's language."""
        language = language if language in ("zh", "en") else "zh"
        return cls._start(
            cls.RejectionExplained,
            id,
            ctx,
            case_number=case_number,
            language=language,
            reason=reason,
            template="rejection",
        )
