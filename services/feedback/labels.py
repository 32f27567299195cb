"""Chinese and English labels for the public codes (event types, roles, statuses, the vocabulary of DOMAIN.md),
and the record form (消费者投诉处理记录表) that shows a case with them.

Codes stay the API's language; labels are only for people (the timeline with ``?lang=``, the record form, the case
library). Every event type registered in ``shared.contracts.CONTRACTS`` must have both labels (a unit test checks
it, so a new contract fails the build until it is labelled). An unknown code shows as itself.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import TypeAdapter


class Language(StrEnum):
    """The languages labels exist in."""

    ZH = "zh"
    EN = "en"


# Event type -> (中文, English).
EVENTS: dict[str, tuple[str, str]] = {
    # intake
    "ComplaintReceived": ("投诉受理", "Complaint received"),
    "AcknowledgementDue": ("待致歉确认", "Acknowledgement due"),
    "ReadBackConfirmed": ("复述确认", "Read back and confirmed"),
    "ComplaintAmended": ("投诉记录更正", "Complaint record amended"),
    "ComplaintWithdrawn": ("投诉撤回", "Complaint withdrawn"),
    "EvidenceAttached": ("证据上传", "Evidence attached"),
    "RepeatComplaintLinked": ("重复投诉关联", "Repeat complaint linked"),
    "NuisanceFlagged": ("骚扰来源标记", "Nuisance source flagged"),
    "ContactDetailsRead": ("查看联系方式", "Contact details read"),
    "CustomerErased": ("个人信息删除", "Customer data erased"),
    "CustomerLinkIssued": ("客户答复链接已发出", "Customer answer link issued"),
    "MessageDelivered": ("消息已送达", "Message delivered"),
    "MessageDeliveryFailed": ("消息发送失败", "Message delivery failed"),
    # routing
    "ComplaintTriaged": ("评估分类", "Complaint triaged"),
    "CategoryOverridden": ("分类更正", "Category overridden"),
    "SeverityChanged": ("紧急程度调整", "Severity changed"),
    "ValidityDecided": ("投诉是否成立判定", "Validity decided"),
    "AppealLodged": ("客户申诉", "Appeal lodged"),
    "ResponsibilityDetermined": ("责任认定", "Responsibility determined"),
    "CaseAssigned": ("分派处理", "Case assigned"),
    "CaseTransferred": ("转交处理", "Case transferred"),
    "CaseEscalated": ("升级处理", "Case escalated"),
    "SupportingTeamAdded": ("增加协办部门", "Supporting team added"),
    "MerchantChased": ("督促商户", "Merchant chased"),
    "MerchantResponded": ("商户答复", "Merchant responded"),
    "ClockStarted": ("时限开始", "Deadline clock started"),
    "ClockPaused": ("时限暂停", "Deadline clock paused"),
    "ClockResumed": ("时限恢复", "Deadline clock resumed"),
    "ClockReplanned": ("时限重新计划", "Deadline clock re-planned"),
    "ClockStopped": ("时限结束", "Deadline clock stopped"),
    "ClockWarned": ("时限预警", "Deadline warning"),
    "SlaBreached": ("超出时限", "Deadline breached"),
    "AwaitingCustomer": ("等待客户", "Awaiting the customer"),
    "CustomerResponded": ("客户已回复", "Customer responded"),
    "EmergencyDeclared": ("启动突发事件应急预案", "Emergency declared"),
    "EmergencyStepRecorded": ("应急步骤记录", "Emergency step recorded"),
    # resolution
    "ResolutionOpened": ("开始处理", "Resolution opened"),
    "InvestigationPlanned": ("制定调查计划", "Investigation planned"),
    "InvestigationTaskAssigned": ("分派调查任务", "Investigation task assigned"),
    "InvestigationTaskCompleted": ("调查任务完成", "Investigation task completed"),
    "EvidenceItemRecorded": ("调查证据记录", "Evidence item recorded"),
    "InterviewRecorded": ("访谈记录", "Interview recorded"),
    "FindingsRecorded": ("调查结论", "Findings recorded"),
    "FraudEstablished": ("认定欺诈", "Fraud established"),
    "RemedyProposed": ("提出处理方案", "Remedy proposed"),
    "ProposalApproved": ("方案审批通过", "Proposal approved"),
    "ProposalRejected": ("方案审批驳回", "Proposal rejected"),
    "ProposalOffered": ("方案告知客户", "Proposal offered"),
    "CustomerAccepted": ("客户接受方案", "Customer accepted"),
    "CustomerRefused": ("客户拒绝方案", "Customer refused"),
    "CustomerCountered": ("客户提出反建议", "Customer countered"),
    "RemedyExecuted": ("方案执行", "Remedy executed"),
    "CaseResolved": ("投诉已解决", "Case resolved"),
    "AccountabilityRecorded": ("责任人处理", "Accountability recorded"),
    "ResolutionReopened": ("重新处理", "Resolution reopened"),
    # feedback
    "AcknowledgementPrepared": ("致歉确认消息", "Acknowledgement prepared"),
    "RejectionExplained": ("不成立说明", "Rejection explained"),
    "HighFrequencyWarningRaised": ("高频问题预警", "High-frequency warning raised"),
    "MessagePrepared": ("客户消息", "Message prepared"),
    "FollowUpScheduled": ("安排回访", "Follow-up scheduled"),
    "SurveySent": ("发送满意度调查", "Survey sent"),
    "SurveyAnswered": ("满意度回访结果", "Survey answered"),
    "CaseClosed": ("结案归档", "Case closed"),
    "CaseReopened": ("重新开启", "Case reopened"),
    # recall
    "RecallAlertRaised": ("召回预警", "Recall alert raised"),
    "RecallAlertCaseLinked": ("关联召回预警", "Case linked to recall alert"),
    "RecallCampaignPlanned": ("制定召回计划", "Recall campaign planned"),
    "RecallCampaignLaunched": ("发布召回", "Recall campaign launched"),
    "CaseJoinedCampaign": ("并入召回活动", "Case joined recall campaign"),
    "RecallCustomersImported": ("导入召回客户", "Recall customers imported"),
    "RecallCampaignClosed": ("召回结束", "Recall campaign closed"),
    "RecallNoticeIssued": ("召回通知", "Recall notice issued"),
    "RecallNoticeContacted": ("召回已联系客户", "Recall notice: customer contacted"),
    "RecallNoticeResponded": ("召回客户已回复", "Recall notice: customer responded"),
    "RecallNoticeRemedied": ("召回已处理", "Recall notice: remedied"),
    "RecallNoticeUnreachable": ("召回无法联系", "Recall notice: unreachable"),
    # returns
    "ReturnRequested": ("退换货申请", "Return requested"),
    "ReturnReviewed": ("退换货审核", "Return reviewed"),
    "ReturnGoodsReceived": ("退回商品已收到", "Returned goods received"),
    "ReturnInspected": ("退回商品检验", "Returned goods inspected"),
    "ReturnRefunded": ("退款完成", "Return refunded"),
    "ExchangeShipped": ("换货已发出", "Exchange shipped"),
    "RepairCompleted": ("维修完成", "Repair completed"),
}

ROLES: dict[str, tuple[str, str]] = {
    "customer": ("客户", "Customer"),
    "frontline": ("客服专员", "Frontline staff"),
    "cs_manager": ("投诉处理经理", "Customer-service manager"),
    "regional_manager": ("区域经理", "Regional manager"),
    "hq": ("总部", "Headquarters"),
    "legal": ("法务", "Legal"),
    "appraiser": ("珠宝鉴定师", "Appraiser"),
    "technician": ("技术员", "Technician"),
    "quality_analyst": ("质量管理专员", "Quality analyst"),
    "auditor": ("审计", "Auditor"),
    "admin": ("管理员", "Administrator"),
    "merchant": ("商户", "Mall merchant"),
    "system": ("系统", "System"),
}

STATUSES: dict[str, tuple[str, str]] = {
    "received": ("已受理", "Received"),
    "triaged": ("已分类", "Triaged"),
    "rejected": ("不成立", "Rejected"),
    "investigating": ("调查中", "Investigating"),
    "proposed": ("已提出方案", "Proposed"),
    "awaiting_approval": ("待审批", "Awaiting approval"),
    "awaiting_customer": ("待客户答复", "Awaiting customer"),
    "resolving": ("执行中", "Resolving"),
    "resolved": ("已解决", "Resolved"),
    "follow_up": ("回访中", "Follow-up"),
    "closed": ("已结案", "Closed"),
    "reopened": ("已重新开启", "Reopened"),
    "withdrawn": ("已撤回", "Withdrawn"),
}

FLAGS: dict[str, tuple[str, str]] = {
    "repeat": ("重复投诉", "Repeat complaint"),
    "nuisance": ("骚扰来源", "Nuisance source"),
    "sla_breached": ("超时", "Deadline breached"),
    "escalated": ("已升级", "Escalated"),
    "emergency": ("突发事件", "Emergency"),
}

CATEGORIES: dict[str, tuple[str, str]] = {
    "product_quality": ("产品质量", "Product quality"),
    "price": ("价格", "Price"),
    "service": ("服务质量", "Service"),
    "after_sales": ("售后服务", "After-sales"),
    "delivery": ("配送", "Delivery"),
    "promotion": ("促销/优惠券/积分", "Promotion"),
    "advertising": ("虚假宣传", "Advertising"),
    "environment": ("环境设施", "Environment"),
    "safety": ("安全保障", "Safety"),
    "contract": ("合同/消费纠纷", "Contract"),
    "privacy": ("个人信息", "Privacy"),
    "other": ("其他", "Other"),
}

SEVERITIES: dict[str, tuple[str, str]] = {
    "general": ("一般", "General"),
    "urgent": ("紧急", "Urgent"),
    "critical": ("特别紧急", "Critical"),
}

CHANNELS: dict[str, tuple[str, str]] = {
    "phone": ("电话热线", "Phone"),
    "store": ("门店", "In store"),
    "web": ("网站", "Web"),
    "app": ("应用", "App"),
    "email": ("电子邮件", "E-mail"),
    "letter": ("信件", "Letter"),
    "social": ("社交媒体", "Social media"),
    "chat": ("在线客服", "Online chat"),
    "regulator": ("监管转办", "Regulator transfer"),
    "suggestion_box": ("意见箱", "Suggestion box"),
}

REMEDIES: dict[str, tuple[str, str]] = {
    "apology": ("道歉", "Apology"),
    "explanation": ("解释说明", "Explanation"),
    "refund": ("退款", "Refund"),
    "exchange": ("换货", "Exchange"),
    "repair": ("维修", "Repair"),
    "price_difference": ("补差价", "Price difference"),
    "compensation": ("赔偿", "Compensation"),
    "coupon": ("优惠券", "Coupon"),
    "gift": ("礼品", "Gift"),
    "points": ("积分", "Points"),
    "service_redo": ("重新服务", "Service redone"),
    "staff_action": ("员工培训/处分", "Staff action"),
}

CLOCKS: dict[str, tuple[str, str]] = {
    "acknowledge": ("受理确认时限", "Acknowledge"),
    "resolve": ("处理时限", "Resolve"),
    "return_review": ("退换货审核时限", "Return review"),
    "follow_up": ("回访时限", "Follow-up"),
    "regulator": ("监管答复时限", "Regulator"),
    "merchant_response": ("商户答复时限", "Merchant response"),
    "refund": ("退款时限", "Refund"),
}

OUTCOMES: dict[str, tuple[str, str]] = {
    "satisfied": ("满意", "Satisfied"),
    "neutral": ("一般", "Neutral"),
    "no_response": ("未回复", "No response"),
}

ROOT_CAUSES: dict[str, tuple[str, str]] = {
    "design": ("设计", "Design"),
    "production": ("生产", "Production"),
    "material": ("材料", "Material"),
    "operation": ("操作", "Operation"),
    "staff_conduct": ("员工行为", "Staff conduct"),
    "logistics": ("物流", "Logistics"),
    "customer_misuse": ("客户使用不当", "Customer misuse"),
}

PARTIES: dict[str, tuple[str, str]] = {
    "store": ("本店/本部门", "Our store"),
    "merchant": ("商场商户", "Mall merchant"),
    "supplier": ("供应商/厂家", "Supplier"),
    "logistics": ("物流", "Logistics"),
    "customer_misunderstanding": ("客户误解", "Customer misunderstanding"),
}

KINDS: dict[str, dict[str, tuple[str, str]]] = {
    "event": EVENTS,
    "role": ROLES,
    "status": STATUSES,
    "flag": FLAGS,
    "category": CATEGORIES,
    "severity": SEVERITIES,
    "channel": CHANNELS,
    "remedy": REMEDIES,
    "clock": CLOCKS,
    "outcome": OUTCOMES,
    "root_cause": ROOT_CAUSES,
    "party": PARTIES,
}


def label(kind: str, code: str | None, lang: Language | str) -> str:
    """The label of ``code`` (an event type, role, status, ...) in ``lang``; the code itself if it has none."""
    if code is None:
        return ""
    pair = KINDS[kind].get(str(code))
    if pair is None:
        return str(code)
    return pair[0] if Language(lang) is Language.ZH else pair[1]


def event_label(event_type: str, lang: Language | str) -> str:
    return label("event", event_type, lang)


def labelled_timeline(events: list[dict], lang: Language | str) -> list[dict]:
    """Timeline entries each with ``label``: its event type's label in ``lang`` (the entries are not changed)."""
    return [{**event, "label": event_label(event["type"], lang)} for event in events]


# --- the record form (消费者投诉处理记录表) ----------------------------------------------------------------------------
# Built from the case view and the timeline only (feedback's read models), which hold no personal data: the
# description and demand are intake's masked texts. Rendered by ``templates/record_form.html``.

FORM: dict[str, tuple[str, str]] = {
    "title": ("消费者投诉处理记录表", "Consumer complaint handling record"),
    "case_number": ("投诉编号", "Case number"),
    "case_id": ("案件标识", "Case id"),
    "status": ("当前状态", "Status"),
    "printed": ("打印时间", "Printed"),
    "times_in": ("时间时区", "Times in"),
    "facts": ("投诉事实", "Facts"),
    "channel": ("投诉渠道", "Channel"),
    "store": ("门店", "Store"),
    "merchant": ("商户", "Merchant"),
    "staff": ("涉及员工", "Staff concerned"),
    "received_at": ("受理时间", "Received"),
    "received_by": ("受理人", "Received by"),
    "occurred_where": ("发生地点", "Where it happened"),
    "order": ("订单/商品", "Order / product"),
    "amount_paid": ("支付金额", "Amount paid"),
    "description": ("投诉内容（已遮蔽）", "Description (masked)"),
    "demand": ("客户诉求（已遮蔽）", "Demand (masked)"),
    "category": ("投诉类型", "Category"),
    "severity": ("紧急程度", "Severity"),
    "well_founded": ("投诉是否成立", "Well-founded"),
    "responsibility": ("责任方", "Responsible"),
    "owner": ("处理部门/人员", "Owner"),
    "evidence": ("证据数", "Evidence items"),
    "amendments": ("更正次数", "Amendments"),
    "repeat_of": ("重复投诉（前案）", "Repeat of"),
    "flags": ("标记", "Flags"),
    "decisions": ("处理过程与决定", "Decisions and actions"),
    "when": ("时间", "When"),
    "what": ("事项", "What"),
    "who": ("处理人", "Who"),
    "why": ("原因/说明", "Why"),
    "details": ("详情", "Details"),
    "messages": ("与客户的沟通", "Messages to the customer"),
    "message": ("消息", "Message"),
    "template": ("模板", "Template"),
    "language": ("语言", "Language"),
    "delivery": ("送达情况", "Delivery"),
    "delivered": ("已送达", "delivered"),
    "failed": ("发送失败", "failed"),
    "pending": ("未确认", "not confirmed"),
    "deadlines": ("时限", "Deadlines"),
    "clock": ("时限", "Clock"),
    "started": ("开始", "Started"),
    "planned": ("时长/截止", "Duration / deadline"),
    "paused": ("暂停次数", "Pauses"),
    "warnings": ("预警", "Warnings"),
    "breached": ("超时", "Breached"),
    "stopped": ("结束", "Stopped"),
    "met": ("是否按时", "Met"),
    "met_yes": ("按时完成", "met"),
    "met_no": ("未按时完成", "not met"),
    "running": ("进行中", "running"),
    "result": ("处理结果", "Result"),
    "resolution": ("解决情况", "Resolution"),
    "remedies": ("处理方案（客户已接受）", "Remedies (accepted)"),
    "satisfaction": ("客户满意度（1–5）", "Satisfaction (1–5)"),
    "outcome": ("回访结果", "Follow-up outcome"),
    "closing_summary": ("结案总结", "Closing summary"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "none": ("无", "none"),
    "privacy_note": (
        "本表不含个人信息：客户以化名标识，投诉内容与诉求为遮蔽后的文本（联系方式替换为 [name]、[phone]、[email]、[id] 等）。"
        "客户联系方式仅保存在受理服务中，授权人员查阅时会被记录。",
        "This form holds no personal data: the customer is a pseudonym, and the description and demand are the "
        "masked texts (contact details replaced by [name], [phone], [email], [id], ...). The contact details stay in "
        "intake; authorised staff may read them there, and every read is recorded.",
    ),
    "print_note": (
        "如需 PDF，请在浏览器中选择“打印”并另存为 PDF。",
        "For a PDF, print this page from the browser and choose “Save as PDF”.",
    ),
}

# Messages to the customer and the delivery reports of them.
_MESSAGES = {"AcknowledgementDue", "AcknowledgementPrepared", "RejectionExplained", "MessagePrepared", "ProposalOffered",
             "SurveySent", "FollowUpScheduled"}
_DELIVERY = {"MessageDelivered", "MessageDeliveryFailed", "CustomerLinkIssued"}
_CLOCKS = {"ClockStarted", "ClockPaused", "ClockResumed", "ClockReplanned", "ClockStopped", "ClockWarned", "SlaBreached"}
# Payload fields that say why (shown in their own column), and ones the form shows elsewhere or not at all.
_WHY = ("reason", "summary", "findings", "note", "result", "plan", "counter", "comment", "measure")
_HIDDEN = {"description", "demand", "channel_details", "received_by", "case_number", "language", "clock", "tasks",
           "suggestion", "matched_terms", "confidence", "customer_id"}


def record_form_html(view: dict[str, Any], events: list[dict[str, Any]], lang: Language | str, zone: str,
                     printed_at: datetime) -> str:
    """The record form of one case as printable HTML, from its case view and its timeline (causal order)."""
    lang = Language(lang)
    return _templates().get_template("record_form.html").render(
        **record_form(view, events, lang, ZoneInfo(zone), printed_at), lang=lang.value, zone=zone
    )


def record_form(view: dict[str, Any], events: list[dict[str, Any]], lang: Language, zone: ZoneInfo,
                printed_at: datetime) -> dict[str, Any]:
    """What the record form shows (see ``record_form_html``)."""
    t = {key: pair[0] if lang is Language.ZH else pair[1] for key, pair in FORM.items()}

    def when(iso: str | None) -> str:
        return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M") if iso else ""

    def who(event: dict[str, Any]) -> str:
        actor = event["actor"]
        store = f" · {actor['store']}" if actor.get("store") else ""
        return f"{actor['id']} ({label('role', actor['role'], lang)}{store})"

    def yes_no(value: Any) -> str:
        return "" if value is None else t["yes"] if value else t["no"]

    latest = {event["type"]: event for event in events}  # causal order: the last of each type wins
    received = latest.get("ComplaintReceived", {}).get("payload", {})
    responsibility = latest.get("ResponsibilityDetermined", {}).get("payload")
    order = " / ".join(str(received[k]) for k in ("order_id", "sku", "batch", "serial") if received.get(k))
    owner = " / ".join(str(view[k]) for k in ("team", "queue", "assignee", "tier") if view.get(k))
    facts = [
        (t["channel"], label("channel", view.get("channel") or received.get("channel"), lang)),
        (t["store"], view.get("store_id") or received.get("store_id")),
        (t["merchant"], received.get("merchant_id")),
        (t["staff"], received.get("staff_id")),
        (t["received_at"], when(view.get("received_at"))),
        (t["received_by"], who(latest["ComplaintReceived"]) if "ComplaintReceived" in latest else ""),
        (t["occurred_where"], received.get("occurred_where")),
        (t["order"], order),
        (t["amount_paid"], received.get("amount_paid")),
        (t["description"], received.get("description")),
        (t["demand"], received.get("demand")),
        (t["category"], " / ".join(filter(None, [label("category", view.get("category"), lang), view.get("subcategory")]))),
        (t["severity"], label("severity", view.get("severity"), lang)),
        (t["well_founded"], yes_no(view.get("well_founded"))),
        (t["responsibility"], _responsibility(responsibility, lang)),
        (t["owner"], owner),
        (t["evidence"], view.get("evidence_count")),
        (t["amendments"], view.get("amendments")),
        (t["repeat_of"], view.get("earlier_case_number")),
        (t["flags"], ", ".join(label("flag", f, lang) for f in view.get("flags", [])) or t["none"]),
    ]
    deliveries: dict[str, list[str]] = {}
    for event in events:
        if event["type"] in _DELIVERY:
            p = event["payload"]
            if event["type"] == "CustomerLinkIssued":  # the answer link an attempt carried, by its id
                step = f"{label('event', event['type'], lang)} {p.get('token_id')}"
            else:
                state = t["delivered"] if event["type"] == "MessageDelivered" else t["failed"]
                step = f"{state} · {p.get('channel')} #{p.get('attempt')}"
            deliveries.setdefault(str(p.get("message_event_id")), []).append(f"{step} · {when(event['recorded_at'])}")
    decisions, messages, clocks = [], [], []
    for event in events:
        kind, payload = event["type"], event["payload"]
        if kind in _DELIVERY:
            continue
        if kind in _MESSAGES:
            messages.append({
                "when": when(event["recorded_at"]),
                "label": label("event", kind, lang),
                "who": who(event),
                "template": payload.get("template") or "",
                "language": payload.get("language") or "",
                "details": _details(payload, lang, skip={"template", "language"}),
                "delivery": deliveries.get(event["event_id"], [t["pending"]] if kind != "FollowUpScheduled" else []),
            })
            continue
        if kind in _CLOCKS:
            _clock_step(clocks, event, when)
            continue
        decisions.append({
            "when": when(event["recorded_at"]),
            "label": label("event", kind, lang),
            "who": who(event),
            "why": " · ".join(str(payload[k]) for k in _WHY if payload.get(k)),
            "details": _details(payload, lang, skip=set(_WHY)),
        })
    for clock in clocks:
        clock["name"] = label("clock", clock["name"], lang)
        clock["outcome"] = t["running"] if clock["met"] is None else t["met_yes"] if clock["met"] else t["met_no"]
        clock["breached"] = yes_no(clock["breached"])
    offered = {
        e["payload"].get("proposal"): e["payload"] for e in events if e["type"] == "ProposalOffered"
    }
    accepted = latest.get("CustomerAccepted", {}).get("payload", {}).get("proposal")
    remedies = _remedies((offered.get(accepted) or {}).get("remedies", []), lang)
    closed = latest.get("CaseClosed", {}).get("payload", {})
    result = [
        (t["status"], label("status", view.get("status"), lang)),
        (t["resolution"], latest.get("CaseResolved", {}).get("payload", {}).get("summary")),
        (t["remedies"], remedies),
        (t["satisfaction"], latest.get("SurveyAnswered", {}).get("payload", {}).get("score")),
        (t["outcome"], label("outcome", closed.get("outcome"), lang)),
        (t["closing_summary"], closed.get("summary")),
    ]
    return {
        "t": t,
        "case_number": view.get("case_number") or received.get("case_number") or "",
        "case_id": view.get("case_id"),
        "status": label("status", view.get("status"), lang),
        "printed_at": printed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "facts": facts,
        "decisions": decisions,
        "messages": messages,
        "clocks": clocks,
        "result": result,
    }


def _clock_step(clocks: list[dict[str, Any]], event: dict[str, Any], when: Any) -> None:
    """One clock event applied to the runs of the case's clocks (a run: from ClockStarted to ClockStopped)."""
    kind, payload = event["type"], event["payload"]
    state = payload.get("clock")
    name = state.get("name") if isinstance(state, dict) else state
    run = next((c for c in reversed(clocks) if c["name"] == name), None)
    if kind == "ClockStarted" or run is None or (run["met"] is not None and kind != "ClockStopped"):
        run = {"name": name, "started": "", "planned": "", "paused": 0, "warnings": [], "breached": False,
               "stopped": "", "met": None}
        clocks.append(run)
    if isinstance(state, dict):
        run["started"] = run["started"] or when(state.get("started_at"))
        run["planned"] = when(state["deadline"]) if state.get("deadline") else _duration(state.get("duration"))
    if kind == "ClockPaused":
        run["paused"] += 1
    elif kind == "ClockWarned":
        run["warnings"].append(f"{payload.get('threshold')}%")
    elif kind == "SlaBreached":
        run["breached"] = True
    elif kind == "ClockStopped":
        run["stopped"] = when(event["recorded_at"])
        run["met"] = bool(payload.get("met"))


def _duration(value: Any) -> str:
    """An ISO 8601 duration as pydantic writes a timedelta (``P3D``, ``PT4H``) in hours, e.g. ``72 h``."""
    if not value:
        return ""
    try:
        seconds = TypeAdapter(timedelta).validate_python(value).total_seconds()
    except ValueError:
        return str(value)
    return f"{seconds / 3600:g} h"


def _responsibility(payload: dict[str, Any] | None, lang: Language) -> str:
    if not payload:
        return ""
    parties = [label("party", payload.get("primary"), lang)]
    parties += [label("party", p, lang) for p in payload.get("secondary", [])]
    return ", ".join(parties)


def _remedies(lines: list[dict[str, Any]], lang: Language) -> str:
    return ", ".join(
        f"{label('remedy', line.get('remedy'), lang)}" + (f" ¥{line['amount']}" if line.get("amount") not in (None, "0.00") else "")
        for line in lines
    )


def _details(payload: dict[str, Any], lang: Language, skip: set[str]) -> list[tuple[str, str]]:
    shown = []
    for key, value in payload.items():
        if key in skip or key in _HIDDEN or value in (None, "", [], {}):
            continue
        if key in ("remedies",) and isinstance(value, list):
            text = _remedies(value, lang)
        elif key in KINDS and isinstance(value, str):
            text = label(key, value, lang)
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            text = str(value)
        shown.append((key, text))
    return shown


@cache
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(), trim_blocks=True
    )
