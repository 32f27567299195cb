"""Who may return, exchange or have goods repaired: the returns policy (``config/returns.yaml``), the customer's
form and the rules' verdict on it (``assess``). Pure: today's date, the product and the policy come in as arguments.

Day counting (DOMAIN.md, Clarifications "Returns"): periods count in the chain's calendar days from the day after
the customer received the goods (``received_on``; for a sale in store, the day of purchase), as the 7-day
no-reason rules do (签收次日起算). "Within 7 days" therefore means ``today - received_on <= 7``: goods received on
1 March may be returned until 8 March inclusive, and a request on 9 March is late. The same holds for the 三包
return (7) and exchange (15) periods, and a warranty of N months runs until the same date N months later,
inclusive.
"""

from __future__ import annotations

import calendar
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import InvalidValue
from shared.masterdata import Product


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
