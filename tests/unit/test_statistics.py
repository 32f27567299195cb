"""The pure parts of feedback's statistics, warnings and work queues: folding, aggregation, the warning rule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from services.feedback.projections.facts import evolve_case, stamp
from services.feedback.projections.queues import clock_due, nearest_due
from services.feedback.projections.statistics import (
    csat,
    durations,
    group_key,
    grouped,
    percentile,
    period_of,
    rate,
    summarize,
    timeliness,
)
from services.feedback.projections.warnings import WarningPolicy, expected, is_warning, warnings_at
from shared.contracts import EventMessage
from shared.errors import InvalidValue
from tests.unit.helpers import message

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
POLICY = WarningPolicy(
    window=timedelta(days=7), baseline=timedelta(days=28), factor=Decimal("2.0"), minimum=3,
    dimensions=["category", "sku", "store"],
)


def at(message_: EventMessage, when: datetime, case_id: UUID) -> EventMessage:
    envelope = message_.envelope.model_copy(update={"recorded_at": when, "occurred_at": when, "case_id": case_id})
    return message_.model_copy(update={"envelope": envelope})


# --- percentiles, rates, CSAT, timeliness -------------------------------------------------------------------------


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 50) == 25.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 90) == pytest.approx(37.0)
    assert percentile(reversed(values), 95) == pytest.approx(38.5)


def test_percentile_of_one_value_and_of_none() -> None:
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_durations_give_p50_p90_p95_in_seconds() -> None:
    figures = durations([float(s) for s in range(1, 101)])
    assert figures == {"count": 100, "p50_seconds": 50.5, "p90_seconds": 90.1, "p95_seconds": 95.05}
    assert durations([]) == {"count": 0, "p50_seconds": None, "p90_seconds": None, "p95_seconds": None}


def test_rate_is_none_without_a_whole() -> None:
    assert rate(1, 3) == 0.3333
    assert rate(0, 5) == 0.0
    assert rate(0, 0) is None


def test_csat_average_and_distribution_of_every_score() -> None:
    assert csat([5, 4, 4, 1]) == {
        "answers": 4,
        "average": 3.5,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1},
    }
    assert csat([])["average"] is None
    assert csat([])["distribution"] == {str(s): 0 for s in range(1, 6)}


def test_timeliness_is_the_share_met_per_clock_and_overall() -> None:
    stops = [
        {"clock": "acknowledge", "met": 1},
        {"clock": "acknowledge", "met": 0},
        {"clock": "acknowledge", "met": 1},
        {"clock": "resolve", "met": 1},
    ]
    result = timeliness(stops)
    assert result["acknowledge"] == {"stopped": 3, "met": 2, "share": 0.6667}
    assert result["resolve"] == {"stopped": 1, "met": 1, "share": 1.0}
    assert result["all"] == {"stopped": 4, "met": 3, "share": 0.75}
    assert timeliness([])["all"]["share"] is None


# --- periods and grouping ------------------------------------------------------------------------------------------


def test_periods_are_in_the_chains_zone() -> None:
    # 17:30 UTC on 30 November is 01:30 on 1 December in Shanghai.
    late = stamp(datetime(2026, 11, 30, 17, 30, tzinfo=UTC))
    assert period_of(late, "day", SHANGHAI) == "2026-12-01"
    assert period_of(late, "month", SHANGHAI) == "2026-12"
    assert period_of(late, "week", SHANGHAI) == "2026-W49"
    # Monday 30 November starts week 49 at midnight in Shanghai: 16:00 UTC on Sunday.
    assert period_of(stamp(datetime(2026, 11, 29, 15, 59, tzinfo=UTC)), "week", SHANGHAI) == "2026-W48"
    assert period_of(stamp(datetime(2026, 11, 29, 16, 0, tzinfo=UTC)), "week", SHANGHAI) == "2026-W49"
    with pytest.raises(InvalidValue) as error:
        period_of(late, "year", SHANGHAI)
    assert error.value.allowed == ["day", "week", "month"]


def _case(case_id: str, **values: Any) -> dict[str, Any]:
    row = {
        "case_id": case_id,
        "received_at": stamp(T0),
        "channel": "phone",
        "store_id": "SH-001",
        "region": "east",
        "category": "product_quality",
        "subcategory": None,
        "severity": "general",
        "sku": None,
        "acknowledged_at": None,
        "resolved_at": None,
        "repeated": 0,
        "reopened": 0,
    }
    return {**row, **values}


def test_summarize_counts_rates_and_durations() -> None:
    cases = [
        _case("a", acknowledged_at=stamp(T0 + timedelta(hours=1)), resolved_at=stamp(T0 + timedelta(days=2))),
        _case("b", channel="web", category="price", subcategory="billing", repeated=1,
              acknowledged_at=stamp(T0 + timedelta(hours=3))),
        _case("c", category=None, resolved_at=stamp(T0 + timedelta(days=1)), reopened=1),
    ]
    surveys = [{"case_id": "a", "score": 5}, {"case_id": "c", "score": 2}]
    stops = [{"case_id": "a", "clock": "acknowledge", "met": 1}, {"case_id": "b", "clock": "acknowledge", "met": 0}]
    result = summarize(cases, stops, surveys, "day", SHANGHAI)
    assert result["cases"] == 3
    assert result["counts"]["category"] == {"price": 1, "product_quality": 1, "unknown": 1}
    assert result["counts"]["subcategory"] == {"price/billing": 1}
    assert result["counts"]["channel"] == {"phone": 2, "web": 1}
    assert result["counts"]["period"] == {"2026-11-20": 3}
    assert result["time_to_acknowledge"] == {"count": 2, "p50_seconds": 7200.0, "p90_seconds": 10080.0,
                                             "p95_seconds": 10440.0}
    assert result["time_to_resolve"]["p50_seconds"] == 1.5 * 86400
    assert result["csat"]["average"] == 3.5
    assert result["repeat"] == {"cases": 1, "rate": 0.3333}
    assert result["reopen"] == {"cases": 1, "resolved": 2, "rate": 0.5}
    assert result["timeliness"]["acknowledge"]["share"] == 0.5


def test_grouped_rows_carry_each_groups_own_figures() -> None:
    cases = [_case("a"), _case("b", store_id="SH-011"), _case("c", store_id="SH-011", repeated=1)]
    surveys = [{"case_id": "a", "score": 4}, {"case_id": "b", "score": 2}, {"case_id": "c", "score": 3}]
    rows = grouped(cases, [], surveys, "store", "month", SHANGHAI)
    assert [(r["store"], r["cases"], r["csat_average"], r["repeat_rate"]) for r in rows] == [
        ("SH-001", 1, 4.0, 0.0),
        ("SH-011", 2, 2.5, 0.5),
    ]
    with pytest.raises(InvalidValue):
        group_key("colour", "month", SHANGHAI)


# --- folding is order-independent ----------------------------------------------------------------------------------


def _case_events(case_id: UUID) -> list[EventMessage]:
    received = {"case_number": "C-20261120-0001", "channel": "phone", "store_id": "SH-001",
                "customer_id": str(uuid4()), "description": "ring scratched", "sku": "HY-RING-001"}
    ack = {"name": "acknowledge", "started_at": T0.isoformat(), "duration": "P1D", "stopped_at": None}
    return [
        at(message("ComplaintReceived", "intake", received), T0, case_id),
        at(message("ComplaintTriaged", "routing", {"category": "product_quality", "subcategory": "defect",
                                                   "severity": "general"}), T0 + timedelta(minutes=1), case_id),
        at(message("CategoryOverridden", "routing", {"category": "service", "subcategory": None,
                                                     "previous_category": "product_quality", "reason": "staff"}),
           T0 + timedelta(hours=2), case_id),
        at(message("ClockStopped", "routing", {"clock": {**ack, "stopped_at": (T0 + timedelta(hours=1)).isoformat()},
                                               "reason": "acknowledged", "met": True}),
           T0 + timedelta(hours=1), case_id),
        at(message("CaseResolved", "resolution", {"summary": "refunded"}), T0 + timedelta(days=1), case_id),
        at(message("CaseReopened", "feedback", {"by": "survey", "reason": "score 2"}), T0 + timedelta(days=2),
           case_id),
        at(message("CaseResolved", "resolution", {"summary": "replaced"}), T0 + timedelta(days=3), case_id),
        at(message("RepeatComplaintLinked", "intake", {"earlier_case_id": str(uuid4())}), T0, case_id),
    ]


def test_fold_case_gives_the_same_facts_in_every_order() -> None:
    events = _case_events(uuid4())
    docs = set()
    for order in itertools.islice(itertools.permutations(events), 0, None, 97):
        doc = None
        for event in order:
            doc = evolve_case(doc, event)
        docs.add(repr(sorted(doc.items())))
    assert len(docs) == 1
    doc = None
    for event in events:
        doc = evolve_case(doc, event)
    assert doc["category"] == "service"  # the later override wins over the triage
    assert doc["sku"] == "HY-RING-001"
    assert doc["acknowledged_at"] == stamp(T0 + timedelta(hours=1))
    assert doc["resolved_at"] == stamp(T0 + timedelta(days=3))  # the last resolution
    assert doc["reopened"] is True
    assert "repeat" in doc["flags"]


# --- the warning rule ----------------------------------------------------------------------------------------------


def test_exactly_factor_times_baseline_is_no_warning_above_it_is() -> None:
    # Baseline 8 in 28 days is 2 per 7-day window; × 2.0 = 4.
    assert expected(8, timedelta(days=7), timedelta(days=28)) == 2
    assert not is_warning(4, 8, POLICY)
    assert is_warning(5, 8, POLICY)


def test_the_minimum_count_holds_even_without_a_baseline() -> None:
    assert not is_warning(2, 0, POLICY)
    assert is_warning(3, 0, POLICY)
    assert not is_warning(0, 0, POLICY)


def test_a_fractional_threshold_is_compared_exactly() -> None:
    # Baseline 3 in 28 days is 0.75 per window; × 2.0 = 1.5 — but the minimum is 3.
    assert not is_warning(2, 3, POLICY)
    policy = POLICY.model_copy(update={"minimum": 1, "factor": Decimal("4")})
    assert not is_warning(3, 3, policy)  # 4 × 0.75 = 3 exactly
    assert is_warning(4, 3, policy)


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        WarningPolicy(window="PT0S", baseline="P28D", factor=2, minimum=3, dimensions=["sku"])
    with pytest.raises(ValueError):
        WarningPolicy(window="P7D", baseline="P28D", factor=2, minimum=0, dimensions=["sku"])
    with pytest.raises(ValueError):
        WarningPolicy(window="P7D", baseline="P28D", factor=2, minimum=3, dimensions=["colour"])


def test_warnings_at_uses_the_window_and_the_baseline_before_it() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)

    def row(case_id: str, when: datetime, sku: str | None = "HY-RING-001") -> dict[str, Any]:
        return {"case_id": case_id, "received_at": stamp(when), "category": "product_quality", "sku": sku,
                "store_id": "SH-001"}

    rows = [
        row("w1", now),  # the window's end is inside it
        row("w2", now - timedelta(days=1)),
        row("w3", now - timedelta(days=6, hours=23)),
        row("edge", now - timedelta(days=7)),  # the window's start belongs to the baseline
        row("b1", now - timedelta(days=20)),
        row("old", now - timedelta(days=36)),  # before the baseline: ignored
        row("late", now + timedelta(seconds=1)),  # after ``at``: ignored
        row("nosku", now, sku=None),
    ]
    found = warnings_at(rows, now, POLICY)
    sku = next(w for w in found if w["dimension"] == "sku")
    assert sku["count"] == 3 and sku["baseline_count"] == 2 and sku["baseline"] == 0.5 and sku["threshold"] == 1.0
    assert sku["case_ids"] == ["w1", "w2", "w3"]
    assert [w["dimension"] for w in found] == ["category", "sku", "store"]
    store = next(w for w in found if w["dimension"] == "store")
    assert store["count"] == 4  # the case without a SKU still counts for its store
    # Six in the baseline would make the threshold 3: three is then no warning.
    more = rows + [row(f"b{i}", now - timedelta(days=10 + i), sku="HY-RING-001") for i in range(2, 6)]
    assert not [w for w in warnings_at(more, now, POLICY) if w["dimension"] == "sku"]


# --- clocks and due instants ---------------------------------------------------------------------------------------


def _clock(name: str, **values: Any) -> dict[str, Any]:
    base = {"name": name, "mode": "wall", "started_at": "2026-11-20T02:00:00Z", "duration": "P1D", "deadline": None,
            "used": "PT0S", "running_since": "2026-11-20T02:00:00Z", "paused_since": None, "paused_total": "PT0S",
            "stopped_at": None}
    return {**base, **values}


def test_clock_due_from_duration_pauses_deadline_or_due_at() -> None:
    assert clock_due(_clock("acknowledge")) == datetime(2026, 11, 21, 2, tzinfo=UTC)
    assert clock_due(_clock("resolve", duration="P7D", paused_total="PT5H")) == datetime(2026, 11, 27, 7, tzinfo=UTC)
    assert clock_due(_clock("regulator", duration=None, deadline="2026-11-30T00:00:00Z")) == datetime(
        2026, 11, 30, tzinfo=UTC)
    assert clock_due(_clock("resolve", due_at="2026-11-23T09:00:00+08:00")) == datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert clock_due(_clock("resolve", paused_since="2026-11-21T00:00:00Z")) is None
    assert clock_due(_clock("resolve", stopped_at="2026-11-21T00:00:00Z")) is None
    assert clock_due({**_clock("resolve"), "state": "paused"}) is None  # a clock's latest state in the case's facts


def test_latest_clock_state_wins_whatever_the_order_and_stop_wins_a_tie() -> None:
    case_id = uuid4()
    started = at(message("ClockStarted", "routing", {"clock": _clock("resolve"), "reason": "received"}), T0, case_id)
    stopped = at(message("ClockStopped", "routing", {"clock": _clock("resolve", stopped_at=T0.isoformat()),
                                                     "reason": "resolved", "met": True}), T0, case_id)
    forward = evolve_case(evolve_case(None, started), stopped)["clocks"]
    backward = evolve_case(evolve_case(None, stopped), started)["clocks"]
    assert forward == backward and forward["resolve"]["state"] == "stopped"
    acknowledge = at(message("ClockStarted", "routing", {"clock": _clock("acknowledge"), "reason": "received"}), T0,
                     case_id)  # fmt: skip
    clocks = {**forward, **evolve_case(None, acknowledge)["clocks"]}
    assert nearest_due(clocks) == ("acknowledge", stamp(datetime(2026, 11, 21, 2, tzinfo=UTC)))
    assert nearest_due(forward) == (None, None)
