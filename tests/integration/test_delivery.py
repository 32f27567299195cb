"""Delivering customer messages on SQLite and on PostgreSQL: intake reacts to feedback's prepared messages and sends
them to a real SMTP server (aiosmtpd) and a real HTTP webhook receiver, on a ManualClock moved past the back-off."""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.intake.api import messages as messages_api
from services.intake.application import Intake
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.customerlinks import token_hash
from shared.http import install_error_handlers
from shared.masterdata import MasterData
from shared.natsserver import free_port
from shared.settings import Settings
from shared.vocabulary import Role
from tests.channels import TOKEN_IN_LINK, Webhook
from tests.support import event_types, record, staff_headers
from tests.unit.helpers import message

CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")
LEGAL = Actor(id="HQ-LEGAL-1", role=Role.LEGAL)
NAME, PHONE, EMAIL = "欧阳娜娜", "13912345678", "nana.ouyang@example.cn"


# --- the outside world: an SMTP relay and a webhook receiver ------------------------------------------------------


class Mailbox:
    """aiosmtpd handler keeping every e-mail it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], mailbox: tuple[Mailbox, int], webhook: Webhook) -> Settings:
    return make_settings(mail_relay_port=mailbox[1], notify_webhook_url=webhook.url)


@pytest.fixture
def intake(settings: Settings, clock: ManualClock) -> Iterator[Intake]:
    app = Intake(settings, clock, MasterData.load(settings.master_data_dir))
    yield app
    app.close()


# --- helpers ----------------------------------------------------------------------------------------------------


def file(intake: Intake, **overrides: Any) -> tuple[UUID, str]:
    receipt = intake.receive_complaint(record(**overrides), actor=CLERK)
    return receipt.case_id, receipt.case_number


def acknowledgement(case_id: UUID, case_number: str, language: str = "zh", nid: int = 1) -> Any:
    payload = {"case_number": case_number, "language": language, "template": "acknowledgement"}
    return message("AcknowledgementPrepared", "feedback", payload, case_id=case_id, nid=nid)


def prepared(case_id: UUID, template: str, params: dict[str, str] | None = None, nid: int = 1) -> Any:
    payload = {"template": template, "language": "zh", "params": params or {}}
    return message("MessagePrepared", "feedback", payload, case_id=case_id, nid=nid)


def messages(intake: Intake, case_id: UUID) -> list[dict[str, Any]]:
    return intake.case_messages(case_id)


def published_messages(intake: Intake, type_name: str) -> list[Any]:
    """The public messages of one event type in intake's log (what NATS would carry)."""
    found, start = [], 1
    while batch := intake.recorder.select_notifications(start=start, limit=1000):
        found += [m for _, m in intake.messages(batch) if m is not None and m.type == type_name]
        start = batch[-1].id + 1
    return found


def published(intake: Intake, type_name: str) -> list[dict[str, Any]]:
    return [m.payload for m in published_messages(intake, type_name)]


# --- e-mail -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_acknowledgement_reaches_the_customer_by_email_in_their_language(
    intake: Intake, mailbox: tuple[Mailbox, int], language: str
) -> None:
    # Given a complaint from the web with an e-mail address (and a phone)
    case_id, number = file(intake, channel="web", language=language,
                           customer={"name": NAME, "phone": PHONE, "email": EMAIL})  # fmt: skip
    ack = acknowledgement(case_id, number, language)
    # When feedback's acknowledgement arrives and the worker runs
    assert intake.handle(ack)
    assert messages(intake, case_id)[0]["status"] == "scheduled"
    assert intake.deliver_due() == 1
    # Then one e-mail went to the customer, in their language, with the case number
    ((to, mail),) = mailbox[0].received
    assert to == [EMAIL]
    assert number in str(mail["Subject"])
    body = mail.get_content()
    assert number in body
    if language == "zh":
        assert "抱歉" in body and "尊敬的顾客" in body
    else:
        assert "sorry" in body and "Dear customer" in body and "抱歉" not in body
    (status,) = messages(intake, case_id)
    assert (status["template"], status["channel"], status["status"], status["attempts"]) == (
        "acknowledgement", "email", "delivered", 1
    )  # fmt: skip
    assert status["last_error"] is None and status["finished_at"] is not None
    # And MessageDelivered is published, naming the prepared message
    (payload,) = published(intake, "MessageDelivered")
    assert payload["message_event_id"] == str(ack.envelope.event_id)
    assert (payload["channel"], payload["attempt"]) == ("email", 1)
    # in the prepared message's correlation, caused by the scheduling
    (delivered,) = published_messages(intake, "MessageDelivered")
    assert delivered.envelope.correlation_id == ack.envelope.correlation_id
    assert delivered.envelope.causation_id is not None and delivered.envelope.case_id == case_id
    # And nothing is left to send
    assert intake.deliver_due() == 0


def test_a_rejection_is_explained_with_its_reason(intake: Intake, mailbox: tuple[Mailbox, int]) -> None:
    case_id, number = file(intake, channel="email", customer={"name": NAME, "email": EMAIL})
    payload = {
        "case_number": number,
        "language": "zh",
        "reason": "商品已超过七天无理由退货期限",
        "template": "rejection",
    }
    assert intake.handle(message("RejectionExplained", "feedback", payload, case_id=case_id))
    assert intake.deliver_due() == 1
    ((_, mail),) = mailbox[0].received
    assert "商品已超过七天无理由退货期限" in mail.get_content() and number in mail.get_content()


# --- the webhook: retries on a moved clock ------------------------------------------------------------------------


def test_a_webhook_failure_is_retried_after_the_back_off_and_then_delivered(
    intake: Intake, webhook: Webhook, clock: ManualClock
) -> None:
    # Given a complaint at a store with a phone only, and a webhook that fails (HTTP 500) once
    case_id, number = file(intake, channel="store", customer={"name": NAME, "phone": PHONE})
    webhook.answers = [500]
    assert intake.handle(acknowledgement(case_id, number))
    # When the first attempt is made
    assert intake.deliver_due() == 1
    # Then it failed, and the next is due after a minute
    (status,) = messages(intake, case_id)
    assert (status["channel"], status["status"], status["attempts"]) == ("sms", "scheduled", 1)
    assert status["last_error"] == "the webhook answered HTTP 500"
    assert status["next_attempt_at"] == clock.now() + timedelta(minutes=1)
    (failed,) = published(intake, "MessageDeliveryFailed")
    assert (failed["attempt"], failed["final"], failed["channel"]) == (1, False, "sms")
    # When the clock has not yet passed the back-off, nothing is attempted
    clock.advance(timedelta(seconds=59))
    assert intake.deliver_due() == 0
    # When it has
    clock.advance(timedelta(seconds=2))
    assert intake.deliver_due() == 1
    # Then the second attempt delivered it
    (status,) = messages(intake, case_id)
    assert (status["status"], status["attempts"], status["next_attempt_at"]) == ("delivered", 2, None)
    assert [h["outcome"] for h in status["history"]] == ["failed", "delivered"]
    assert [r["status"] for r in webhook.received] == [500, 200]
    (sent,) = webhook.delivered
    assert (sent["channel"], sent["to"], sent["case_number"], sent["language"]) == ("sms", PHONE, number, "zh")
    assert number in sent["text"] and "抱歉" in sent["text"]
    types = event_types(intake)
    assert types[-3:] == ["DeliveryScheduled", "MessageDeliveryFailed", "MessageDelivered"]
    assert intake.deliver_due() == 0


def test_every_attempt_failing_ends_in_a_final_failure(intake: Intake, webhook: Webhook, clock: ManualClock) -> None:
    case_id, number = file(intake, channel="app", customer={"name": NAME, "phone": PHONE})
    webhook.answers = [503] * 5
    assert intake.handle(acknowledgement(case_id, number))
    for wait in (0, 1, 5, 30, 120):
        clock.advance(timedelta(minutes=wait))
        assert intake.deliver_due() == 1
    clock.advance(timedelta(days=1))
    assert intake.deliver_due() == 0
    (status,) = messages(intake, case_id)
    assert (status["channel"], status["status"], status["attempts"]) == ("app", "failed", 5)
    assert [r["channel"] for r in webhook.received] == ["app"] * 5
    assert [p["final"] for p in published(intake, "MessageDeliveryFailed")] == [False] * 4 + [True]


def test_each_attempt_of_a_survey_carries_a_new_link_whose_hash_alone_is_recorded(
    intake: Intake, webhook: Webhook, clock: ManualClock
) -> None:
    # Given a survey as feedback prepares it (asking for a survey link for round 1); an older feedback's own token
    # among its values is never used; and a webhook that fails once
    case_id, number = file(intake, channel="app", customer={"name": NAME, "phone": PHONE})
    params = {"survey_path": f"/api/public/cases/{case_id}/survey", "link_purpose": "survey", "link_subject": "1",
              "token": "tok-9", "attempt": "1", "attempts": "3"}  # fmt: skip
    webhook.answers = [500]
    assert intake.handle(prepared(case_id, "survey", params))
    # When it is attempted twice
    assert intake.deliver_due() == 1
    clock.advance(timedelta(minutes=1))
    assert intake.deliver_due() == 1
    # Then each attempt carried a link of its own, issued (its hash published) before the message went out
    assert [r["channel"] for r in webhook.received] == ["app", "app"]
    tokens = [token for r in webhook.received for token in TOKEN_IN_LINK.findall(r["text"])]
    assert len(set(tokens)) == 2 and all(len(t) >= 22 for t in tokens)
    assert f"http://127.0.0.1:8000/api/public/cases/{case_id}/survey#token={tokens[1]}" in webhook.delivered[0]["text"]
    assert "tok-9" not in webhook.received[0]["text"]
    assert event_types(intake)[-5:] == ["DeliveryScheduled", "CustomerLinkIssued", "MessageDeliveryFailed",
                                        "CustomerLinkIssued", "MessageDelivered"]  # fmt: skip
    issued = published(intake, "CustomerLinkIssued")
    assert [i["token_hash"] for i in issued] == [token_hash(t) for t in tokens]
    assert [(i["purpose"], i["subject_id"], i["token_id"]) for i in issued] == [
        ("survey", "1", token_hash(t)[:16]) for t in tokens
    ]
    assert datetime.fromisoformat(issued[1]["expires_at"]) == clock.now() + timedelta(days=30)
    # And no token is in any stored event (nor the older one)
    stored = b"".join(n.state for n in intake.recorder.select_notifications(start=1, limit=1000))
    assert not [t for t in [*tokens, "tok-9"] if t.encode() in stored]


def test_a_message_asking_for_a_link_of_an_unknown_purpose_fails_for_good_unsent(
    intake: Intake, webhook: Webhook
) -> None:
    case_id, _ = file(intake, channel="app", customer={"name": NAME, "phone": PHONE})
    assert intake.handle(prepared(case_id, "survey", {"link_purpose": "free_money", "link_subject": "1"}))
    assert intake.deliver_due() == 1
    ((status, error),) = [(m["status"], m["last_error"]) for m in messages(intake, case_id)]
    assert (status, error) == ("failed", "unknown customer link purpose 'free_money'")
    assert webhook.received == [] and published(intake, "CustomerLinkIssued") == []


# --- what must not be sent ----------------------------------------------------------------------------------------


def test_an_erased_customers_message_fails_for_good_without_being_sent(
    intake: Intake, mailbox: tuple[Mailbox, int], webhook: Webhook
) -> None:
    # Given a message scheduled, and then the customer erased
    case_id, number = file(intake, channel="email", customer={"name": NAME, "phone": PHONE, "email": EMAIL})
    assert intake.handle(acknowledgement(case_id, number))
    customer_id = intake.get_complaint(case_id).customer_id
    intake.request_erasure(customer_id, actor=CLERK, reason="customer asked")
    intake.erase_customer(customer_id, actor=LEGAL)
    # And another message prepared after the erasure
    assert intake.handle(prepared(case_id, "closed", nid=2))
    # When the worker runs
    assert intake.deliver_due() == 2
    # Then both failed for good, and nothing was sent
    assert [(m["status"], m["attempts"], m["last_error"]) for m in messages(intake, case_id)] == [
        ("failed", 1, "customer erased")
    ] * 2
    assert mailbox[0].received == [] and webhook.received == []
    assert all(p["final"] for p in published(intake, "MessageDeliveryFailed"))


def test_an_unknown_template_fails_for_good_and_the_worker_goes_on(
    intake: Intake, mailbox: tuple[Mailbox, int]
) -> None:
    case_id, number = file(intake, channel="email", customer={"name": NAME, "email": EMAIL})
    assert intake.handle(prepared(case_id, "no_such_template"))
    assert intake.handle(acknowledgement(case_id, number, nid=2))
    assert intake.deliver_due() == 2
    by_template = {m["template"]: m for m in messages(intake, case_id)}
    unknown = by_template["no_such_template"]
    assert (unknown["status"], unknown["attempts"]) == ("failed", 1)
    assert "unknown template 'no_such_template'" in unknown["last_error"]
    assert by_template["acknowledgement"]["status"] == "delivered"
    assert len(mailbox[0].received) == 1


def test_a_redelivered_prepared_message_is_sent_once(
    intake: Intake, mailbox: tuple[Mailbox, int], clock: ManualClock
) -> None:
    case_id, number = file(intake, channel="email", customer={"name": NAME, "email": EMAIL})
    ack = acknowledgement(case_id, number)
    assert intake.handle(ack)
    # The same notification again (a NATS redelivery), and the same event under another notification id
    assert not intake.handle(ack)
    assert intake.handle(ack.model_copy(update={"notification_id": 7}))
    assert intake.deliver_due() == 1
    clock.advance(timedelta(days=1))
    assert intake.handle(ack.model_copy(update={"notification_id": 8}))
    assert intake.deliver_due() == 0
    assert len(mailbox[0].received) == 1
    assert len(messages(intake, case_id)) == 1
    assert event_types(intake).count("DeliveryScheduled") == 1


def test_a_message_claimed_by_a_worker_that_died_is_tried_again_after_the_lease(
    intake: Intake, mailbox: tuple[Mailbox, int], clock: ManualClock
) -> None:
    case_id, number = file(intake, channel="email", customer={"name": NAME, "email": EMAIL})
    assert intake.handle(acknowledgement(case_id, number))
    (row,) = intake.deliveries.due(clock.now(), 10)
    # A worker claimed it and died before sending or recording anything
    assert intake.deliveries.claim(row, clock.now() + timedelta(seconds=intake.delivery_rules.lease_seconds))
    assert not intake.deliveries.claim(row, clock.now())  # a second worker cannot take it too
    assert intake.deliver_due() == 0
    clock.advance(timedelta(seconds=intake.delivery_rules.lease_seconds))
    assert intake.deliver_due() == 1
    assert len(mailbox[0].received) == 1


# --- the API and the logs -----------------------------------------------------------------------------------------


def test_the_messages_api_lists_each_message_with_its_status(intake: Intake, webhook: Webhook) -> None:
    http = FastAPI()
    http.state.services = {"intake": SimpleNamespace(app=intake)}
    install_error_handlers(http)
    http.include_router(messages_api.router)
    client = TestClient(http, headers=staff_headers("HQ-01", "hq"))
    case_id, number = file(intake, channel="store", customer={"name": NAME, "phone": PHONE})
    webhook.answers = [500]
    assert intake.handle(acknowledgement(case_id, number))
    intake.deliver_due()
    answer = client.get(f"/api/cases/{case_id}/messages")
    assert answer.status_code == 200
    (item,) = answer.json()["messages"]
    assert {k: item[k] for k in ("template", "channel", "status", "attempts", "last_error")} == {
        "template": "acknowledgement", "channel": "sms", "status": "scheduled", "attempts": 1,
        "last_error": "the webhook answered HTTP 500",
    }  # fmt: skip
    assert item["scheduled_at"] and item["next_attempt_at"] and item["finished_at"] is None
    assert PHONE not in answer.text and NAME not in answer.text
    assert client.get(f"/api/cases/{UUID(int=1)}/messages").status_code == 404


def test_the_logs_hold_no_address_phone_name_or_text(
    intake: Intake, logs: io.StringIO, mailbox: tuple[Mailbox, int], webhook: Webhook, clock: ManualClock
) -> None:
    by_mail, number_1 = file(intake, channel="email", customer={"name": NAME, "phone": PHONE, "email": EMAIL})
    by_sms, number_2 = file(intake, channel="store", customer={"name": NAME + "二", "phone": "13987654321"})
    webhook.answers = [500]
    assert intake.handle(acknowledgement(by_mail, number_1))
    assert intake.handle(acknowledgement(by_sms, number_2, nid=2))
    assert intake.deliver_due() == 2
    clock.advance(timedelta(minutes=2))
    assert intake.deliver_due() == 1
    text = logs.getvalue()
    assert "delivery.delivered" in text and "delivery.failed" in text  # the logs were captured
    for secret in (NAME, PHONE, EMAIL, "13987654321", "nana.ouyang", "尊敬的顾客", "抱歉"):
        assert secret not in text


def test_a_batch_of_prepared_messages_schedules_each_in_one_transaction(
    intake: Intake, mailbox: tuple[Mailbox, int], webhook: Webhook
) -> None:
    first, number_1 = file(intake, channel="email", customer={"name": NAME, "email": EMAIL})
    second, number_2 = file(intake, channel="store", customer={"name": NAME, "phone": PHONE})
    intake.handle_batch([acknowledgement(first, number_1, nid=1), acknowledgement(second, number_2, nid=2)])
    assert event_types(intake).count("DeliveryScheduled") == 2
    assert intake.deliver_due() == 2
    assert len(mailbox[0].received) == 1 and len(webhook.delivered) == 1
