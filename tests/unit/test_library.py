"""Labels, the scrubber, the case library's fold (order-independent, anonymised) and the record form (pure)."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from services.feedback import labels
from services.feedback.projections import evolve_case, timeline_entry
from services.feedback.projections.library import entry, fold, query_words, scrub, search_text, visible
from shared.contracts import CONTRACTS, EventMessage
from shared.vocabulary import CaseStatus, Category, Channel, Remedy, Role, Severity
from tests.unit.helpers import NOW, message

CASE_NUMBER = "CMP-20261125-000042"
STORES = {"SH-001": ("east", "jewelry")}
CJK = re.compile("[\u4e00-\u9fff]")


def at(msg: EventMessage, minutes: int) -> EventMessage:
    """The message as recorded ``minutes`` after NOW."""
    moment = NOW + timedelta(minutes=minutes)
    return msg.model_copy(
        update={"envelope": msg.envelope.model_copy(update={"recorded_at": moment, "occurred_at": moment})}
    )


def clock(name: str, started: int, duration: str = "PT24H") -> dict[str, object]:
    start = (NOW + timedelta(minutes=started)).isoformat()
    return {"name": name, "mode": "calendar", "started_at": start, "duration": duration, "running_since": start}


def story(case_id: UUID) -> list[EventMessage]:
    """One case from receipt to closing, reopened once after a low score, as the four services record it."""
    nids: dict[str, int] = {}

    def ev(minutes: int, type_: str, service: str, payload: dict[str, object]) -> EventMessage:
        nids[service] = nids.get(service, 0) + 1
        return at(message(type_, service, payload, case_id, nid=nids[service]), minutes)

    received = ev(
        0,
        "ComplaintReceived",
        "intake",
        {
            "case_number": CASE_NUMBER,
            "channel": "phone",
            "store_id": "SH-001",
            "staff_id": "SH-001-S3",
            "customer_id": str(uuid4()),
            "description": "王女士反映手镯戴了一周就断了，电话[phone]，邮箱 wang.fang@example.com",
            "demand": "要求退货",
            "order_id": "O-778899",
            "amount_paid": "3980.00",
        },
    )
    prepared = ev(1, "MessagePrepared", "feedback", {"template": "progress", "language": "zh", "params": {}})
    return [
        received,
        ev(1, "AcknowledgementPrepared", "feedback", {"case_number": CASE_NUMBER, "language": "zh", "template": "ack"}),
        ev(1, "ClockStarted", "routing", {"clock": clock("acknowledge", 1), "reason": "received"}),
        ev(
            2,
            "ComplaintTriaged",
            "routing",
            {
                "category": "product_quality",
                "subcategory": "断裂",
                "confidence": "0.90",
                "matched_terms": ["断"],
                "severity": "general",
                "severity_reasons": [],
            },
        ),
        ev(3, "ClockStopped", "routing", {"clock": clock("acknowledge", 1), "reason": "acknowledged", "met": True}),
        ev(3, "ClockStarted", "routing", {"clock": clock("resolve", 3, "P7D"), "reason": "triaged"}),
        prepared,
        ev(4, "MessageDelivered", "intake", {"message_event_id": str(prepared.envelope.event_id), "channel": "sms",
                                             "attempt": 1}),
        ev(10, "FindingsRecorded", "resolution",
           {"findings": "店员张伟确认焊点开裂，属生产缺陷，联系13912345678", "root_cause": "production"}),
        ev(11, "ResponsibilityDetermined", "routing",
           {"primary": "supplier", "secondary": ["store"], "reason": "供应商焊接工艺问题"}),
        ev(
            20,
            "ProposalOffered",
            "resolution",
            {
                "proposal": 1,
                "remedies": [
                    {"remedy": "refund", "amount": "3980.00", "note": "全额退款给王芳"},
                    {"remedy": "apology", "amount": "0.00", "note": None},
                ],
                "total": "3980.00",
            },
        ),
        ev(21, "CustomerAccepted", "resolution", {"proposal": 1}),
        ev(30, "CaseResolved", "resolution", {"summary": "remedies carried out: refund, apology"}),
        ev(30, "ClockStopped", "routing", {"clock": clock("resolve", 3, "P7D"), "reason": "resolved", "met": False}),
        ev(40, "SurveyAnswered", "feedback", {"score": 2, "anything_left": True, "comment": "我是王芳 13800138000"}),
        ev(41, "CaseReopened", "feedback", {"by": "survey", "reason": "low score"}),
        ev(50, "CaseResolved", "resolution", {"summary": "再次检测后更换新品，李经理致歉"}),
        ev(60, "CaseClosed", "feedback", {"outcome": "satisfied", "summary": "客户满意，结案", "attempts": 1}),
    ]


def folded(messages: list[EventMessage]) -> dict[str, object] | None:
    row = None
    for msg in messages:
        row = fold(row, msg, STORES)
    return row


def dumped(row: object) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


# --- labels -------------------------------------------------------------------------------------------------------


def test_every_registered_event_type_has_a_chinese_and_an_english_label() -> None:
    missing = sorted(set(CONTRACTS) - set(labels.EVENTS))
    assert missing == []
    for type_, (zh, en) in labels.EVENTS.items():
        assert CJK.search(zh), type_
        assert en and not CJK.search(en), type_


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("role", Role),
        ("status", CaseStatus),
        ("category", Category),
        ("severity", Severity),
        ("channel", Channel),
        ("remedy", Remedy),
    ],
)
def test_every_code_of_the_vocabulary_has_both_labels(kind: str, codes: type) -> None:
    for code in codes:
        zh, en = labels.KINDS[kind][code.value]
        assert CJK.search(zh) and en and not CJK.search(en)


def test_a_label_in_either_language_and_an_unknown_code_as_itself() -> None:
    assert labels.label("event", "ComplaintReceived", "zh") == "投诉受理"
    assert labels.label("event", "ComplaintReceived", "en") == "Complaint received"
    assert labels.label("status", "no_such_status", "en") == "no_such_status"
    entries = labels.labelled_timeline([{"type": "CaseResolved"}, {"type": "Unknown"}], labels.Language.EN)
    assert [e["label"] for e in entries] == ["Case resolved", "Unknown"]


# --- scrubbing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("王女士说手镯断了，电话13812345678", "[name]女士说手镯断了，电话[phone]"),
        ("联系 wang.fang@example.com 或 +86 138-1234-5678", "联系 [email] 或 [phone]"),
        ("身份证110101199003071234已核对", "身份证[id]已核对"),
        ("欧阳先生和李芳女士都来了", "[name]先生和[name]女士都来了"),
        ("店员张伟态度很差", "店员[name]态度很差"),
        ("一位姓王的顾客", "一位姓[name]的顾客"),
        ("Mr. John Smith called; Ms Lee agreed", "Mr. [name] called; Ms [name] agreed"),
        ("手镯戴了一周就断了，等了一小时，老师说要退货", "手镯戴了一周就断了，等了一小时，老师说要退货"),
        ("已付款 3980.00 元，2026-11-25 购买", "已付款 3980.00 元，2026-11-25 购买"),
    ],
)
def test_scrub_replaces_contact_details_and_names(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_scrub_keeps_none_and_is_idempotent() -> None:
    assert scrub(None) is None
    once = scrub("顾客李娜的电话是13812345678")
    assert once == "顾客[name]的电话是[phone]"
    assert scrub(once) == once


# --- the library's fold -------------------------------------------------------------------------------------------


def test_the_same_events_in_any_order_give_the_same_row() -> None:
    events = story(uuid4())
    expected = dumped(folded(events))
    shuffler = random.Random(20261125)
    for _ in range(60):
        shuffled = events[:]
        shuffler.shuffle(shuffled)
        assert dumped(folded(shuffled)) == expected
    assert dumped(folded(list(reversed(events)))) == expected


def test_a_case_shows_when_resolved_leaves_when_reopened_and_shows_again_when_resolved_again() -> None:
    events = story(uuid4())
    upto = lambda minutes: [e for e in events if e.envelope.recorded_at <= NOW + timedelta(minutes=minutes)]  # noqa: E731
    assert not visible(folded(upto(21)))  # accepted, not yet resolved
    first = folded(upto(30))
    assert visible(first) and entry(first)["status"] == "resolved"
    assert not visible(folded(upto(41)))  # reopened after a low score
    again = folded(upto(50))
    assert visible(again) and entry(again)["resolution_summary"] == "再次检测后更换新品，[name]经理致歉"
    final = entry(folded(events))
    assert final["status"] == "closed" and final["outcome"] == "satisfied" and final["reopened"] == 1


def test_a_withdrawn_or_unresolved_case_never_shows() -> None:
    case_id = uuid4()
    events = story(case_id)
    withdrawn = at(message("ComplaintWithdrawn", "intake", {"reason": "已私下解决"}, case_id, nid=99), 70)
    assert not visible(folded([*events, withdrawn]))
    assert not visible(folded([e for e in events if e.type != "CaseResolved"]))


def test_an_entry_is_anonymised_and_keeps_codes_remedies_deadlines_and_durations() -> None:
    case_id = uuid4()
    public = entry(folded(story(case_id)), key=b"k")
    text = dumped(public)
    for secret in (str(case_id), CASE_NUMBER, "SH-001", "SH-001-S3", "O-778899", "王", "张伟", "13912345678",
                   "wang.fang", "3980.00\", \"note", "全额退款给王芳", "13800138000", "2026-11-25T"):
        assert secret not in text, secret
    assert public["category"] == "product_quality" and public["subcategory"] == "断裂"
    assert (public["severity"], public["channel"], public["region"], public["business"]) == (
        "general", "phone", "east", "jewelry"
    )
    assert public["root_cause"] == "production"
    assert public["responsibility"] == {"primary": "supplier", "secondary": ["store"], "reason": "供应商焊接工艺问题"}
    assert public["remedies"] == [{"remedy": "refund", "amount": "3980.00"}, {"remedy": "apology", "amount": "0.00"}]
    assert public["remedy_total"] == "3980.00"
    assert public["deadlines"] == {"acknowledge": True, "resolve": False}
    assert public["description"] == "[name]女士反映手镯戴了一周就断了，电话[phone]，邮箱 [email]"
    assert public["findings"] == "店员[name]确认焊点开裂，属生产缺陷，联系[phone]"
    assert public["resolved_month"] == "2026-11"
    assert (public["hours_to_resolve"], public["hours_to_close"]) == (0.8, 1.0)
    assert public["satisfaction"] is None  # the low score was answered before the case was resolved again
    assert len(public["entry_id"]) == 24 and public["entry_id"] != entry(folded(story(case_id)), key=b"x")["entry_id"]


def test_the_search_text_holds_the_texts_and_both_labels_of_the_codes() -> None:
    text = search_text(folded(story(uuid4())))
    for word in ("手镯", "焊点", "product quality", "产品质量", "退款", "refund", "production", "生产"):
        assert word in text
    assert "13912345678" not in text and "张伟" not in text


def test_query_words_cut_chinese_and_drop_punctuation_and_stop_words() -> None:
    assert query_words("手镯 断了，退款！") == ["手镯", "断", "退款"]
    assert query_words("Refund the ＤＥＬＡＹ") == ["refund", "delay"]
    assert query_words(" ，。 ") == []


# --- the record form ----------------------------------------------------------------------------------------------


def case_and_timeline(case_id: UUID) -> tuple[dict[str, object], list[dict[str, object]]]:
    events = story(case_id)
    view = None
    for msg in events:
        view = evolve_case(view, msg)
    return view, [json.loads(json.dumps(timeline_entry(m))) for m in events]


def test_the_record_form_shows_facts_decisions_messages_deadlines_and_result_in_chinese() -> None:
    view, timeline = case_and_timeline(uuid4())
    html = labels.record_form_html(view, timeline, "zh", "Asia/Shanghai", datetime(2026, 11, 26, tzinfo=UTC))
    for expected in (
        "消费者投诉处理记录表",
        CASE_NUMBER,
        "投诉受理",
        "产品质量",
        "受理确认时限",
        "按时完成",
        "未按时完成",
        "已送达",
        "店员张伟确认焊点开裂",  # the timeline's text as recorded: the form is for staff, not the library
        "退款 ¥3980.00",
        "满意",
        "客户满意，结案",
        "本表不含个人信息",
        "SH-001-F1 (客服专员 · SH-001)",
        "2026-11-25 10:00",  # 02:00 UTC in Asia/Shanghai
    ):
        assert expected in html, expected


def test_the_record_form_in_english_and_escaped() -> None:
    view, timeline = case_and_timeline(uuid4())
    timeline[0]["payload"]["description"] = "<script>alert(1)</script>"
    html = labels.record_form_html(view, timeline, labels.Language.EN, "UTC", NOW)
    for expected in ("Consumer complaint handling record", "Complaint received", "Acknowledge", "not met",
                     "met", "Satisfied", "holds no personal data", "Save as PDF", "168 h"):
        assert expected in html, expected
    assert "<script>" not in html and "&lt;script&gt;" in html
