"""Intake delivers the messages feedback prepares for the customer: intake alone can open their contact.

Policy: ``AcknowledgementPrepared``, ``RejectionExplained`` and ``MessagePrepared`` each schedule a ``Delivery``
(channel chosen from the complaint's channel and the contact there is), due at once. Its row in the
``deliveries`` side table (case, delivery, due instant) is written in the transaction that saves its events, so
no scheduled message is lost while the service is down. ``deliver_due`` (a loop of the intake service) sends
each due message: the contact is decrypted only in memory, the text rendered from ``services/intake/delivery/
templates``, sent by e-mail or through the webhook; the outcome is recorded and a failure is tried again after
the back-off in ``config/notifications.yaml``. Neither events nor logs hold an address or a message's text.

A message that asks for a customer link (a proposal to answer, a survey) gets a new random token at each attempt
(``shared.customerlinks``): ``CustomerLinkIssued`` (its hash, purpose, subject, expiry) is saved before the message
is sent, and the token itself lives only in the rendered text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError

from services.intake.delivery.adapters import ChannelAdapters, DeliveryError, Outgoing, Templates
from services.intake.domain import Complaint
from services.intake.domain.delivery import (
    NO_CHANNEL,
    Delivery,
    DeliveryRules,
    choose_channel,
    delivery_id_for,
    recipient,
)
from shared.configfiles import load_config
from shared.contracts import AcknowledgementPrepared, Actor, EventMessage, MessagePrepared, RejectionExplained
from shared.customerlinks import Purpose, mint
from shared.errors import NotFound
from shared.sidetables import SideTables, micros

log = structlog.get_logger()
Write = tuple[str, tuple[Any, ...]]

# Intake's reactions to feedback's prepared messages (merged into ``Intake.reactions``).
DELIVERY_REACTIONS = {
    "AcknowledgementPrepared": "deliver_acknowledgement",
    "RejectionExplained": "deliver_rejection",
    "MessagePrepared": "deliver_message",
}


class _Conflict(Exception):
    """Another worker recorded this delivery meanwhile (its lease had run out): this attempt stops unsent."""


class DeliveryTable:
    """One row per delivery: its case, and the instant its next attempt is due (NULL once delivered or failed)."""

    def __init__(self, side: SideTables) -> None:
        self.side = side
        self.table = side.table("deliveries")
        side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.table} (delivery_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
                    "due_at BIGINT)",
                    (),
                ),
                (f"CREATE INDEX IF NOT EXISTS {side.prefix}_deliveries_due ON {self.table} (due_at)", ()),
                (f"CREATE INDEX IF NOT EXISTS {side.prefix}_deliveries_case ON {self.table} (case_id)", ()),
            ]
        )

    def writes_for(self, delivery: Delivery) -> list[Write]:
        """The delivery's row after a save."""
        due = delivery.next_attempt_at if delivery.is_due else None
        return [
            (
                f"INSERT INTO {self.table} (delivery_id, case_id, due_at) VALUES (?, ?, ?) "
                "ON CONFLICT (delivery_id) DO UPDATE SET due_at = excluded.due_at",
                (str(delivery.id), str(delivery.case_id), None if due is None else micros(due)),
            )
        ]

    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Deliveries due at ``now``, earliest first."""
        return self.side.query(
            f"SELECT delivery_id, case_id, due_at FROM {self.table} WHERE due_at <= ? ORDER BY due_at, delivery_id "
            "LIMIT ?",
            (micros(now), limit),
        )

    def claim(self, row: dict[str, Any], until: datetime) -> bool:
        """Take a due delivery for one attempt: its due instant moves to ``until`` (the lease), so another worker
        leaves it alone, and a worker that dies mid-send leaves it to be tried again then. False if taken."""
        return bool(
            self.side.execute(
                f"UPDATE {self.table} SET due_at = ? WHERE delivery_id = ? AND due_at = ? RETURNING delivery_id",
                (micros(until), row["delivery_id"], row["due_at"]),
            )
        )

    def release(self, delivery_id: UUID) -> None:
        self.side.execute(f"UPDATE {self.table} SET due_at = NULL WHERE delivery_id = ?", (str(delivery_id),))

    def of_case(self, case_id: UUID) -> list[UUID]:
        rows = self.side.query(f"SELECT delivery_id FROM {self.table} WHERE case_id = ?", (str(case_id),))
        return [UUID(row["delivery_id"]) for row in rows]


class Deliveries:
    """Mixed into ``Intake``: delivering the customer messages other services prepare."""

    settings: Any
    clock: Any
    side: SideTables
    name: str

    def init_delivery(self) -> None:
        """Called from ``Intake.__init__``: the rules, templates, adapters and the deliveries table."""
        self.delivery_rules = load_config(self.settings.config_dir / "notifications.yaml", DeliveryRules)
        self.message_templates = Templates()
        self.channel_adapters = ChannelAdapters.from_settings(self.settings, self.delivery_rules)
        self.deliveries = DeliveryTable(self.side)

    # --- policy: schedule -------------------------------------------------------------------------------------

    def deliver_acknowledgement(self, message: EventMessage, prepared: AcknowledgementPrepared) -> Iterator[Any]:
        """Policy: the acknowledgement (apology and case number) goes to the customer at once."""
        yield from self._schedule(message, prepared.template, prepared.language, {"case_number": prepared.case_number})

    def deliver_rejection(self, message: EventMessage, prepared: RejectionExplained) -> Iterator[Any]:
        """Policy: the polite explanation of a rejection, with its reason, goes to the customer at once."""
        params = {"case_number": prepared.case_number, "reason": prepared.reason}
        yield from self._schedule(message, prepared.template, prepared.language, params)

    def deliver_message(self, message: EventMessage, prepared: MessagePrepared) -> Iterator[Any]:
        """Policy: any other prepared message (proposal, result, survey, recall notice…) goes out at once."""
        yield from self._schedule(message, prepared.template, prepared.language, dict(prepared.params))

    def _schedule(self, message: EventMessage, template: str, language: str, params: dict[str, str]) -> Iterator[Any]:
        if self.find(delivery_id_for(message.envelope.event_id)) is not None:
            return  # the same prepared message again (redelivered): it is scheduled already
        case_id = message.envelope.case_id
        channel = None
        complaint = self.find(case_id)
        if isinstance(complaint, Complaint):
            key = self.data_key(complaint)
            if key is not None:
                # Only which fields exist leaves this block; the values are dropped here.
                fields = [f for f, v in json.loads(key.open(complaint.customer_sealed, "customer")).items() if v]
                channel = choose_channel(complaint.channel, fields, self.delivery_rules)
        delivery = Delivery.schedule(
            self.context(case_id, Actor.system(self.name), cause=message),
            message_event_id=message.envelope.event_id,
            message_type=message.type,
            channel=channel,
            template=template,
            language=language,
            params=params,
        )
        log.info("delivery.scheduled", case_id=str(case_id), delivery_id=str(delivery.id), template=template,
                 channel=delivery.channel)  # fmt: skip
        yield delivery
        yield from self.deliveries.writes_for(delivery)

    # --- the worker ---------------------------------------------------------------------------------------------

    def deliver_due(self, limit: int = 100) -> int:
        """Attempt every delivery due now (at most ``limit``); returns how many attempts were recorded.

        Each is claimed first (a lease of ``lease_seconds``), so two workers never send one message at once; a
        worker that dies before recording the outcome leaves it to be attempted again when the lease ends.
        """
        now = self.clock.now()
        lease = now + timedelta(seconds=self.delivery_rules.lease_seconds)
        attempted = 0
        for row in self.deliveries.due(now, limit):
            if not self.deliveries.claim(row, lease):
                continue
            try:
                attempted += self._attempt(UUID(row["delivery_id"]))
            except Exception as error:  # noqa: BLE001 - one message's fault never stops the others
                # Only the type: a message could name the recipient. The lease brings it back.
                log.warning("delivery.error", case_id=row["case_id"], delivery_id=row["delivery_id"],
                            error=type(error).__name__)  # fmt: skip
        return attempted

    def _attempt(self, delivery_id: UUID) -> int:
        delivery = self.find(delivery_id)
        if not isinstance(delivery, Delivery) or not delivery.is_due:
            self.deliveries.release(delivery_id)
            return 0
        try:
            self.channel_adapters.send(self._compose(delivery))
        except _Conflict:
            return 0
        except DeliveryError as error:
            ctx = self._attempt_context(delivery)
            again = delivery.failed(ctx, error.reason, self.delivery_rules, final=error.final)
            outcome = {"final": again is None, "retry_at": again.isoformat() if again else None, "error": error.reason}
            event = "delivery.failed"
        else:
            delivery.delivered(self._attempt_context(delivery))
            outcome, event = {}, "delivery.delivered"
        if not self._save_attempt(delivery):
            return 0
        # A final failure needs someone's attention: the customer was not reached.
        emit = log.warning if outcome.get("final") else log.info
        emit(event, case_id=str(delivery.case_id), delivery_id=str(delivery_id), template=delivery.template,
             channel=delivery.channel, attempt=delivery.attempts, **outcome)  # fmt: skip
        return 1

    def _save_attempt(self, delivery: Delivery) -> bool:
        try:
            self.save(delivery, side_writes=self.deliveries.writes_for(delivery))
        except IntegrityError:
            # Recorded meanwhile by another worker whose lease had run out; its record stands.
            log.warning("delivery.conflict", case_id=str(delivery.case_id), delivery_id=str(delivery.id))
            return False
        return True

    def _issue_link(self, delivery: Delivery) -> str:
        """The token for the link the message asks for ("" if none): a new one each attempt, its hash recorded and
        published (``CustomerLinkIssued``) before the message goes out. Only the token's id is logged."""
        if delivery.link_request is None:
            return ""
        if delivery.link_request[0] not in {p.value for p in Purpose}:
            raise DeliveryError(f"unknown customer link purpose {delivery.link_request[0]!r}", final=True)
        now = self.clock.now()
        link = mint(now, timedelta(days=self.delivery_rules.link_valid_days))
        delivery.issue_link(
            self._attempt_context(delivery), token_id=link.token_id, token_hash=link.token_hash,
            expires_at=link.expires_at,
        )  # fmt: skip
        if not self._save_attempt(delivery):
            raise _Conflict
        log.info("delivery.link_issued", case_id=str(delivery.case_id), delivery_id=str(delivery.id),
                 token_id=link.token_id, purpose=delivery.link_request[0])  # fmt: skip
        return link.token

    def _attempt_context(self, delivery: Delivery) -> Any:
        ctx = self.context(delivery.case_id, Actor.system(self.name), correlation_id=delivery.correlation_id)
        return ctx.model_copy(update={"causation_id": delivery.scheduled_event_id})

    def _compose(self, delivery: Delivery) -> Outgoing:
        """The message to send, addressed, then rendered with a new link's token if it asks for one (``DeliveryError``
        when it cannot be; a message that cannot be addressed issues no link)."""
        complaint = self.find(delivery.case_id)
        if not isinstance(complaint, Complaint):
            raise DeliveryError("intake has no complaint for this case", final=True)
        key = self.data_key(complaint)
        if key is None:
            raise DeliveryError("customer erased", final=True)
        if delivery.channel == NO_CHANNEL:
            raise DeliveryError("no way to reach the customer is on record", final=True)
        to = recipient(delivery.channel, json.loads(key.open(complaint.customer_sealed, "customer")))
        if not to:
            raise DeliveryError(f"the customer has no address for {delivery.channel}", final=True)
        values = {
            **delivery.params,
            "case_number": delivery.params.get("case_number") or complaint.case_number,
            "case_id": str(delivery.case_id),
            "base_url": self.delivery_rules.public_base_url.rstrip("/"),
            "token": self._issue_link(delivery),
        }
        rendered = self.message_templates.render(delivery.template, delivery.language, values)
        return Outgoing(
            channel=delivery.channel,
            to=to,
            subject=rendered.subject,
            text=rendered.body,
            case_number=values["case_number"],
            language=delivery.language,
        )

    # --- reading ------------------------------------------------------------------------------------------------

    def case_messages(self, case_id: UUID) -> list[dict[str, Any]]:
        """Every message to the case's customer, oldest first: template, channel, status, attempts (404 unknown)."""
        if not isinstance(self.find(case_id), Complaint):
            raise NotFound(f"no complaint {case_id}")
        deliveries = [d for d in (self.find(i) for i in self.deliveries.of_case(case_id)) if isinstance(d, Delivery)]
        deliveries.sort(key=lambda d: (d.scheduled_at, str(d.id)))
        return [
            {
                "delivery_id": d.id,
                "message_event_id": d.message_event_id,
                "message_type": d.message_type,
                "template": d.template,
                "language": d.language,
                "channel": d.channel,
                "status": d.status.value,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "scheduled_at": d.scheduled_at,
                "next_attempt_at": d.next_attempt_at,
                "finished_at": d.finished_at,
                "history": d.history,
            }
            for d in deliveries
        ]
