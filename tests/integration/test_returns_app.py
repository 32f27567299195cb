"""Returns in the resolution service on SQLite and on PostgreSQL: a case's facts arrive from intake, then a request
runs to its refund; day counting in the chain's zone; idempotency, numbering and refusals that store nothing. Time
moves only by a ManualClock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.resolution.application import ResolutionService
from services.resolution.domain.returns import InspectionResult, ReturnKind, ReturnReason, ReturnState, Sale
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.errors import InvalidTransition, InvalidValue, NotFound
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import event_types
from tests.unit.helpers import message

CUSTOMER = Actor(id="customer", role=Role.CUSTOMER)
MANAGER = Actor(id="EC-001-M1", role=Role.CS_MANAGER, store="EC-001")
CLERK = Actor(id="EC-001-F1", role=Role.FRONTLINE, store="EC-001")
RECEIVED_ON = date(2026, 11, 20)  # NOW (2026-11-25 10:00 in Shanghai) is day 5


@pytest.fixture
def resolution(make_settings: Callable[..., Settings], clock: ManualClock) -> Iterator[ResolutionService]:
    app = ResolutionService(make_settings(), clock)
    yield app
    app.close()


def received(app: ResolutionService, store_id: str = "EC-001", sku: str | None = "AP-CASH-SW-01",
             nid: int = 1) -> UUID:  # fmt: skip
    """Intake's ComplaintReceived reaches resolution, which keeps the case's facts."""
    payload: dict[str, Any] = {
        "case_number": f"CMP-20261125-{nid:06d}",
        "channel": "app",
        "store_id": store_id,
        "customer_id": str(uuid4()),
        "description": "羊绒毛衣不合适，想退货",
        "order_id": "EC-ORDER-778",
        "sku": sku,
        "amount_paid": "1280.00",
    }
    case_id = uuid4()
    assert app.handle(message("ComplaintReceived", "intake", payload, case_id=case_id, nid=nid))
    return case_id


def no_reason(app: ResolutionService, case_id: UUID, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "kind": ReturnKind.RETURN,
        "reason": ReturnReason.NO_REASON,
        "purchased_on": RECEIVED_ON - timedelta(days=2),
        "received_on": RECEIVED_ON,
    }
    return app.request_return(case_id, CUSTOMER, **{**values, **overrides})


def test_a_no_reason_return_runs_from_request_to_refund(resolution: ResolutionService, clock: ManualClock) -> None:
    # Given a complaint about a sweater bought from the online hub
    case_id = received(resolution)
    # When the customer asks to return it on day 5 (the sale defaults to distance, the product to the case's)
    request = no_reason(resolution, case_id)
    assert (request.sale, request.sku, request.number) == (Sale.DISTANCE, "AP-CASH-SW-01", 1)
    assert (request.eligibility.eligible, request.eligibility.rule) == (True, "no_reason_return")
    # And staff review, receive, inspect and refund it, time moving on
    clock.advance(timedelta(hours=3))
    resolution.review_return(request.id, MANAGER, True)
    clock.advance(timedelta(days=2))
    arrived = clock.now() - timedelta(hours=1)  # recorded an hour after the parcel came in
    resolution.receive_return_goods(request.id, CLERK, "SF1234567890", arrived)
    clock.advance(timedelta(hours=5))
    resolution.inspect_return(request.id, CLERK, InspectionResult.PASSED, "完好，吊牌齐全", "0f" * 32)
    clock.advance(timedelta(days=1))
    done = resolution.refund_return(request.id, CLERK, Decimal("1280.00"), "PAY-20261128-01")
    # Then the request is refunded, stored and listed under its case
    assert done.state is ReturnState.REFUNDED
    again = resolution.get_return(request.id)
    assert again.state is ReturnState.REFUNDED and again.refund is not None
    assert again.refund["amount"] == Decimal("1280.00")
    assert again.goods is not None and again.goods["received_at"] == arrived
    assert [r.id for r in resolution.returns_of_case(case_id)] == [request.id]
    # And every event is published with the case's envelope, for the timeline and routing's clocks
    types = ["ReturnRequested", "ReturnReviewed", "ReturnGoodsReceived", "ReturnInspected", "ReturnRefunded"]
    assert event_types(resolution)[-5:] == types
    published = [m for _, m in resolution.messages(resolution.recorder.select_notifications(start=1, limit=100)) if m]
    returns = [m for m in published if m.type in types]
    assert [m.type for m in returns] == types
    assert {m.envelope.case_id for m in returns} == {case_id}
    assert {m.payload["request_id"] for m in returns} == {str(request.id)}
    # The goods' arrival is both in the payload and the envelope's occurred_at (the refund clock's start)
    assert datetime.fromisoformat(returns[2].payload["received_at"]) == arrived == returns[2].envelope.occurred_at
    assert returns[2].envelope.recorded_at == arrived + timedelta(hours=1)
    assert returns[-1].payload["amount"] == "1280.00"


def test_days_are_counted_in_the_chains_zone(resolution: ResolutionService, clock: ManualClock) -> None:
    # Given goods received on 20 November; day 7 ends at midnight in Shanghai (16:00 UTC on 27 November)
    case_id = received(resolution)
    clock.advance(datetime(2026, 11, 27, 15, 59, tzinfo=UTC) - clock.now())
    # When the customer asks at 23:59 Shanghai time on day 7 / Then in time
    assert no_reason(resolution, case_id).eligibility.eligible
    # When another asks a minute later, already day 8 in Shanghai though still 27 November in UTC / Then late
    clock.advance(timedelta(minutes=1))
    late = no_reason(resolution, case_id)
    assert (late.eligibility.eligible, late.eligibility.rule, late.number) == (False, "no_reason_period_over", 2)


def test_an_idempotency_key_gives_back_the_first_request(resolution: ResolutionService) -> None:
    case_id = received(resolution)
    first = no_reason(resolution, case_id, idempotency_key="app-7f3a")
    again = no_reason(resolution, case_id, idempotency_key="app-7f3a")
    assert again.id == first.id and again.version == 1
    assert [r.id for r in resolution.returns_of_case(case_id)] == [first.id]


def test_a_store_sale_defaults_to_in_store_and_has_no_no_reason_return(resolution: ResolutionService) -> None:
    case_id = received(resolution, store_id="SH-021", sku="CS-HYD-CRM-50")
    request = no_reason(resolution, case_id, received_on=None)
    assert request.sale is Sale.IN_STORE and request.received_on == request.purchased_on
    assert (request.eligibility.eligible, request.eligibility.rule) == (False, "no_reason_in_store")


def test_rejected_commands_store_nothing(resolution: ResolutionService) -> None:
    case_id = received(resolution)
    with pytest.raises(NotFound):
        no_reason(resolution, uuid4())
    with pytest.raises(InvalidValue) as error:
        no_reason(resolution, case_id, sku="NOPE-1")
    assert error.value.field == "sku" and "AP-CASH-SW-01" in (error.value.allowed or [])
    with pytest.raises(InvalidValue):
        no_reason(resolution, case_id, received_on=None)  # a distance sale needs the day of receipt
    before = event_types(resolution)
    request = no_reason(resolution, case_id)
    with pytest.raises(InvalidTransition):
        resolution.refund_return(request.id, CLERK, Decimal("100.00"), "PAY-1")
    with pytest.raises(NotFound):
        resolution.get_return(uuid4())
    with pytest.raises(NotFound):
        resolution.review_return(uuid4(), MANAGER, True)
    with pytest.raises(NotFound):
        resolution.returns_of_case(uuid4())
    assert event_types(resolution) == [*before, "ReturnRequested"]
    assert resolution.get_return(request.id).state is ReturnState.REQUESTED


def test_a_request_that_loses_its_number_to_a_concurrent_one_takes_the_next(
    resolution: ResolutionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case with one request, and a second request that read the number count before the first was saved
    case_id = received(resolution)
    first = no_reason(resolution, case_id)
    counted = iter([1, 2])
    monkeypatch.setattr(resolution, "_next_return_number", lambda _: next(counted))
    # When it saves number 1 / Then the conflict makes it decide again, as number 2
    second = no_reason(resolution, case_id)
    assert (first.number, second.number) == (1, 2)
    assert [r.number for r in resolution.returns_of_case(case_id)] == [1, 2]
