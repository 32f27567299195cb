"""Delivering the customer messages feedback prepares: the ``Delivery`` aggregate (one per prepared message), the
choice of channel and the back-off between attempts. Pure: instants, the contact's fields and the rules come in
as arguments.

No personal data is recorded: the events name the channel, never the address; errors are written by the adapters
without the recipient or the text.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.customerlinks import LINK_PURPOSE, LINK_SUBJECT
from shared.errors import InvalidTransition
from shared.eventstore import CaseAggregate, EventContext

# What each outgoing channel needs of the customer's contact (any one of the fields).
NEEDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "sms": ("phone",),
    "app": ("member_id", "phone", "email"),
    "chat": ("member_id", "phone", "email"),
}
NO_CHANNEL = "none"
LANGUAGES = ("zh", "en")


class RetryRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backoff_seconds: list[float] = Field(min_length=1)
    max_attempts: int = Field(ge=1)


class DeliveryRules(BaseModel):
    """``config/notifications.yaml``."""

    model_config = ConfigDict(extra="forbid")

    retry: RetryRule
    channels: dict[str, list[str]]
    mail_from: str
    public_base_url: str = ""
    timeout_seconds: float = 10.0
    lease_seconds: float = 120.0
    # How long a customer link (answer a proposal, a survey) stays valid after the message carrying it is sent.
    link_valid_days: float = Field(default=30.0, gt=0, le=366)

    @model_validator(mode="after")
    def _known_channels(self) -> DeliveryRules:
        if "default" not in self.channels:
            raise ValueError("channels needs a 'default' entry")
        for source, wanted in self.channels.items():
            unknown = [c for c in wanted if c not in NEEDS]
            if unknown:
                raise ValueError(f"channels.{source}: unknown {unknown} (one of {sorted(NEEDS)})")
        return self


def delivery_id_for(message_event_id: UUID) -> UUID:
    """The delivery of a prepared message: derived from its event id, so a redelivered message finds it."""
    return uuid5(message_event_id, "delivery")


def language_of(language: str | None) -> str:
    """The template language for a message's language: zh or en (zh-CN → zh; anything else → zh)."""
    code = (language or "").strip().lower().split("-")[0].split("_")[0]
    return code if code in LANGUAGES else "zh"


def choose_channel(complaint_channel: str, contact_fields: Collection[str], rules: DeliveryRules) -> str | None:
    """How to reach the customer: the first channel preferred for the complaint's channel that the contact allows
    (``contact_fields``: the fields the customer gave, e.g. {"phone", "email"}); None if none does."""
    given = {f for f in contact_fields}
    for channel in rules.channels.get(complaint_channel, rules.channels["default"]):
        if any(field in given for field in NEEDS[channel]):
            return channel
    return None


def recipient(channel: str, contact: dict[str, str]) -> str | None:
    """The address to send to on ``channel`` (in memory only, never recorded)."""
    for field in NEEDS.get(channel, ()):
        if contact.get(field):
            return contact[field]
    return None


def backoff(rules: DeliveryRules, attempt: int) -> timedelta:
    """How long to wait after attempt ``attempt`` (1-based) failed."""
    steps = rules.retry.backoff_seconds
    return timedelta(seconds=steps[min(attempt, len(steps)) - 1])


def retry_at(rules: DeliveryRules, attempt: int, failed_at: datetime) -> datetime | None:
    """When to try again after attempt ``attempt`` failed at ``failed_at``; None when it was the last."""
    if attempt >= rules.retry.max_attempts:
        return None
    return failed_at + backoff(rules, attempt)


class DeliveryStatus(StrEnum):
    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    FAILED = "failed"


class Delivery(CaseAggregate):
    """Getting one prepared message to the customer: scheduled, then attempts until delivered or failed for good."""

    class DeliveryScheduled(CaseAggregate.Created):
        message_event_id: UUID
        message_type: str
        channel: str
        template: str
        language: str
        params: dict[str, str]

    def __init__(
        self,
        envelope: dict[str, Any],
        message_event_id: UUID,
        message_type: str,
        channel: str,
        template: str,
        language: str,
        params: dict[str, str],
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.message_event_id = UUID(str(message_event_id))
        self.message_type = message_type
        self.channel = channel
        self.template = template
        self.language = language
        self.params = dict(params)
        self.status = DeliveryStatus.SCHEDULED
        self.attempts = 0
        self.last_error: str | None = None
        self.scheduled_at = datetime.fromisoformat(envelope["recorded_at"])
        # The attempts continue the prepared message's story: same correlation, caused by the scheduling.
        self.correlation_id = UUID(envelope["correlation_id"])
        self.scheduled_event_id = UUID(envelope["event_id"])
        self.next_attempt_at: datetime | None = self.scheduled_at
        self.finished_at: datetime | None = None
        self.history: list[dict[str, Any]] = []
        self.links_issued = 0

    @classmethod
    def schedule(
        cls,
        ctx: EventContext,
        *,
        message_event_id: UUID,
        message_type: str,
        channel: str | None,
        template: str,
        language: str,
        params: dict[str, str],
    ) -> Delivery:
        """A prepared message is to be sent at once on ``channel`` (None: no way to reach the customer was found)."""
        return cls._start(
            cls.DeliveryScheduled,
            delivery_id_for(message_event_id),
            ctx,
            message_event_id=message_event_id,
            message_type=message_type,
            channel=channel or NO_CHANNEL,
            template=template,
            language=language_of(language),
            # A "token" value is never kept: intake mints the link's token when it sends (older messages had one).
            params={str(k): str(v) for k, v in params.items() if k != "token"},
        )

    class MessageDelivered(CaseAggregate.Event):
        message_event_id: UUID
        channel: str
        attempt: int

        def apply(self, aggregate: Delivery) -> None:
            aggregate.attempts = self.attempt
            aggregate.status = DeliveryStatus.DELIVERED
            aggregate.next_attempt_at = None
            aggregate.finished_at = self.timestamp
            aggregate.history.append({"attempt": self.attempt, "at": self.timestamp, "outcome": "delivered"})

    def delivered(self, ctx: EventContext) -> None:
        """The channel accepted the message."""
        self._must_be_scheduled()
        self._record(
            self.MessageDelivered, ctx, message_event_id=self.message_event_id, channel=self.channel,
            attempt=self.attempts + 1,
        )  # fmt: skip

    class MessageDeliveryFailed(CaseAggregate.Event):
        message_event_id: UUID
        channel: str
        attempt: int
        error: str
        final: bool
        retry_at: str | None = None

        def apply(self, aggregate: Delivery) -> None:
            aggregate.attempts = self.attempt
            aggregate.last_error = self.error
            aggregate.next_attempt_at = None if self.retry_at is None else datetime.fromisoformat(self.retry_at)
            if self.final:
                aggregate.status = DeliveryStatus.FAILED
                aggregate.finished_at = self.timestamp
            aggregate.history.append(
                {"attempt": self.attempt, "at": self.timestamp, "outcome": "failed", "error": self.error,
                 "final": self.final}
            )  # fmt: skip

    def failed(self, ctx: EventContext, error: str, rules: DeliveryRules, *, final: bool = False) -> datetime | None:
        """An attempt failed with ``error`` (no personal data in it). Unless ``final`` (nothing another attempt could
        change) or it was the last attempt allowed, the next one is due after the back-off; returns when."""
        self._must_be_scheduled()
        attempt = self.attempts + 1
        again = None if final else retry_at(rules, attempt, ctx.recorded_at)
        self._record(
            self.MessageDeliveryFailed, ctx, message_event_id=self.message_event_id, channel=self.channel,
            attempt=attempt, error=error[:500], final=again is None, retry_at=again.isoformat() if again else None,
        )  # fmt: skip
        return again

    class CustomerLinkIssued(CaseAggregate.Event):
        message_event_id: UUID
        token_id: str
        token_hash: str
        purpose: str
        subject_id: str
        expires_at: datetime

        def apply(self, aggregate: Delivery) -> None:
            aggregate.links_issued += 1

    @property
    def link_request(self) -> tuple[str, str] | None:
        """The (purpose, subject) of the customer link the message asks for, or None."""
        purpose = self.params.get(LINK_PURPOSE)
        return (purpose, self.params.get(LINK_SUBJECT, "")) if purpose else None

    def issue_link(self, ctx: EventContext, *, token_id: str, token_hash: str, expires_at: datetime) -> None:
        """The attempt about to be made carries a new link (only the token's hash is recorded): recorded before the
        message is sent, so the link works by the time it arrives."""
        self._must_be_scheduled()
        request = self.link_request
        if request is None:
            raise InvalidTransition("the message asks for no customer link")
        purpose, subject = request
        self._record(
            self.CustomerLinkIssued, ctx, message_event_id=self.message_event_id, token_id=token_id,
            token_hash=token_hash, purpose=purpose, subject_id=subject, expires_at=expires_at,
        )  # fmt: skip

    @property
    def is_due(self) -> bool:
        return self.status is DeliveryStatus.SCHEDULED

    def _must_be_scheduled(self) -> None:
        if self.status is not DeliveryStatus.SCHEDULED:
            raise InvalidTransition(f"the message was already {self.status.value}")
