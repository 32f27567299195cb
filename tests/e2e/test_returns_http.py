"""Returns over HTTP, the whole system on real NATS, on SQLite and PostgreSQL: a complaint filed at the online hub,
a no-reason return from request to refund (and into the case's timeline), and the refusals: 401, 404, 409, 422,
each leaving everything as it was."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.support import ANONYMOUS, complaint_body, event_types, staff_headers, wait_until

CLERK = staff_headers("EC-001-F1", "frontline", store="EC-001")
MANAGER = staff_headers("EC-001-M1", "cs_manager", store="EC-001")


def today() -> Any:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def online_case(client: TestClient) -> str:
    """A complaint about a sweater from the online hub, once resolution knows the case."""
    body = complaint_body(
        store_id="EC-001", sku="AP-CASH-SW-01", order_id="EC-ORDER-1", amount_paid="1280.00",
        description="羊绒毛衣尺码不合适，要求七天无理由退货",
    )  # fmt: skip
    response = client.post("/api/complaints", json=body)
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    wait_until(lambda: client.get(f"/api/cases/{case_id}/returns", headers=CLERK).status_code == 200, timeout=5)
    return str(case_id)


def ask(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "return",
        "reason": "no_reason",
        "purchased_on": (today() - timedelta(days=4)).isoformat(),
        "received_on": (today() - timedelta(days=2)).isoformat(),
        **overrides,
    }


def resolution_events(client: TestClient) -> list[str]:
    return event_types(client.app.state.services["resolution"].app)  # type: ignore[attr-defined]


def test_a_no_reason_return_from_request_to_refund(client: TestClient) -> None:
    case_id = online_case(client)
    created = client.post(f"/api/cases/{case_id}/returns", json=ask(), headers=CLERK)
    assert created.status_code == 201, created.text
    request = created.json()
    assert (request["sale"], request["sku"], request["state"]) == ("distance", "AP-CASH-SW-01", "requested")
    assert request["eligibility"]["eligible"] is True
    assert request["eligibility"]["rule"] == "no_reason_return"
    assert request["eligibility"]["shipping_paid_by"] == "customer"
    rid = request["request_id"]
    steps = [
        ("review", {"approved": True}, MANAGER, "approved"),
        ("goods-received", {"tracking_number": "SF1234567890"}, CLERK, "goods_received"),
        ("inspection", {"result": "passed", "note": "完好，吊牌齐全", "report_sha256": "0f" * 32}, CLERK, "inspected"),
        ("refund", {"amount": "1280.00", "reference": "PAY-0001"}, CLERK, "refunded"),
    ]
    for step, body, headers, state in steps:
        response = client.post(f"/api/returns/{rid}/{step}", json=body, headers=headers)
        assert response.status_code == 200, (step, response.text)
        assert response.json()["state"] == state
    shown = client.get(f"/api/returns/{rid}", headers=CLERK).json()
    assert shown["refund"]["amount"] == "1280.00" and shown["review"]["by"] == "EC-001-M1"
    listed = client.get(f"/api/cases/{case_id}/returns", headers=CLERK).json()["returns"]
    assert [r["request_id"] for r in listed] == [rid]

    def timeline_has_refund() -> list[str] | None:
        types = [e["type"] for e in client.get(f"/api/cases/{case_id}/timeline").json()["events"]]
        return types if "ReturnRefunded" in types else None

    types = wait_until(timeline_has_refund, timeout=5)
    assert [t for t in types if t.startswith("Return")] == [
        "ReturnRequested",
        "ReturnReviewed",
        "ReturnGoodsReceived",
        "ReturnInspected",
        "ReturnRefunded",
    ]


def test_refusals_change_nothing(client: TestClient) -> None:
    case_id = online_case(client)
    # 401: nobody says who acts
    assert client.post(f"/api/cases/{case_id}/returns", json=ask(), headers=ANONYMOUS).status_code == 401
    assert client.get(f"/api/cases/{case_id}/returns", headers=ANONYMOUS).status_code == 401
    # 404: an unknown case or request
    assert client.post(f"/api/cases/{uuid4()}/returns", json=ask(), headers=CLERK).status_code == 404
    assert client.get(f"/api/returns/{uuid4()}", headers=CLERK).status_code == 404
    assert client.post(f"/api/returns/{uuid4()}/review", json={"approved": True}, headers=MANAGER).status_code == 404
    # 422: a bad code lists the allowed ones; an unknown product names the field
    bad_kind = client.post(f"/api/cases/{case_id}/returns", json=ask(kind="swap"), headers=CLERK)
    assert bad_kind.status_code == 422
    assert bad_kind.json()["detail"][0]["field"] == "kind"
    assert bad_kind.json()["detail"][0]["allowed"] == ["return", "exchange", "repair"]
    bad_sku = client.post(f"/api/cases/{case_id}/returns", json=ask(sku="NOPE-1"), headers=CLERK)
    assert bad_sku.status_code == 422 and bad_sku.json()["detail"][0]["field"] == "sku"
    assert client.get(f"/api/cases/{case_id}/returns", headers=CLERK).json()["returns"] == []
    assert "ReturnRequested" not in resolution_events(client)

    rid = client.post(f"/api/cases/{case_id}/returns", json=ask(), headers=CLERK).json()["request_id"]
    before = client.get(f"/api/returns/{rid}", headers=CLERK).json()
    events = resolution_events(client)
    refund = {"amount": "100.00", "reference": "PAY-1"}
    # 409: a refund before the goods came back; 403: a clerk may not approve
    assert client.post(f"/api/returns/{rid}/refund", json=refund, headers=CLERK).status_code == 409
    assert client.post(f"/api/returns/{rid}/review", json={"approved": True}, headers=CLERK).status_code == 403
    # 422: a refusal without a reason, an amount with three decimals
    assert client.post(f"/api/returns/{rid}/review", json={"approved": False}, headers=MANAGER).status_code == 422
    three_decimals = {**refund, "amount": "1.005"}
    assert client.post(f"/api/returns/{rid}/refund", json=three_decimals, headers=CLERK).status_code == 422
    assert client.get(f"/api/returns/{rid}", headers=CLERK).json() == before
    assert resolution_events(client) == events
    # 409: a second review
    assert client.post(f"/api/returns/{rid}/review", json={"approved": True}, headers=MANAGER).status_code == 200
    after_review = client.get(f"/api/returns/{rid}", headers=CLERK).json()
    again = client.post(f"/api/returns/{rid}/review", json={"approved": False, "reason": "no"}, headers=MANAGER)
    assert again.status_code == 409
    assert client.get(f"/api/returns/{rid}", headers=CLERK).json() == after_review
    assert resolution_events(client) == [*events, "ReturnReviewed"]
