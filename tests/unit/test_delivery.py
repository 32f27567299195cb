"""Delivering customer messages, pure, on the shipped config/notifications.yaml and templates: Given a complaint's
channel and contact / When the channel is chosen; Given a scheduled delivery / When attempts fail or succeed as
the clock moves / Then the events, back-off and final failure; each template rendered in Chinese and English."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from services.intake.delivery.adapters import DeliveryError, Templates
from services.intake.domain.delivery import (
    Delivery,
    DeliveryRules,
    DeliveryStatus,
    backoff,
    choose_channel,
    delivery_id_for,
    language_of,
    recipient,
    retry_at,
)
from shared.configfiles import load_config
from shared.errors import InvalidTransition
from shared.settings import REPO_ROOT
from tests.unit.helpers import NOW, context

RULES = load_config(REPO_ROOT / "config" / "notifications.yaml", DeliveryRules)
TEMPLATES = Templates()
ALL_TEMPLATES = ["acknowledgement", "rejection", "proposal", "result", "survey", "recall_notice", "reopened", "closed"]
CJK = re.compile(r"[\u4e00-\u9fff]")
M = timedelta(minutes=1)
DAY = timedelta(days=1)


def scheduled(case_id: UUID | None = None, channel: str | None = "email") -> Delivery:
    """Given: a delivery scheduled at NOW."""
    case_id = case_id or uuid4()
    return Delivery.schedule(
        context(case_id), message_event_id=uuid4(), message_type="AcknowledgementPrepared", channel=channel,
        template="acknowledgement", language="zh", params={"case_number": "CMP-20261125-000001"},
    )  # fmt: skip


def new_events(delivery: Delivery) -> list[str]:
    return [type(e).__name__ for e in delivery.collect_events()]


# --- channel choice ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("complaint_channel", "contact", "expected"),
    [
        ("email", {"name", "email"}, "email"),
        ("email", {"name", "phone", "email"}, "email"),
        ("web", {"name", "phone", "email"}, "email"),
        ("web", {"name", "phone"}, "sms"),
        ("store", {"name", "phone"}, "sms"),
        ("phone", {"name", "phone", "email"}, "email"),
        ("letter", {"name", "email"}, "email"),
        ("app", {"name", "phone", "email"}, "app"),
        ("app", {"name", "phone"}, "app"),
        ("chat", {"name", "email"}, "chat"),
        ("store", {"name"}, None),
    ],
)
def test_the_channel_follows_the_complaints_channel_and_the_contact_there_is(
    complaint_channel: str, contact: set[str], expected: str | None
) -> None:
    # Given the complaint came in on complaint_channel with these contact fields / When / Then
    assert choose_channel(complaint_channel, contact, RULES) == expected


def test_the_recipient_is_the_address_the_channel_needs() -> None:
    contact = {"name": "王芳", "phone": "13800138000", "email": "w@example.cn", "member_id": "M-1"}
    assert recipient("email", contact) == "w@example.cn"
    assert recipient("sms", contact) == "13800138000"
    assert recipient("app", contact) == "M-1"
    assert recipient("chat", {"phone": "13800138000"}) == "13800138000"
    assert recipient("email", {"phone": "13800138000"}) is None


def test_rules_naming_an_unknown_channel_fail_at_start() -> None:
    with pytest.raises(ValidationError, match="fax"):
        DeliveryRules.model_validate({**RULES.model_dump(), "channels": {"default": ["fax"]}})
    with pytest.raises(ValidationError, match="default"):
        DeliveryRules.model_validate({**RULES.model_dump(), "channels": {"web": ["email"]}})


# --- scheduling -------------------------------------------------------------------------------------------------


def test_a_delivery_is_derived_from_its_prepared_message_and_records_no_personal_data() -> None:
    # Given / When
    case_id, event_id = uuid4(), uuid4()
    delivery = Delivery.schedule(
        context(case_id), message_event_id=event_id, message_type="RejectionExplained", channel="sms",
        template="rejection", language="en", params={"case_number": "CMP-1", "reason": "超过保修期"},
    )  # fmt: skip
    # Then
    assert delivery.id == delivery_id_for(event_id) == delivery_id_for(event_id)
    (event,) = delivery.collect_events()
    assert type(event).__name__ == "DeliveryScheduled"
    assert event.envelope["case_id"] == str(case_id)
    assert set(vars(event)) - {"envelope"} >= {"channel", "template", "language", "params"}
    assert not {"to", "email", "phone", "name", "text"} & set(vars(event))
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.SCHEDULED, 0, NOW)


def test_no_channel_is_recorded_as_none() -> None:
    assert scheduled(channel=None).channel == "none"


@pytest.mark.parametrize(("given", "expected"), [("zh", "zh"), ("en", "en"), ("zh-CN", "zh"), ("EN_us", "en"),
                                                 ("fr", "zh"), ("", "zh")])  # fmt: skip
def test_messages_are_in_chinese_or_english(given: str, expected: str) -> None:
    assert language_of(given) == expected


# --- back-off and attempts --------------------------------------------------------------------------------------


def test_the_shipped_back_off_is_1_min_5_min_30_min_2_h_and_5_attempts() -> None:
    assert [backoff(RULES, n) for n in range(1, 5)] == [M, 5 * M, 30 * M, 120 * M]
    assert backoff(RULES, 9) == 120 * M  # the last step repeats should more attempts be configured
    assert RULES.retry.max_attempts == 5
    assert retry_at(RULES, 1, NOW) == NOW + M
    assert retry_at(RULES, 5, NOW) is None


def test_failed_attempts_are_retried_after_the_back_off_until_the_last_fails_for_good() -> None:
    # Given a delivery scheduled at NOW
    delivery = scheduled()
    delivery.collect_events()
    at = NOW
    expected_waits = [M, 5 * M, 30 * M, 120 * M]
    for attempt, wait in enumerate(expected_waits, start=1):
        # When the attempt at the (moved) clock fails
        again = delivery.failed(context(delivery.case_id, at=at), "the webhook answered HTTP 500", RULES)
        # Then the next one is due after the back-off
        assert again == at + wait
        (event,) = delivery.collect_events()
        assert (event.attempt, event.final, event.retry_at) == (attempt, False, (at + wait).isoformat())
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            DeliveryStatus.SCHEDULED, attempt, at + wait
        )  # fmt: skip
        at = at + wait
    # When the fifth attempt fails / Then it was the last: final, no retry
    assert delivery.failed(context(delivery.case_id, at=at), "the webhook answered HTTP 500", RULES) is None
    (event,) = delivery.collect_events()
    assert (event.attempt, event.final, event.retry_at) == (5, True, None)
    assert (delivery.status, delivery.next_attempt_at, delivery.finished_at) == (DeliveryStatus.FAILED, None, at)
    # And nothing more can happen to it
    with pytest.raises(InvalidTransition):
        delivery.delivered(context(delivery.case_id, at=at + M))
    assert [h["outcome"] for h in delivery.history] == ["failed"] * 5


def test_a_failure_nothing_can_mend_is_final_at_once() -> None:
    delivery = scheduled()
    assert delivery.failed(context(delivery.case_id), "customer erased", RULES, final=True) is None
    assert new_events(delivery) == ["DeliveryScheduled", "MessageDeliveryFailed"]
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.FAILED, 1, "customer erased")


def test_a_retry_that_succeeds_is_delivered_on_its_attempt() -> None:
    # Given the first attempt failed
    delivery = scheduled()
    delivery.failed(context(delivery.case_id), "the webhook answered HTTP 500", RULES)
    # When the second (a minute later) succeeds
    delivery.delivered(context(delivery.case_id, at=NOW + M))
    # Then
    events = delivery.collect_events()
    assert [type(e).__name__ for e in events] == ["DeliveryScheduled", "MessageDeliveryFailed", "MessageDelivered"]
    assert (events[-1].attempt, events[-1].channel) == (2, "email")
    assert events[-1].message_event_id == delivery.message_event_id
    assert (delivery.status, delivery.attempts, delivery.finished_at) == (DeliveryStatus.DELIVERED, 2, NOW + M)
    with pytest.raises(InvalidTransition):
        delivery.failed(context(delivery.case_id, at=NOW + 2 * M), "late", RULES)


# --- customer links ---------------------------------------------------------------------------------------------


def asking_for_a_link() -> Delivery:
    """Given: a survey scheduled at NOW asking for a survey link to round 2, with a token an older feedback put in."""
    return Delivery.schedule(
        context(), message_event_id=uuid4(), message_type="MessagePrepared", channel="sms", template="survey",
        language="zh", params={"link_purpose": "survey", "link_subject": "2", "token": "an-old-hmac-token"},
    )  # fmt: skip


def test_a_token_among_a_prepared_messages_values_is_never_recorded() -> None:
    delivery = asking_for_a_link()
    (scheduled_event,) = delivery.collect_events()
    assert "token" not in scheduled_event.params and "token" not in delivery.params
    assert delivery.link_request == ("survey", "2")


def test_an_issued_link_records_its_hash_purpose_subject_and_expiry() -> None:
    delivery = asking_for_a_link()
    delivery.issue_link(context(delivery.case_id), token_id="ab" * 8, token_hash="ab" * 32, expires_at=NOW + 30 * DAY)
    events = delivery.collect_events()
    assert [type(e).__name__ for e in events] == ["DeliveryScheduled", "CustomerLinkIssued"]
    issued = events[-1]
    assert (issued.purpose, issued.subject_id, issued.token_hash, issued.expires_at) == (
        "survey", "2", "ab" * 32, NOW + 30 * DAY,
    )  # fmt: skip
    assert issued.message_event_id == delivery.message_event_id
    assert delivery.is_due and delivery.links_issued == 1  # the attempt itself is still to be made


def test_no_link_is_issued_for_a_message_that_asks_for_none_or_is_finished() -> None:
    with pytest.raises(InvalidTransition):
        scheduled().issue_link(context(), token_id="a", token_hash="b", expires_at=NOW)
    done = asking_for_a_link()
    done.delivered(context(done.case_id))
    with pytest.raises(InvalidTransition):
        done.issue_link(context(done.case_id), token_id="a", token_hash="b", expires_at=NOW)


# --- templates --------------------------------------------------------------------------------------------------

VALUES = {
    "case_number": "CMP-20261125-000042",
    "case_id": "6f1c0d1e-0000-4000-8000-000000000042",
    "base_url": "https://ombud.example",
    "reason": "商品已超过七天无理由退货期限",
    "summary": "全额退款 ¥3980",
    "amount": "3980.00",
    "token": "tok-123",
    "product": "足金手镯",
    "batch": "B-2026-11",
    "remedy": "免费更换",
}


def test_every_template_exists_in_both_languages() -> None:
    assert TEMPLATES.names() == sorted(ALL_TEMPLATES)
    en = sorted(p.stem for p in (TEMPLATES.directory / "en").glob("*.txt"))
    assert en == sorted(ALL_TEMPLATES)


@pytest.mark.parametrize("template", ALL_TEMPLATES)
def test_each_template_renders_in_chinese(template: str) -> None:
    rendered = TEMPLATES.render(template, "zh", VALUES)
    assert rendered.subject and rendered.body.strip()
    assert CJK.search(rendered.subject) and "尊敬的顾客" in rendered.body
    assert "CMP-20261125-000042" in rendered.subject + rendered.body
    assert "{{" not in rendered.body and "{%" not in rendered.body


@pytest.mark.parametrize("template", ALL_TEMPLATES)
def test_each_template_renders_in_english(template: str) -> None:
    rendered = TEMPLATES.render(template, "en", VALUES)
    assert rendered.subject and rendered.body.strip()
    assert not CJK.search(rendered.subject)
    assert "Dear customer" in rendered.body
    assert "CMP-20261125-000042" in rendered.subject + rendered.body
    assert "{{" not in rendered.body and "{%" not in rendered.body


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_acknowledgement_apologises_and_gives_the_case_number(language: str) -> None:
    rendered = TEMPLATES.render("acknowledgement", language, {"case_number": "CMP-20261125-000001"})
    assert "CMP-20261125-000001" in rendered.subject and "CMP-20261125-000001" in rendered.body
    assert ("抱歉" if language == "zh" else "sorry") in rendered.body


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_rejection_is_polite_and_gives_the_reason(language: str) -> None:
    rendered = TEMPLATES.render("rejection", language, VALUES)
    assert VALUES["reason"] in rendered.body
    assert ("申诉" if language == "zh" else "appeal") in rendered.body


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_survey_links_to_the_public_survey_with_the_token_in_the_fragment_if_given(language: str) -> None:
    # In the fragment (after #), which a browser never sends: no gateway or server log sees the token.
    with_token = TEMPLATES.render("survey", language, VALUES)
    assert f"https://ombud.example/api/public/cases/{VALUES['case_id']}/survey#token=tok-123" in with_token.body
    without = TEMPLATES.render("survey", language, {**VALUES, "token": ""})
    assert f"/api/public/cases/{VALUES['case_id']}/survey\n" in without.body
    assert "token" not in without.body


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_proposal_gives_the_total_and_where_to_answer_with_the_token(language: str) -> None:
    # The values feedback's proposal message carries
    values = {"case_number": "CMP-1", "case_id": "c-1", "base_url": "https://ombud.example", "proposal": "2",
              "total": "3980.00", "answer_path": "/api/public/cases/c-1/answer", "token": "tok-7"}  # fmt: skip
    body = TEMPLATES.render("proposal", language, values).body
    assert "3980.00" in body and "https://ombud.example/api/public/cases/c-1/answer#token=tok-7" in body
    assert "token" not in TEMPLATES.render("proposal", language, {**values, "token": ""}).body


def test_the_survey_link_is_the_path_feedback_gives() -> None:
    values = {"case_number": "CMP-1", "case_id": "c-1", "base_url": "", "survey_path": "/api/public/cases/c-1/survey",
              "token": "t", "attempt": "1", "attempts": "3"}  # fmt: skip
    assert "/api/public/cases/c-1/survey#token=t" in TEMPLATES.render("survey", "en", values).body


def test_optional_values_missing_render_nothing_in_their_place() -> None:
    rendered = TEMPLATES.render("recall_notice", "zh", {"case_number": "CMP-1"})
    assert "批次" not in rendered.body and "您购买的产品" in rendered.body
    rendered = TEMPLATES.render("closed", "en", {"case_number": "CMP-1"})
    assert "None" not in rendered.body


def test_a_language_other_than_chinese_or_english_gets_chinese() -> None:
    assert TEMPLATES.render("acknowledgement", "fr", VALUES) == TEMPLATES.render("acknowledgement", "zh", VALUES)


@pytest.mark.parametrize("name", ["no_such_template", "../zh/closed", "", "survey.txt"])
def test_an_unknown_template_is_a_final_failure_that_names_it(name: str) -> None:
    with pytest.raises(DeliveryError) as raised:
        TEMPLATES.render(name, "zh", VALUES)
    assert raised.value.final
    assert "unknown template" in raised.value.reason
