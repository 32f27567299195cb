"""Intake over HTTP, on real NATS, on SQLite and PostgreSQL: every channel, the record's life, repeats,
nuisance sources, the customer's own lookup."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.intake.domain import CHANNEL_DETAILS
from shared.vocabulary import Channel
from tests.support import complaint_body, staff_headers, wait_until

CLERK = staff_headers("SH-001-F1", "frontline", store="SH-001")
MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")


def details(channel: Channel) -> dict[str, str]:
    required, optional = CHANNEL_DETAILS[channel]
    return {key: "2026-12-01T10:00:00+08:00" if key.endswith("_at") else f"{key}-1" for key in required + optional}


def file(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/complaints", json=complaint_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_files_its_own_record(client: TestClient, channel: Channel) -> None:
    case = file(
        client,
        channel=channel.value,
        channel_details=details(channel),
        merchant_id="M-01",
        serial="SN-9",
        occurred_where="二楼",
        received_by={"id": "SH-001-F1", "name": "李娜", "position": "客服专员"},
        customer={"name": "王芳", "phone": "13800138000", "member_id": "VIP-1"},
    )
    record = client.get(f"/api/complaints/{case['case_id']}").json()
    assert (record["channel"], record["channel_details"]) == (channel.value, details(channel))
    assert (record["merchant_id"], record["serial"], record["received_by"]["position"]) == ("M-01", "SN-9", "客服专员")
    assert client.get(f"/api/complaints/by-number/{case['case_number']}").json()["case_id"] == case["case_id"]


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"channel": "fax"}, "channel", "regulator"),
        ({"channel": "regulator"}, "channel_details", "needs reference, regulator_due_at"),
        ({"customer": {"name": "王芳"}}, "customer", "phone number or an e-mail"),
        ({"customer": {"name": "王芳", "phone": "12ab"}}, "customer", "customer.phone"),
        ({"occurred_at": "2099-01-01T00:00:00+08:00"}, "occurred_at", "future"),
        ({"store_id": "NOPE"}, "store_id", "unknown store"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    client: TestClient, overrides: dict[str, Any], field: str, says: str
) -> None:
    response = client.post("/api/complaints", json=complaint_body(**overrides))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == field and says in problem["message"] + str(problem.get("allowed", ""))
    intake = client.app.state.services["intake"].app  # type: ignore[attr-defined]
    assert intake.recorder.max_notification_id() in (None, 0)


def test_read_back_amendment_and_withdrawal_are_events_and_show_in_the_case(client: TestClient) -> None:
    case_id = file(client)["case_id"]
    base = f"/api/complaints/{case_id}"
    assert client.post(f"{base}/read-back", json={}, headers=CLERK).status_code == 204
    assert client.post(f"{base}/read-back", json={}, headers=CLERK).status_code == 409
    amended = client.post(
        f"{base}/amendments",
        json={"kind": "correction", "reason": "SKU 记错", "changes": {"sku": "RING-2"}},
        headers=CLERK,
    )
    assert amended.status_code == 204
    assert client.get(base).json()["sku"] == "RING-2"
    bad = client.post(
        f"{base}/amendments", json={"kind": "correction", "reason": "x", "changes": {"channel": "web"}}, headers=CLERK
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "changes.channel"
    assert client.post(f"{base}/withdrawal", json={"reason": "已协商解决"}, headers=CLERK).status_code == 204
    assert client.post(f"{base}/withdrawal", json={"reason": "again"}, headers=CLERK).status_code == 409
    view = wait_until(lambda: (v := client.get(f"/api/cases/{case_id}").json()).get("status") == "withdrawn" and v)
    assert view["amendments"] == 1 and view["read_back_confirmed_at"] is not None
    assert (
        client.post(
            "/api/complaints/00000000-0000-0000-0000-000000000000/read-back", json={}, headers=CLERK
        ).status_code
        == 404
    )


def test_a_repeat_complaint_is_linked_to_the_earlier_case_and_flagged(client: TestClient) -> None:
    first = file(client, order_id="ORD-77")
    second = file(client, order_id="ORD-77")
    view = wait_until(
        lambda: "repeat" in (v := client.get(f"/api/cases/{second['case_id']}").json()).get("flags", []) and v
    )
    assert view["earlier_case_number"] == first["case_number"]
    assert client.get(f"/api/complaints/{second['case_id']}").json()["repeat_of"] == first["case_id"]
    assert "repeat" not in client.get(f"/api/cases/{first['case_id']}").json()["flags"]


def test_a_contact_flagged_three_times_is_blocked_until_a_manager_unblocks_it(client: TestClient) -> None:
    abusive = {"name": "张三", "phone": "13700137000"}
    cases = [file(client, customer=abusive)["case_id"] for _ in range(3)]
    answers = [
        client.post(f"/api/complaints/{case}/nuisance-flags", json={"reason": "辱骂客服"}, headers=CLERK).json()
        for case in cases
    ]
    assert [a["contact_blocked"] for a in answers] == [False, False, True]
    queue = client.get("/api/intake/queues/nuisance", headers=MANAGER).json()["cases"]
    assert {c["case_id"] for c in queue} == set(cases)
    refused = client.post("/api/complaints", json=complaint_body(customer=abusive))
    assert refused.status_code == 403 and "blocked" in refused.json()["detail"]
    customer_id = client.get(f"/api/complaints/{cases[0]}").json()["customer_id"]
    assert client.post(f"/api/customers/{customer_id}/unblock", json={"reason": "x"}, headers=CLERK).status_code == 403
    assert (
        client.post(f"/api/customers/{customer_id}/unblock", json={"reason": "已沟通"}, headers=MANAGER).status_code
        == 204
    )
    again = file(client, customer=abusive)
    view = wait_until(lambda: (v := client.get(f"/api/cases/{again['case_id']}").json()).get("case_number") and v)
    assert "nuisance" in view["flags"]


def test_the_customer_looks_up_status_with_the_case_number_and_contact(client: TestClient) -> None:
    case = file(client, customer={"name": "王芳", "phone": "138-0013-8000", "email": "Wang@Example.com"})
    number = case["case_number"]
    wait_until(lambda: client.get(f"/api/cases/{case['case_id']}").status_code == 200)
    for contact in ("8000", "wang@example.com"):
        found = client.get(f"/api/public/cases/{number}", params={"contact": contact})
        assert found.status_code == 200
        assert found.json()["case_number"] == number and found.json()["current_step"]["en"]
        assert "王芳" not in found.text and "8000" not in found.text.replace(number, "")
    assert client.get(f"/api/public/cases/{number}", params={"contact": "1234"}).status_code == 404
    assert client.get("/api/public/cases/CMP-20000101-000001", params={"contact": "8000"}).status_code == 404
    # Wrong answers for one case run out
    for _ in range(4):
        client.get(f"/api/public/cases/{number}", params={"contact": "0000"})
    assert client.get(f"/api/public/cases/{number}", params={"contact": "8000"}).status_code == 429
