"""Messages to the customer, each recorded as an event before it is sent. Pure."""

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


# --- messages to the customer --------------------------------------------------------------------------------------


class CustomerMessage(CaseAggregate):
    """One message to the customer (a proposal to answer, the result, a survey), recorded before it is sent.

    Only the template, the language and the values to fill in: intake, which holds the contact, delivers it.
    """

    class MessagePrepared(CaseAggregate.Created):
        template: str
        language: str
        params: dict[str, str]

    def __init__(self, envelope: dict[str, Any], template: str, language: str, params: dict[str, str]) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.template = template
        self.language = language
        self.params = params

    @classmethod
    def prepare(
        cls, id: UUID, ctx: EventContext, *, template: str, language: str, params: dict[str, Any]
    ) -> CustomerMessage:
        """Prepare a message in the customer's language (Chinese when unknown); values without one are left out."""
        language = language if language in ("zh", "en") else "zh"
        values = {key: str(value) for key, value in params.items() if value is not None}
        return cls._start(cls.MessagePrepared, id, ctx, template=template, language=language, params=values)
