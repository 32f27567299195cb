"""Returns and exchanges on the shipped config and master data: Given a request (the goods, how and when they were
sold and received) / When the rules assess it on a given day, or a step of the flow is taken / Then the verdict
(eligible, rule, who pays the shipping) or the new events, or the error. Today is a parameter; nothing sleeps.

Day counting: periods count from the day after receipt, so with goods received on 1 November a 7-day period
allows a request until 8 November inclusive ("day 7") and refuses it on 9 November ("day 8").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.resolution.domain.returns import (
    InspectionResult,
    Payer,
    ProductClass,
    ProductFacts,
    ReturnForm,
    ReturnKind,
    ReturnPolicy,
    ReturnReason,
    ReturnRequest,
    ReturnState,
    Sale,
    add_months,
    assess,
)
from shared.configfiles import load_config
from shared.contracts import CONTRACTS, Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import EventContext, to_message
from shared.masterdata import MasterData
from shared.settings import REPO_ROOT
from shared.vocabulary import Role

POLICY = load_config(REPO_ROOT / "config" / "returns.yaml", ReturnPolicy)
PRODUCTS = MasterData.load(REPO_ROOT / "config" / "demo-chain").products
RECEIVED = date(2026, 11, 1)
NOW = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
MANAGER = Actor(id="EC-001-M1", role=Role.CS_MANAGER, store="EC-001")
CLERK = Actor(id="EC-001-F1", role=Role.FRONTLINE, store="EC-001")
CUSTOMER = Actor(id="customer", role=Role.CUSTOMER)
# Goods products.csv does not sell: an opened concert Blu-ray, software, a newspaper.
BLU_RAY = ProductFacts(sku="AV-CONCERT-BD", sanbao=False, product_class=ProductClass.AUDIO_VIDEO)
SOFTWARE = ProductFacts(sku="SW-OFFICE-1Y", sanbao=False, product_class=ProductClass.SOFTWARE)
NEWSPAPER = ProductFacts(sku="NP-DAILY-1126", sanbao=False, product_class=ProductClass.NEWSPAPER)


def product(sku: str) -> ProductFacts:
    return POLICY.facts_for(PRODUCTS[sku])


def form(sku: str, **overrides: Any) -> ReturnForm:
    values: dict[str, Any] = {
        "kind": ReturnKind.RETURN,
        "reason": ReturnReason.NO_REASON,
        "sku": sku,
        "purchased_on": RECEIVED - timedelta(days=2),
        "received_on": RECEIVED,
        "sale": Sale.DISTANCE,
    }
    return ReturnForm(**{**values, **overrides})


def on_day(day: int) -> date:
    """The calendar day ``day`` days after receipt (day 0 is the day the goods arrived)."""
    return RECEIVED + timedelta(days=day)


def verdict(sku: str | ProductFacts, day: int, **overrides: Any) -> tuple[bool, str, Payer | None]:
    facts = sku if isinstance(sku, ProductFacts) else product(sku)
    result = assess(form(facts.sku, **overrides), facts, POLICY, on_day(day))
    assert result.explanation["zh"] and result.explanation["en"]
    return result.eligible, result.rule, result.shipping_paid_by


# --- 7-day no-reason returns for distance sales ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (0, (True, "no_reason_return", Payer.CUSTOMER)),
        (6, (True, "no_reason_return", Payer.CUSTOMER)),
        (7, (True, "no_reason_return", Payer.CUSTOMER)),  # the last day, inclusive
        (8, (False, "no_reason_period_over", None)),
    ],
)
def test_no_reason_return_of_a_distance_sale_runs_7_days_from_receipt_inclusive(
    day: int, expected: tuple[bool, str, Payer | None]
) -> None:
    # Given a cashmere sweater bought online, received on 1 November
    # When the customer asks to return it without a reason on day `day`
    # Then it is allowed through day 7 (8 November), the customer paying the shipping, and refused from day 8
    assert verdict("AP-CASH-SW-01", day) == expected


def test_no_reason_period_counts_from_receipt_not_from_purchase() -> None:
    # Given goods bought 20 days ago but received only 6 days ago
    # When the customer asks for a no-reason return
    # Then it is in time, and the explanation names the last day (received_on + 7)
    ask = form("AP-CASH-SW-01", purchased_on=on_day(-14))
    result = assess(ask, product("AP-CASH-SW-01"), POLICY, on_day(6))
    assert (result.eligible, result.last_day) == (True, date(2026, 11, 8))
    assert "2026-11-08" in result.explanation["zh"] and "2026-11-08" in result.explanation["en"]


def test_goods_bought_in_a_store_have_no_no_reason_return() -> None:
    # Given a sweater bought in a store / When returned without reason the next day / Then refused by rule
    assert verdict("AP-CASH-SW-01", 1, sale=Sale.IN_STORE) == (False, "no_reason_in_store", None)


def test_without_a_reason_only_a_return_is_possible() -> None:
    assert verdict("AP-CASH-SW-01", 1, kind=ReturnKind.EXCHANGE) == (False, "no_reason_return_only", None)


@pytest.mark.parametrize(
    ("goods", "opened", "rule"),
    [
        ("JW-AU-CR-CUSTOM", False, "excluded_custom_made"),
        ("FD-MOON-6", False, "excluded_perishable"),
        ("WR-BDX-2019-750", False, "excluded_perishable"),
        ("DG-EBOOK-VIP", False, "excluded_digital_download"),
        (BLU_RAY, True, "excluded_opened_audio_video"),
        (SOFTWARE, True, "excluded_opened_audio_video"),
        (NEWSPAPER, False, "excluded_newspaper"),
    ],
)
def test_excluded_goods_have_no_no_reason_return(goods: str | ProductFacts, opened: bool, rule: str) -> None:
    # Given excluded goods bought online / When returned without reason on day 1 / Then refused, naming the exclusion
    assert verdict(goods, 1, opened=opened) == (False, rule, None)


def test_unopened_audio_video_may_be_returned_without_reason() -> None:
    assert verdict(BLU_RAY, 1, opened=False) == (True, "no_reason_return", Payer.CUSTOMER)


def test_the_product_class_comes_from_config_for_digital_downloads() -> None:
    assert product("DG-EBOOK-VIP").product_class is ProductClass.DIGITAL_DOWNLOAD
    assert product("AP-CASH-SW-01").product_class is ProductClass.GENERAL


# --- 三包 ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sku", ["TC-PH-P60", "HM-AIRFRY-5L"])
@pytest.mark.parametrize(
    ("kind", "day", "expected"),
    [
        (ReturnKind.RETURN, 7, (True, "sanbao_return", Payer.SELLER)),
        (ReturnKind.RETURN, 8, (False, "sanbao_return_period_over", None)),
        (ReturnKind.EXCHANGE, 8, (True, "sanbao_exchange", Payer.SELLER)),
        (ReturnKind.EXCHANGE, 15, (True, "sanbao_exchange", Payer.SELLER)),
        (ReturnKind.EXCHANGE, 16, (False, "sanbao_exchange_period_over", None)),
    ],
)
def test_sanbao_goods_return_within_7_days_and_exchange_within_15(
    sku: str, kind: ReturnKind, day: int, expected: tuple[bool, str, Payer | None]
) -> None:
    # Given 三包 goods (a phone, an air fryer) with a quality problem, bought in a store
    # When the customer asks for a return or exchange on day `day` / Then 三包 decides, the seller paying shipping
    ask = {"kind": kind, "reason": ReturnReason.QUALITY_PROBLEM, "sale": Sale.IN_STORE, "purchased_on": RECEIVED}
    assert verdict(sku, day, **ask) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 11, 1), (True, "sanbao_repair", Payer.SELLER)),  # 12 months later: the last day of warranty
        (date(2027, 11, 2), (False, "warranty_expired", None)),
    ],
)
def test_sanbao_repair_within_the_warranty(today: date, expected: tuple[bool, str, Payer | None]) -> None:
    # Given a phone (12-month warranty by config) received on 1 November 2026
    ask = form("TC-PH-P60", kind=ReturnKind.REPAIR, reason=ReturnReason.QUALITY_PROBLEM, sale=Sale.IN_STORE)
    # When a repair is asked for on `today` / Then it is free until 1 November 2027 inclusive
    result = assess(ask, product("TC-PH-P60"), POLICY, today)
    assert (result.eligible, result.rule, result.shipping_paid_by) == expected


def test_warranty_months_per_sku_come_from_config() -> None:
    # Given the TV (36 months by config) / When a repair is asked for 2 years later / Then still under warranty
    ask = {"kind": ReturnKind.REPAIR, "reason": ReturnReason.QUALITY_PROBLEM}
    assert verdict("TV-85-MINILED", 730, **ask)[:2] == (True, "sanbao_repair")
    # and goods off the 三包 list use the chain's default (12 months)
    assert verdict("KW-PAN-SET-3", 300, **ask)[:2] == (True, "chain_warranty_repair")
    assert verdict("KW-PAN-SET-3", 400, **ask)[:2] == (False, "warranty_expired")


def test_a_repair_needs_a_quality_problem() -> None:
    ask = {"kind": ReturnKind.REPAIR, "reason": ReturnReason.NO_REASON}
    assert verdict("TC-PH-P60", 3, **ask) == (False, "repair_needs_quality_problem", None)


def test_cars_follow_their_own_sanbao_periods() -> None:
    ask = {"kind": ReturnKind.RETURN, "reason": ReturnReason.QUALITY_PROBLEM, "sale": Sale.IN_STORE}
    assert verdict("AU-SUV-X5-2026", 60, **ask)[:2] == (True, "sanbao_return")
    assert verdict("AU-SUV-X5-2026", 61, **ask)[:2] == (False, "sanbao_return_period_over")


def test_month_arithmetic_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 1), 14) == date(2028, 1, 1)


# --- quality problems off the 三包 list, goods not as described --------------------------------------------------


@pytest.mark.parametrize(
    ("report", "day", "expected"),
    [
        (True, 10, (True, "quality_with_report", Payer.SELLER)),
        (False, 10, (False, "inspection_report_required", None)),
        (True, 30, (True, "quality_with_report", Payer.SELLER)),
        (True, 31, (False, "chain_policy_period_over", None)),
    ],
)
def test_a_quality_problem_off_the_sanbao_list_needs_an_inspection_report(
    report: bool, day: int, expected: tuple[bool, str, Payer | None]
) -> None:
    # Given a non-三包 pan set with a quality problem / When returned with or without a report on day `day`
    # Then the chain's policy (30 days by config) applies with a report, the seller paying the shipping
    ask = {"reason": ReturnReason.QUALITY_PROBLEM, "has_inspection_report": report, "sale": Sale.IN_STORE}
    assert verdict("KW-PAN-SET-3", day, **ask) == expected


def test_goods_not_as_described_may_be_returned_and_the_seller_pays_shipping() -> None:
    ask = {"reason": ReturnReason.NOT_AS_DESCRIBED, "sale": Sale.IN_STORE}
    assert verdict("JW-AG-BR-1102", 45, **ask) == (True, "not_as_described", Payer.SELLER)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("received_on", {"received_on": RECEIVED - timedelta(days=5)}),  # before the purchase
        ("received_on", {"received_on": on_day(3)}),  # after today (day 1)
        ("purchased_on", {"purchased_on": on_day(2), "received_on": on_day(2)}),
    ],
)
def test_dates_out_of_order_are_422_naming_the_field(field: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue) as error:
        verdict("AP-CASH-SW-01", 1, **overrides)
    assert error.value.field == field


# --- the flow --------------------------------------------------------------------------------------------------


def ctx(actor: Actor = MANAGER, at: datetime = NOW) -> EventContext:
    return EventContext(case_id=CASE, actor=actor, service="resolution", recorded_at=at, correlation_id=uuid4())


CASE = uuid4()


def requested(sku: str = "AP-CASH-SW-01", day: int = 2, **overrides: Any) -> ReturnRequest:
    """Given: a request recorded on day ``day`` (its events already stored)."""
    facts = product(sku)
    request = ReturnRequest.request(
        uuid4(), ctx(CUSTOMER), 1, form(sku, **overrides), facts, POLICY, on_day(day), Decimal("1280.00")
    )
    request.collect_events()
    return request


def at_step(step: str, **overrides: Any) -> ReturnRequest:
    """Given: a request taken through the flow up to ``step``."""
    request = requested(**overrides)
    reached = ["requested", "approved", "goods_received", "inspected"].index(step)
    if reached >= 1:
        request.review_request(ctx(), True, None)
    if reached >= 2:
        request.receive_goods(ctx(CLERK), "SF1234567890")
    if reached >= 3:
        request.inspect(ctx(CLERK), InspectionResult.PASSED, "tags on, unworn")
    request.collect_events()
    return request


def new_types(request: ReturnRequest) -> list[str]:
    return [type(e).__name__ for e in request.collect_events()]


def test_a_request_records_the_verdict_and_its_contract_carries_it() -> None:
    # Given nothing / When a customer asks for a no-reason return on day 2
    request = ReturnRequest.request(
        uuid4(), ctx(CUSTOMER), 1, form("AP-CASH-SW-01"), product("AP-CASH-SW-01"), POLICY, on_day(2), None
    )
    [event] = request.collect_events()
    # Then ReturnRequested carries the eligibility, and the case's envelope (so it joins the case timeline)
    assert event.envelope["case_id"] == str(CASE)
    message = to_message("resolution", 1, event)
    assert message is not None and message.type == "ReturnRequested"
    payload = message.payload
    assert (payload["request_id"], payload["kind"], payload["reason"]) == (str(request.id), "return", "no_reason")
    assert (payload["eligible"], payload["rule"], payload["shipping_paid_by"]) == (True, "no_reason_return", "customer")
    assert "refund_limit" not in payload
    assert request.state is ReturnState.REQUESTED


def test_a_return_runs_from_request_to_refund() -> None:
    request = requested()
    request.review_request(ctx(), True, None)
    request.receive_goods(ctx(CLERK), "SF1234567890")
    request.inspect(ctx(CLERK), InspectionResult.PASSED, "tags on, unworn", "ab" * 32)
    request.refund_return(ctx(CLERK, NOW + timedelta(days=2)), Decimal("1280.00"), "PAY-0001")
    events = request.collect_events()
    assert [type(e).__name__ for e in events] == [
        "ReturnReviewed",
        "ReturnGoodsReceived",
        "ReturnInspected",
        "ReturnRefunded",
    ]
    assert request.state is ReturnState.REFUNDED
    refunded = to_message("resolution", 9, events[-1])
    assert refunded is not None and refunded.payload["amount"] == "1280.00"
    contract = CONTRACTS["ReturnRefunded"].model_validate(refunded.payload)
    assert contract.amount == Decimal("1280.00")  # type: ignore[attr-defined]


def test_an_exchange_ships_and_a_repair_completes() -> None:
    exchange = at_step("inspected", kind=ReturnKind.EXCHANGE, reason=ReturnReason.NOT_AS_DESCRIBED)
    exchange.ship_exchange(ctx(CLERK), "SF999")
    assert new_types(exchange) == ["ExchangeShipped"] and exchange.state is ReturnState.EXCHANGED
    repair = at_step("inspected", sku="TC-PH-P60", kind=ReturnKind.REPAIR, reason=ReturnReason.QUALITY_PROBLEM)
    repair.complete_repair(ctx(CLERK), "screen replaced")
    assert new_types(repair) == ["RepairCompleted"] and repair.state is ReturnState.REPAIRED


@pytest.mark.parametrize(
    ("step", "command"),
    [
        ("requested", lambda r: r.refund_return(ctx(CLERK), Decimal("10.00"), "PAY-1")),  # refund before receipt
        ("requested", lambda r: r.receive_goods(ctx(CLERK), "SF1")),  # goods before approval
        ("approved", lambda r: r.review_request(ctx(), False, "changed my mind")),  # double review
        ("approved", lambda r: r.refund_return(ctx(CLERK), Decimal("10.00"), "PAY-1")),  # refund before receipt
        ("approved", lambda r: r.inspect(ctx(CLERK), InspectionResult.PASSED, "ok")),  # inspect before receipt
        ("goods_received", lambda r: r.refund_return(ctx(CLERK), Decimal("10.00"), "PAY-1")),  # before inspection
        ("inspected", lambda r: r.ship_exchange(ctx(CLERK), "SF2")),  # a return is not an exchange
        ("inspected", lambda r: r.complete_repair(ctx(CLERK), "fixed")),  # nor a repair
    ],
)
def test_steps_out_of_order_are_409_and_record_nothing(step: str, command: Any) -> None:
    request = requested() if step == "requested" else at_step(step)
    with pytest.raises(InvalidTransition):
        command(request)
    assert request.collect_events() == []


def test_a_refused_request_ends_there_and_a_failed_inspection_ends_it_too() -> None:
    refused = requested()
    refused.review_request(ctx(CLERK), False, "worn, tags removed")
    assert refused.state is ReturnState.REFUSED
    with pytest.raises(InvalidTransition):
        refused.receive_goods(ctx(CLERK), "SF1")
    failed = at_step("goods_received")
    failed.inspect(ctx(CLERK), InspectionResult.FAILED, "worn")
    with pytest.raises(InvalidTransition):
        failed.refund_return(ctx(CLERK), Decimal("1.00"), "PAY-1")
    assert failed.state is ReturnState.INSPECTION_FAILED


def test_approving_needs_a_manager_and_refusing_needs_a_reason() -> None:
    request = requested()
    with pytest.raises(Forbidden):
        request.review_request(ctx(CLERK), True, None)
    with pytest.raises(Forbidden):
        request.review_request(ctx(CUSTOMER), False, "no")
    with pytest.raises(InvalidValue) as error:
        request.review_request(ctx(), False, "  ")
    assert error.value.field == "reason"
    assert request.collect_events() == []


def test_approving_against_the_rule_is_an_override_with_a_reason() -> None:
    # Given a request the rules refused (day 8 of a no-reason return)
    request = requested(day=8)
    assert not request.eligibility.eligible and request.eligibility.rule == "no_reason_period_over"
    # When a manager approves it without a reason / Then 422; with one / Then it is approved as an override
    with pytest.raises(InvalidValue):
        request.review_request(ctx(), True, None)
    request.review_request(ctx(), True, "VIP customer, goodwill")
    [event] = request.collect_events()
    assert (event.approved, event.override) == (True, True)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("amount", "reference"),
    [(Decimal("1280.01"), "PAY-1"), (Decimal("0"), "PAY-1"), (Decimal("1.005"), "PAY-1"), (12.5, "PAY-1"),
     (Decimal("10.00"), " ")],
)  # fmt: skip
def test_a_bad_refund_is_422_and_records_nothing(amount: Any, reference: str) -> None:
    request = at_step("inspected")
    with pytest.raises(InvalidValue):
        request.refund_return(ctx(CLERK), amount, reference)
    assert request.collect_events() == [] and request.state is ReturnState.INSPECTED


def test_goods_received_in_the_future_or_without_a_zone_are_422() -> None:
    request = at_step("approved")
    with pytest.raises(InvalidValue):
        request.receive_goods(ctx(CLERK), "SF1", NOW + timedelta(hours=1))
    with pytest.raises(InvalidValue):
        request.receive_goods(ctx(CLERK), "SF1", datetime(2026, 11, 3, 1, 0))
    with pytest.raises(InvalidValue):
        request.inspect(ctx(CLERK), InspectionResult.PASSED, "ok", "not-a-hash")
    assert request.collect_events() == []
