"""Returns and exchanges (退换货): who may return, exchange or have goods repaired (``assess``), and the
``ReturnRequest`` aggregate that follows one request from the customer's ask to the refund, the replacement or the
repair. Pure: today's date, the product and the policy come in as arguments.

Day counting (DOMAIN.md, Clarifications "Returns"): periods count in the chain's calendar days from the day after
the customer received the goods (``received_on``; for a sale in store, the day of purchase), as the 7-day
no-reason rules do (签收次日起算). "Within 7 days" therefore means ``today - received_on <= 7``: goods received on
1 March may be returned until 8 March inclusive, and a request on 9 March is late. The same holds for the 三包
return (7) and exchange (15) periods, and a warranty of N months runs until the same date N months later,
inclusive.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.masterdata import Product
from shared.vocabulary import Role

# Who may approve a request (any refund, exchange or repair needs at least a customer-service manager).
REVIEWERS = frozenset({Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.ADMIN})
# Who works the steps after the review (after-sales staff, technicians; the system by policy).
HANDLERS = frozenset(
    {
        Role.FRONTLINE,
        Role.CS_MANAGER,
        Role.REGIONAL_MANAGER,
        Role.HQ,
        Role.TECHNICIAN,
        Role.APPRAISER,
        Role.ADMIN,
        Role.SYSTEM,
    }
)
# Who may ask for a return: the customer, or staff on their behalf.
REQUESTERS = HANDLERS | {Role.CUSTOMER}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CENT = Decimal("0.01")


class ReturnKind(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"
    REPAIR = "repair"


class ReturnReason(StrEnum):
    QUALITY_PROBLEM = "quality_problem"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_REASON = "no_reason"


class Sale(StrEnum):
    """How the goods were sold: in a store, or at a distance (online, phone, TV shopping: 7-day no-reason)."""

    IN_STORE = "in_store"
    DISTANCE = "distance"


class Payer(StrEnum):
    SELLER = "seller"
    CUSTOMER = "customer"


class ProductClass(StrEnum):
    """Product classes the no-reason exclusions name (products.csv does not have them: config/returns.yaml)."""

    GENERAL = "general"
    DIGITAL_DOWNLOAD = "digital_download"
    AUDIO_VIDEO = "audio_video"
    SOFTWARE = "software"
    NEWSPAPER = "newspaper"


class InspectionResult(StrEnum):
    PASSED = "passed"  # the goods qualify (the defect is confirmed; or, for a no-reason return, they are intact)
    FAILED = "failed"  # they do not (damage by misuse, missing parts, not the goods sold)


class ReturnState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    GOODS_RECEIVED = "goods_received"
    INSPECTED = "inspected"
    INSPECTION_FAILED = "inspection_failed"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    REPAIRED = "repaired"


# --- the policy (config/returns.yaml) -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SanbaoPolicy(_Strict):
    """The statutory three guarantees (三包) for goods on the 三包 list."""

    return_days: int = Field(7, ge=0)
    exchange_days: int = Field(15, ge=0)
    warranty_months: int = Field(12, ge=0)


class ChainPolicy(_Strict):
    """The chain's own policy for goods not on the 三包 list."""

    quality_return_days: int = Field(30, ge=0)
    quality_exchange_days: int = Field(30, ge=0)
    warranty_months: int = Field(12, ge=0)
    not_as_described_days: int | None = Field(None, ge=0)


class ProductRule(_Strict):
    """Per-SKU facts products.csv lacks: the product class and any period of its own (e.g. cars' 三包)."""

    product_class: ProductClass = Field(ProductClass.GENERAL, alias="class")
    warranty_months: int | None = Field(None, ge=0)
    return_days: int | None = Field(None, ge=0)
    exchange_days: int | None = Field(None, ge=0)


class ReturnPolicy(_Strict):
    no_reason_days: int = Field(7, ge=0)
    sanbao: SanbaoPolicy = SanbaoPolicy()
    chain: ChainPolicy = ChainPolicy()
    products: dict[str, ProductRule] = {}

    def facts_for(self, product: Product) -> ProductFacts:
        """What the rules need of a product: master data plus this policy's per-SKU rule."""
        rule = self.products.get(product.sku, ProductRule())
        default_warranty = self.sanbao.warranty_months if product.sanbao else self.chain.warranty_months
        return ProductFacts(
            sku=product.sku,
            sanbao=product.sanbao,
            custom_made=product.custom_made,
            perishable=product.perishable,
            product_class=rule.product_class,
            warranty_months=rule.warranty_months if rule.warranty_months is not None else default_warranty,
            return_days=rule.return_days if rule.return_days is not None else self.sanbao.return_days,
            exchange_days=rule.exchange_days if rule.exchange_days is not None else self.sanbao.exchange_days,
        )


class ProductFacts(_Strict):
    sku: str
    sanbao: bool
    custom_made: bool = False
    perishable: bool = False
    product_class: ProductClass = ProductClass.GENERAL
    warranty_months: int = 12
    return_days: int = 7  # the 三包 periods of this product
    exchange_days: int = 15


# --- eligibility ----------------------------------------------------------------------------------------------


class ReturnForm(_Strict):
    """What the customer asks for, with the facts the rules need (defaults filled in by the application)."""

    kind: ReturnKind
    reason: ReturnReason
    sku: str
    purchased_on: date
    received_on: date
    sale: Sale
    opened: bool = False
    has_inspection_report: bool = False


class Eligibility(_Strict):
    eligible: bool
    rule: str
    explanation: dict[str, str]  # zh and en
    shipping_paid_by: Payer | None
    last_day: date | None = None  # the last day the rule allows (inclusive), where it has one


# rule code -> (zh, en); fields: {days} {last_day} {months}
_TEXTS: dict[str, tuple[str, str]] = {
    "sanbao_return": (
        "三包商品自收货次日起{days}日内可退货（截止{last_day}）。",
        "Goods on the 三包 list may be returned within {days} days of receipt (until {last_day}).",
    ),
    "sanbao_exchange": (
        "三包商品自收货次日起{days}日内可换货（截止{last_day}）。",
        "Goods on the 三包 list may be exchanged within {days} days of receipt (until {last_day}).",
    ),
    "sanbao_repair": (
        "三包商品在{months}个月保修期内可免费修理（截止{last_day}）。",
        "Goods on the 三包 list are repaired free within the {months}-month warranty (until {last_day}).",
    ),
    "sanbao_return_period_over": (
        "三包退货期为收货后{days}日，已于{last_day}届满；可在换货期内申请换货或在保修期内申请修理。",
        "The 三包 return period of {days} days ended on {last_day}; an exchange or a repair may still apply.",
    ),
    "sanbao_exchange_period_over": (
        "三包换货期为收货后{days}日，已于{last_day}届满；保修期内可申请修理。",
        "The 三包 exchange period of {days} days ended on {last_day}; a repair under warranty may still apply.",
    ),
    "warranty_expired": (
        "{months}个月保修期已于{last_day}届满，不能免费修理。",
        "The {months}-month warranty ended on {last_day}; the repair is not free.",
    ),
    "chain_warranty_repair": (
        "本商品在{months}个月保修期内可修理（截止{last_day}）。",
        "The goods are repaired within the chain's {months}-month warranty (until {last_day}).",
    ),
    "repair_needs_quality_problem": (
        "修理仅适用于质量问题。",
        "A repair is for a quality problem only.",
    ),
    "no_reason_return": (
        "远程购物商品自收货次日起{days}日内可无理由退货（截止{last_day}），退货运费由顾客承担。",
        "Distance-sale goods may be returned without reason within {days} days of receipt (until {last_day}); "
        "the customer pays the shipping.",
    ),
    "no_reason_period_over": (
        "七日无理由退货期为收货后{days}日，已于{last_day}届满。",
        "The no-reason return period of {days} days from receipt ended on {last_day}.",
    ),
    "no_reason_in_store": (
        "七日无理由退货仅适用于网络、电话、电视等远程购物；门店购买的商品不适用。",
        "The 7-day no-reason return applies to distance sales only, not to goods bought in a store.",
    ),
    "no_reason_return_only": (
        "无理由仅可申请退货；换货或修理需有质量问题或货不对板。",
        "Without a reason only a return is possible; an exchange or repair needs a quality problem or goods "
        "not as described.",
    ),
    "excluded_custom_made": (
        "定制商品不适用七日无理由退货。",
        "Custom-made goods are excluded from the no-reason return.",
    ),
    "excluded_perishable": (
        "鲜活易腐商品不适用七日无理由退货。",
        "Perishable goods are excluded from the no-reason return.",
    ),
    "excluded_digital_download": (
        "在线下载的数字化商品不适用七日无理由退货。",
        "Digital downloads are excluded from the no-reason return.",
    ),
    "excluded_opened_audio_video": (
        "已拆封的音像制品、计算机软件不适用七日无理由退货。",
        "Opened audio-video products and software are excluded from the no-reason return.",
    ),
    "excluded_newspaper": (
        "报纸、期刊不适用七日无理由退货。",
        "Newspapers and periodicals are excluded from the no-reason return.",
    ),
    "quality_with_report": (
        "凭质量检测报告，非三包商品按本公司政策自收货次日起{days}日内可退换（截止{last_day}）。",
        "With an inspection report, goods not on the 三包 list may be returned or exchanged under the chain's "
        "policy within {days} days of receipt (until {last_day}).",
    ),
    "inspection_report_required": (
        "非三包商品因质量问题退换货须提供质量检测报告。",
        "A quality return or exchange of goods not on the 三包 list needs an inspection report.",
    ),
    "chain_policy_period_over": (
        "本公司质量问题退换期为收货后{days}日，已于{last_day}届满。",
        "The chain's quality return period of {days} days from receipt ended on {last_day}.",
    ),
    "not_as_described": (
        "商品与描述不符，可退货，运费由商家承担。",
        "The goods are not as described: they may be returned, and the seller pays the shipping.",
    ),
    "not_as_described_period_over": (
        "货不对板的退换期为收货后{days}日，已于{last_day}届满。",
        "The period for goods not as described, {days} days from receipt, ended on {last_day}.",
    ),
}


def _verdict(
    rule: str, eligible: bool, payer: Payer | None, last_day: date | None = None, **values: Any
) -> Eligibility:
    zh, en = _TEXTS[rule]
    fields = {"last_day": last_day.isoformat() if last_day else "", **values}
    return Eligibility(
        eligible=eligible,
        rule=rule,
        explanation={"zh": zh.format(**fields), "en": en.format(**fields)},
        shipping_paid_by=payer if eligible else None,
        last_day=last_day,
    )


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later (the month's last day where it has no such day)."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def days_since(start: date, today: date) -> int:
    """Calendar days from ``start`` to ``today``: received yesterday is 1, so "within N days" is ``<= N``."""
    return (today - start).days


def check_dates(form: ReturnForm, today: date) -> None:
    """Dates of a request must be in order and not in the future (422 otherwise)."""
    if form.purchased_on > today:
        raise InvalidValue("purchased_on", f"{form.purchased_on} is in the future (today is {today})")
    if form.received_on < form.purchased_on:
        raise InvalidValue("received_on", f"{form.received_on} is before the purchase on {form.purchased_on}")
    if form.received_on > today:
        raise InvalidValue("received_on", f"{form.received_on} is in the future (today is {today})")


def assess(form: ReturnForm, product: ProductFacts, policy: ReturnPolicy, today: date) -> Eligibility:
    """Whether ``form`` may be granted today, by which rule and why, and who pays the shipping back.

    Rules (DOMAIN.md "Returns and exchanges"): a repair within the warranty for a quality problem; no-reason: a
    return within ``no_reason_days`` of receipt for distance sales, except the excluded goods; quality problem:
    三包 periods for 三包 goods, otherwise the chain's periods with an inspection report; not as described: a
    return or exchange. The seller pays the shipping for quality problems and goods not as described, the customer
    for no-reason returns.
    """
    check_dates(form, today)
    start, elapsed = form.received_on, days_since(form.received_on, today)
    seller = Payer.SELLER

    if form.kind is ReturnKind.REPAIR:
        if form.reason is not ReturnReason.QUALITY_PROBLEM:
            return _verdict("repair_needs_quality_problem", False, None)
        months = product.warranty_months
        end = add_months(start, months)
        if today > end:
            return _verdict("warranty_expired", False, None, end, months=months)
        rule = "sanbao_repair" if product.sanbao else "chain_warranty_repair"
        return _verdict(rule, True, seller, end, months=months)

    if form.reason is ReturnReason.NO_REASON:
        if form.kind is not ReturnKind.RETURN:
            return _verdict("no_reason_return_only", False, None)
        if form.sale is Sale.IN_STORE:
            return _verdict("no_reason_in_store", False, None)
        excluded = _exclusion(product, form.opened)
        if excluded:
            return _verdict(excluded, False, None)
        days = policy.no_reason_days
        last = _last_day(start, days)
        if elapsed > days:
            return _verdict("no_reason_period_over", False, None, last, days=days)
        return _verdict("no_reason_return", True, Payer.CUSTOMER, last, days=days)

    if form.reason is ReturnReason.NOT_AS_DESCRIBED:
        days_limit = policy.chain.not_as_described_days
        if days_limit is not None and elapsed > days_limit:
            return _verdict("not_as_described_period_over", False, None, _last_day(start, days_limit), days=days_limit)
        return _verdict("not_as_described", True, seller, None if days_limit is None else _last_day(start, days_limit))

    # A quality problem: the 三包 periods for 三包 goods, else the chain's policy with an inspection report.
    if product.sanbao:
        if form.kind is ReturnKind.RETURN:
            days, ok_rule, late_rule = product.return_days, "sanbao_return", "sanbao_return_period_over"
        else:
            days, ok_rule, late_rule = product.exchange_days, "sanbao_exchange", "sanbao_exchange_period_over"
        last = _last_day(start, days)
        if elapsed > days:
            return _verdict(late_rule, False, None, last, days=days)
        return _verdict(ok_rule, True, seller, last, days=days)
    if not form.has_inspection_report:
        return _verdict("inspection_report_required", False, None)
    chain = policy.chain
    days = chain.quality_return_days if form.kind is ReturnKind.RETURN else chain.quality_exchange_days
    last = _last_day(start, days)
    if elapsed > days:
        return _verdict("chain_policy_period_over", False, None, last, days=days)
    return _verdict("quality_with_report", True, seller, last, days=days)


def _last_day(start: date, days: int) -> date:
    return date.fromordinal(start.toordinal() + days)


def _exclusion(product: ProductFacts, opened: bool) -> str | None:
    """The no-reason exclusion that applies to the product, if any (网络购买商品七日无理由退货暂行办法 art. 6)."""
    if product.custom_made:
        return "excluded_custom_made"
    if product.perishable:
        return "excluded_perishable"
    if product.product_class is ProductClass.DIGITAL_DOWNLOAD:
        return "excluded_digital_download"
    if product.product_class in (ProductClass.AUDIO_VIDEO, ProductClass.SOFTWARE) and opened:
        return "excluded_opened_audio_video"
    if product.product_class is ProductClass.NEWSPAPER:
        return "excluded_newspaper"
    return None


# --- the aggregate --------------------------------------------------------------------------------------------


def _required(field: str, text: str | None, max_length: int = 2000) -> str:
    if text is None or not text.strip():
        raise InvalidValue(field, "is required and must not be blank")
    text = text.strip()
    if len(text) > max_length:
        raise InvalidValue(field, f"is longer than {max_length} characters")
    return text


def _may(ctx: EventContext, roles: frozenset[Role], what: str) -> None:
    if ctx.actor.role not in roles:
        raise Forbidden(f"{what} needs one of the roles {', '.join(sorted(r.value for r in roles))}")


class ReturnRequest(CaseAggregate):
    """One return, exchange or repair request of a case, from the ask to the refund, replacement or repair."""

    class ReturnRequested(CaseAggregate.Created):
        request_id: str
        number: int
        kind: str
        reason: str
        sku: str
        sale: str
        purchased_on: str
        received_on: str
        opened: bool
        has_inspection_report: bool
        eligible: bool
        rule: str
        explanation: dict[str, str]
        shipping_paid_by: str | None
        last_day: str | None
        refund_limit: Decimal | None

    def __init__(
        self,
        envelope: dict[str, Any],
        request_id: str,
        number: int,
        kind: str,
        reason: str,
        sku: str,
        sale: str,
        purchased_on: str,
        received_on: str,
        opened: bool,
        has_inspection_report: bool,
        eligible: bool,
        rule: str,
        explanation: dict[str, str],
        shipping_paid_by: str | None,
        last_day: str | None,
        refund_limit: Decimal | None,
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.request_id = UUID(request_id)
        self.number = number
        self.kind = ReturnKind(kind)
        self.reason = ReturnReason(reason)
        self.sku = sku
        self.sale = Sale(sale)
        self.purchased_on = date.fromisoformat(purchased_on)
        self.received_on = date.fromisoformat(received_on)
        self.opened = opened
        self.has_inspection_report = has_inspection_report
        self.eligibility = Eligibility(
            eligible=eligible,
            rule=rule,
            explanation=explanation,
            shipping_paid_by=shipping_paid_by,
            last_day=last_day,
        )
        self.refund_limit = refund_limit
        self.state = ReturnState.REQUESTED
        self.requested_at: datetime = self.created_on
        self.review: dict[str, Any] | None = None
        self.goods: dict[str, Any] | None = None
        self.inspection: dict[str, Any] | None = None
        self.refund: dict[str, Any] | None = None
        self.exchange: dict[str, Any] | None = None
        self.repair: dict[str, Any] | None = None

    @classmethod
    def request(
        cls,
        id: UUID,
        ctx: EventContext,
        number: int,
        form: ReturnForm,
        product: ProductFacts,
        policy: ReturnPolicy,
        today: date,
        refund_limit: Decimal | None,
    ) -> ReturnRequest:
        """Record the request with the rules' verdict on it (a refusal by rule is recorded too, for review)."""
        _may(ctx, REQUESTERS, "requesting a return")
        if form.sku != product.sku:
            raise InvalidValue("sku", f"the product facts are for {product.sku}, not {form.sku}")
        verdict = assess(form, product, policy, today)
        return cls._start(
            cls.ReturnRequested,
            id,
            ctx,
            request_id=str(id),
            number=number,
            kind=form.kind.value,
            reason=form.reason.value,
            sku=form.sku,
            sale=form.sale.value,
            purchased_on=form.purchased_on.isoformat(),
            received_on=form.received_on.isoformat(),
            opened=form.opened,
            has_inspection_report=form.has_inspection_report,
            eligible=verdict.eligible,
            rule=verdict.rule,
            explanation=verdict.explanation,
            shipping_paid_by=verdict.shipping_paid_by.value if verdict.shipping_paid_by else None,
            last_day=verdict.last_day.isoformat() if verdict.last_day else None,
            refund_limit=refund_limit,
        )

    # --- review ---------------------------------------------------------------------------------------------

    class ReturnReviewed(CaseAggregate.Event):
        request_id: str
        approved: bool
        reason: str | None
        override: bool

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.APPROVED if self.approved else ReturnState.REFUSED
            aggregate.review = {
                "approved": self.approved,
                "reason": self.reason,
                "override": self.override,
                "by": self.envelope["actor"]["id"],
                "at": self.timestamp,
            }

    def review_request(self, ctx: EventContext, approved: bool, reason: str | None) -> None:
        """Staff decide (review due within 24 h of the request). Approving needs a manager; approving against the
        rule is a goodwill exception and needs a reason; refusing needs a reason (any handler may refuse)."""
        if self.state is not ReturnState.REQUESTED:
            raise InvalidTransition(f"the request was already reviewed (it is {self.state.value})")
        override = approved and not self.eligibility.eligible
        if approved:
            _may(ctx, REVIEWERS, "approving a return")
        else:
            _may(ctx, HANDLERS, "refusing a return")
        if not approved or override:
            reason = _required("reason", reason)
        elif reason is not None:
            reason = reason.strip() or None
        self._record(
            self.ReturnReviewed, ctx, request_id=str(self.id), approved=approved, reason=reason, override=override
        )

    # --- goods back and inspection ------------------------------------------------------------------------------

    class ReturnGoodsReceived(CaseAggregate.Event):
        request_id: str
        tracking_number: str
        received_at: datetime

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.GOODS_RECEIVED
            aggregate.goods = {"tracking_number": self.tracking_number, "received_at": self.received_at}

    def receive_goods(self, ctx: EventContext, tracking_number: str, received_at: datetime | None = None) -> None:
        """The goods came back (by post with a tracking number, or over the counter); the refund is due within 7
        days of ``received_at`` (default: now)."""
        _may(ctx, HANDLERS, "receiving returned goods")
        tracking_number = _required("tracking_number", tracking_number, 64)
        self._must_be(ReturnState.APPROVED, "goods are received once the request is approved")
        received_at = received_at or ctx.recorded_at
        if received_at.tzinfo is None:
            raise InvalidValue("received_at", "must say its time zone")
        if received_at > ctx.recorded_at:
            raise InvalidValue("received_at", "is in the future")
        if received_at < self.requested_at:
            raise InvalidValue("received_at", "is before the request")
        self._record(
            self.ReturnGoodsReceived,
            ctx,
            request_id=str(self.id),
            tracking_number=tracking_number,
            received_at=received_at,
        )

    class ReturnInspected(CaseAggregate.Event):
        request_id: str
        result: str
        note: str
        report_sha256: str | None

        def apply(self, aggregate: ReturnRequest) -> None:
            passed = self.result == InspectionResult.PASSED
            aggregate.state = ReturnState.INSPECTED if passed else ReturnState.INSPECTION_FAILED
            aggregate.inspection = {"result": self.result, "note": self.note, "report_sha256": self.report_sha256}

    def inspect(
        self, ctx: EventContext, result: InspectionResult, note: str, report_sha256: str | None = None
    ) -> None:
        """Inspect the returned goods; ``failed`` ends the request (the goods go back to the customer)."""
        _may(ctx, HANDLERS, "inspecting returned goods")
        note = _required("note", note)
        if report_sha256 is not None and not _SHA256.fullmatch(report_sha256):
            raise InvalidValue("report_sha256", "must be 64 lowercase hexadecimal digits")
        self._must_be(ReturnState.GOODS_RECEIVED, "the goods are inspected once they are received")
        self._record(
            self.ReturnInspected,
            ctx,
            request_id=str(self.id),
            result=InspectionResult(result).value,
            note=note,
            report_sha256=report_sha256,
        )

    # --- the outcome ----------------------------------------------------------------------------------------------

    class ReturnRefunded(CaseAggregate.Event):
        request_id: str
        amount: Decimal
        reference: str

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.REFUNDED
            aggregate.refund = {"amount": self.amount, "reference": self.reference, "at": self.timestamp}

    def refund_return(self, ctx: EventContext, amount: Decimal, reference: str) -> None:
        """Refund a return after the goods passed inspection (due within 7 days of receiving them)."""
        _may(ctx, HANDLERS, "refunding a return")
        amount = _money("amount", amount)
        if self.refund_limit is not None and amount > self.refund_limit:
            raise InvalidValue("amount", f"{amount} is more than the {self.refund_limit} paid")
        reference = _required("reference", reference, 64)
        self._must_kind(ReturnKind.RETURN, "a refund")
        self._must_be(ReturnState.INSPECTED, "a refund follows the inspection of the received goods")
        self._record(self.ReturnRefunded, ctx, request_id=str(self.id), amount=amount, reference=reference)

    class ExchangeShipped(CaseAggregate.Event):
        request_id: str
        tracking_number: str

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.EXCHANGED
            aggregate.exchange = {"tracking_number": self.tracking_number, "at": self.timestamp}

    def ship_exchange(self, ctx: EventContext, tracking_number: str) -> None:
        """Send the replacement goods of an exchange once the returned ones passed inspection."""
        _may(ctx, HANDLERS, "shipping an exchange")
        tracking_number = _required("tracking_number", tracking_number, 64)
        self._must_kind(ReturnKind.EXCHANGE, "shipping replacement goods")
        self._must_be(ReturnState.INSPECTED, "the replacement ships after the returned goods passed inspection")
        self._record(self.ExchangeShipped, ctx, request_id=str(self.id), tracking_number=tracking_number)

    class RepairCompleted(CaseAggregate.Event):
        request_id: str
        note: str

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.REPAIRED
            aggregate.repair = {"note": self.note, "at": self.timestamp}

    def complete_repair(self, ctx: EventContext, note: str) -> None:
        """The goods of a repair request were repaired (after the inspection confirmed the fault)."""
        _may(ctx, HANDLERS, "completing a repair")
        note = _required("note", note)
        self._must_kind(ReturnKind.REPAIR, "completing a repair")
        self._must_be(ReturnState.INSPECTED, "a repair is completed after the inspection confirmed the fault")
        self._record(self.RepairCompleted, ctx, request_id=str(self.id), note=note)

    # --- helpers ------------------------------------------------------------------------------------------------

    def _must_be(self, state: ReturnState, why: str) -> None:
        if self.state is not state:
            raise InvalidTransition(f"the request is {self.state.value}: {why}")

    def _must_kind(self, kind: ReturnKind, what: str) -> None:
        if self.kind is not kind:
            raise InvalidTransition(f"{what} settles a {kind.value} request; this one is a {self.kind.value}")


def _money(field: str, amount: Any) -> Decimal:
    """A positive amount of CNY with at most two decimals; never a float."""
    if isinstance(amount, float) or not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise InvalidValue(field, "must be a decimal amount (a string such as '399.00'), not a float")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise InvalidValue(field, "must be more than 0")
    if amount != amount.quantize(_CENT):
        raise InvalidValue(field, "has more than two decimals (fen)")
    return amount.quantize(_CENT)
