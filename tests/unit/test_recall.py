"""Recalls, pure, on the shipped config/recall.yaml: Given the complaints a product's watch has seen / When another
is triaged / Then the alert raised, linked or not; campaign scope and joining; notice transitions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.resolution.domain.recall import (
    Announcement,
    CampaignPlan,
    ContactChannel,
    LinkToAlert,
    NoticeStatus,
    ProductWatch,
    RaiseAlert,
    RecallAlert,
    RecallCampaign,
    RecallNotice,
    RecallRemedy,
    RecallRules,
    alert_id_for,
    notice_id_for,
)
from shared.configfiles import load_config
from shared.errors import InvalidTransition, InvalidValue
from shared.settings import REPO_ROOT
from shared.vocabulary import Category, Severity
from tests.unit.helpers import NOW, context

RULES = load_config(REPO_ROOT / "config" / "recall.yaml", RecallRules)
D = timedelta(days=1)
US = timedelta(microseconds=1)
QUALITY, SAFETY, PRICE = Category.PRODUCT_QUALITY, Category.SAFETY, Category.PRICE
GENERAL, CRITICAL = Severity.GENERAL, Severity.CRITICAL


def watch(*seen: tuple[datetime, Category] | datetime) -> tuple[ProductWatch, list[Any]]:
    """A watch of SKU-1/B1 that has seen complaints received at these instants; and the decisions made."""
    w = ProductWatch.start(context(service="resolution"), "SKU-1", "B1")
    decisions = [observe(w, *(s if isinstance(s, tuple) else (s, QUALITY))) for s in seen]
    return w, decisions


def observe(w: ProductWatch, at: datetime, category: Category = QUALITY, severity: Severity = GENERAL,
            case_id: UUID | None = None) -> Any:  # fmt: skip
    return w.observe(context(case_id, service="resolution", at=at), case_id or uuid4(), at, category, severity, RULES)


# --- the cluster signal -----------------------------------------------------------------------------------------


def test_the_shipped_rule_is_three_quality_or_safety_complaints_within_seven_days() -> None:
    assert (RULES.cluster.threshold, RULES.cluster.window) == (3, timedelta(days=7))
    assert set(RULES.cluster.categories) == {QUALITY, SAFETY}


def test_two_complaints_raise_nothing_and_the_third_raises_the_alert_with_all_three() -> None:
    # Given two quality complaints about one batch
    w, decisions = watch(NOW, NOW + D)
    assert decisions == [None, None]
    # When a third, a safety one, arrives within the week
    third = uuid4()
    decision = observe(w, NOW + 2 * D, SAFETY, case_id=third)
    # Then one alert for the cluster, starting at the first receipt, with the three cases
    assert isinstance(decision, RaiseAlert) and decision.reason == "cluster"
    assert decision.window_start == NOW and decision.window_end == NOW + 2 * D
    assert len(decision.case_ids) == 3 and decision.case_ids[-1] == third
    assert decision.alert_id == alert_id_for("SKU-1", "B1", NOW)


def test_exactly_seven_days_apart_is_within_the_window() -> None:
    _, decisions = watch(NOW, NOW + 3 * D, NOW + 7 * D)
    assert isinstance(decisions[-1], RaiseAlert)


def test_seven_days_and_one_microsecond_apart_is_outside_the_window() -> None:
    _, decisions = watch(NOW, NOW + 3 * D, NOW + 7 * D + US)
    assert decisions == [None, None, None]


def test_a_late_arriving_complaint_completes_a_cluster_around_it() -> None:
    # Given complaints received on days 0 and 7 (triaged in that order)
    w, _ = watch(NOW, NOW + 7 * D)
    # When one received on day 3 is triaged last
    decision = observe(w, NOW + 3 * D)
    # Then the three make a cluster
    assert isinstance(decision, RaiseAlert) and decision.window_start == NOW


def test_other_categories_do_not_count() -> None:
    _, decisions = watch((NOW, PRICE), (NOW + D, PRICE), (NOW + 2 * D, QUALITY), (NOW + 3 * D, QUALITY))
    assert decisions == [None, None, None, None]


def test_a_further_complaint_on_an_alerted_cluster_links_to_it_instead_of_a_second_alert() -> None:
    w, decisions = watch(NOW, NOW + D, NOW + 2 * D)
    alert = decisions[-1]
    # When a fourth and a fifth arrive while the cluster goes on (within a week of its latest member)
    fourth = observe(w, NOW + 3 * D)
    fifth = observe(w, NOW + 9 * D)
    # Then they link to the one alert
    assert fourth == LinkToAlert(alert.alert_id) and fifth == LinkToAlert(alert.alert_id)


def test_after_the_cluster_went_quiet_a_new_cluster_needs_three_new_complaints() -> None:
    w, decisions = watch(NOW, NOW + D, NOW + 2 * D)
    later = NOW + 2 * D + 7 * D + US  # more than a week after the cluster's latest member
    assert observe(w, later) is None
    assert observe(w, later + D) is None
    second = observe(w, later + 2 * D)
    assert isinstance(second, RaiseAlert) and second.alert_id != decisions[-1].alert_id
    assert second.window_start == later and len(second.case_ids) == 3


def test_a_complaint_seen_before_is_ignored() -> None:
    case = uuid4()
    w, _ = watch(NOW, NOW + D)
    assert isinstance(observe(w, NOW + 2 * D, case_id=case), RaiseAlert)
    version = w.version
    assert observe(w, NOW + 2 * D, case_id=case) is None and w.version == version


def test_one_critical_safety_complaint_raises_an_alert_on_its_own() -> None:
    w, _ = watch()
    case = uuid4()
    decision = observe(w, NOW, SAFETY, CRITICAL, case_id=case)
    assert isinstance(decision, RaiseAlert) and decision.reason == "critical_incident"
    assert decision.case_ids == [case]
    # A critical quality complaint is not a safety incident
    other, _ = watch()
    assert observe(other, NOW, QUALITY, CRITICAL) is None


def test_the_alert_is_raised_with_its_cluster_and_links_further_cases_once() -> None:
    w, decisions = watch(NOW, NOW + D, NOW + 2 * D)
    ctx = context(decisions[-1].case_ids[-1], service="resolution", at=NOW + 2 * D)
    alert = RecallAlert.raise_alert(ctx, "SKU-1", "B1", decisions[-1], RULES)
    assert alert.id == decisions[-1].alert_id and alert.team == "quality"
    [raised] = alert.collect_events()
    assert type(raised).__name__ == "RecallAlertRaised" and raised.case_ids == decisions[-1].case_ids
    later = context(service="resolution", at=NOW + 3 * D)
    assert alert.link(later) is True
    assert alert.link(later) is False
    assert [type(e).__name__ for e in alert.collect_events()] == ["RecallAlertCaseLinked"]
    assert later.case_id in alert.case_ids


# --- campaigns --------------------------------------------------------------------------------------------------


def plan(**overrides: Any) -> CampaignPlan:
    values: dict[str, Any] = {
        "title": "电热水壶召回",
        "sku": "SKU-1",
        "batches": ["B1", "B2"],
        "sold_from": date(2026, 9, 1),
        "sold_to": date(2026, 10, 31),
        "hazard": "底座过热，可能起火",
        "remedy": RecallRemedy.REPLACE,
        "announcement": Announcement(zh="召回公告", en="Recall notice"),
    }
    values.update(overrides)
    return CampaignPlan(**values)


def campaign(launched: bool = True, **overrides: Any) -> RecallCampaign:
    c = RecallCampaign.plan_campaign(uuid4(), context(service="resolution"), plan(**overrides))
    if launched:
        c.launch(context(service="resolution"))
    c.collect_events()
    return c


@pytest.mark.parametrize(
    ("sku", "batch", "sold_on", "covered"),
    [
        ("SKU-1", "B1", None, True),
        ("SKU-1", "B2", date(2026, 9, 1), True),
        ("SKU-1", "B2", date(2026, 10, 31), True),
        ("SKU-1", "B3", None, False),
        ("SKU-2", "B1", None, False),
        ("SKU-1", None, None, False),
        ("SKU-1", "B1", date(2026, 8, 31), False),
        ("SKU-1", "B1", date(2026, 11, 1), False),
    ],
)
def test_campaign_scope_is_sku_batches_and_sale_dates(sku: str, batch: str | None, sold_on: date | None,
                                                      covered: bool) -> None:  # fmt: skip
    assert plan().covers(sku, batch, sold_on) is covered


def test_a_campaign_without_batches_covers_every_batch_of_its_sku() -> None:
    assert plan(batches=[]).covers("SKU-1", "ANY", None) and plan(batches=[]).covers("SKU-1", None, None)


def test_a_plan_with_sale_dates_reversed_is_refused() -> None:
    with pytest.raises(InvalidValue) as error:
        RecallCampaign.plan_campaign(uuid4(), context(), plan(sold_from=date(2026, 11, 1), sold_to=date(2026, 10, 1)))
    assert error.value.field == "sold_to"


def test_launching_twice_is_a_conflict() -> None:
    c = campaign()
    with pytest.raises(InvalidTransition):
        c.launch(context(service="resolution"))


def test_an_in_scope_complaint_joins_the_active_campaign_once() -> None:
    c = campaign()
    ctx = context(service="resolution")
    assert c.join(ctx, "SKU-1", "B2") is True
    assert c.join(ctx, "SKU-1", "B2") is False
    assert c.join(context(service="resolution"), "SKU-1", "B9") is False
    assert [type(e).__name__ for e in c.collect_events()] == ["CaseJoinedCampaign"]
    assert c.joined_cases == [ctx.case_id]


def test_a_planned_or_closed_campaign_takes_no_cases() -> None:
    planned = campaign(launched=False)
    with pytest.raises(InvalidTransition):
        planned.join(context(), "SKU-1", "B1")
    with pytest.raises(InvalidTransition):
        planned.must_take_customers()
    closed = campaign()
    closed.close(context(), "all remedied")
    with pytest.raises(InvalidTransition):
        closed.join(context(), "SKU-1", "B1")


# --- notices ----------------------------------------------------------------------------------------------------


def notice() -> RecallNotice:
    campaign_id = uuid4()
    ctx = context(notice_id_for(campaign_id, "O-1", "SKU-1", "B1"), service="resolution")
    n = RecallNotice.issue(ctx, campaign_id, uuid4(), "O-1", "SKU-1", "B1", date(2026, 9, 3), RecallRemedy.REPAIR,
                           "zh", ["phone"], "enc:v1:k:AAAA")  # fmt: skip
    n.collect_events()
    return n


def test_the_notice_id_is_derived_from_the_campaign_and_the_order_line() -> None:
    campaign_id = uuid4()
    assert notice_id_for(campaign_id, "O-1", "SKU-1", "B1") == notice_id_for(campaign_id, "O-1", "SKU-1", "B1")
    assert notice_id_for(campaign_id, "O-1", "SKU-1", "B1") != notice_id_for(uuid4(), "O-1", "SKU-1", "B1")


def test_a_notice_goes_contacted_responded_remedied() -> None:
    n = notice()
    n.contacted(context(), ContactChannel.PHONE, "客户电话13812345678已接通")
    n.responded(context())
    n.remedied(context())
    events = n.collect_events()
    assert [type(e).__name__ for e in events] == [
        "RecallNoticeContacted", "RecallNoticeResponded", "RecallNoticeRemedied",
    ]  # fmt: skip
    assert "13812345678" not in events[0].note  # a number typed into a note is masked
    assert events[-1].remedy == "repair" and n.status is NoticeStatus.REMEDIED


def test_an_unreachable_customer_can_still_be_contacted_later() -> None:
    n = notice()
    n.unreachable(context(), "three calls, no answer")
    n.contacted(context(), ContactChannel.LETTER)
    assert n.status is NoticeStatus.CONTACTED


@pytest.mark.parametrize(
    ("steps", "then"),
    [
        ([], "responded"),
        ([], "remedied"),
        (["contacted", "responded", "remedied"], "contacted"),
        (["contacted", "responded", "remedied"], "unreachable"),
        (["contacted", "responded"], "unreachable"),
        (["unreachable"], "unreachable"),
    ],
)
def test_a_move_its_status_does_not_allow_is_a_conflict(steps: list[str], then: str) -> None:
    n = notice()
    moves = {
        "contacted": lambda: n.contacted(context(), ContactChannel.SMS),
        "responded": lambda: n.responded(context()),
        "remedied": lambda: n.remedied(context()),
        "unreachable": lambda: n.unreachable(context()),
    }
    for step in steps:
        moves[step]()
    with pytest.raises(InvalidTransition):
        moves[then]()
