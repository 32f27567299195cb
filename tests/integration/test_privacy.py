"""Personal data on SQLite and on PostgreSQL: sealed at rest, audited reads, erasure by destroying keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from services.intake.application import Intake
from services.intake.domain import privacy_record_id
from services.system import build_http
from shared.contracts import Actor
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import ANONYMOUS, complaint_body, event_types, record, staff_headers

# What filing one complaint records in intake.
RECEIVED = ["ComplaintReceived", "AcknowledgementDue"]

CLERK = staff_headers("SH-001-F1", "frontline", store="SH-001")
MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")
LEGAL = staff_headers("HQ-L1", "legal")
CUSTOMER = {"name": "李雷", "phone": "13912345678", "email": "li.lei@example.com", "address": "长宁路88号"}


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    # Intake alone, no relay: these tests are about its store and API.
    with TestClient(build_http(["intake"], make_settings(), working=[]), headers=staff_headers("HQ-01", "hq")) as c:
        yield c


def intake_of(client: TestClient) -> Intake:
    return client.app.state.services["intake"].app  # type: ignore[attr-defined,no-any-return]


def file(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """File a complaint for CUSTOMER; returns intake's staff view of it."""
    body = complaint_body(customer=CUSTOMER, description="请打电话 13912345678 找李雷，手镯断了", **overrides)
    response = client.post("/api/complaints", json=body)
    assert response.status_code == 201, response.text
    view = client.get(f"/api/complaints/{response.json()['case_id']}")
    assert view.status_code == 200
    return view.json()  # type: ignore[no-any-return]


def erase(
    client: TestClient, customer_id: str, approver: dict[str, str] = LEGAL, reason: str = "客户书面要求删除"
) -> Any:
    """A manager asks for the erasure and ``approver`` approves it with their own sign-in."""
    asked = client.post(f"/api/customers/{customer_id}/erasure", json={"reason": reason}, headers=MANAGER)
    if asked.status_code != 202:
        return asked
    return client.post(f"/api/customers/{customer_id}/erasure/approval", headers=approver)


def test_staff_view_has_the_masked_description_and_no_contact(client: TestClient) -> None:
    view = file(client)
    assert view["description"] == "请打电话 [phone] 找[name]，手镯断了"
    assert view["customer_erased"] is False and view["case_number"].startswith("CMP-")
    assert not {"customer", "name", "phone", "email", "address"} & set(view)
    assert client.get(f"/api/complaints/{uuid4()}").status_code == 404


def test_contact_read_returns_the_details_and_records_who_read_them(client: TestClient) -> None:
    case_id = file(client)["case_id"]
    # When
    response = client.get(f"/api/complaints/{case_id}/contact", headers=CLERK)
    # Then
    assert response.status_code == 200
    assert response.json() == {"erased": False, **CUSTOMER, "description": "请打电话 13912345678 找李雷，手镯断了"}
    assert response.headers["Cache-Control"] == "no-store"
    intake = intake_of(client)
    assert event_types(intake) == [*RECEIVED, "ContactDetailsRead"]
    *_, read = intake.events.get(UUID(case_id))
    assert read.envelope["actor"] == {"id": "SH-001-F1", "role": "frontline", "store": "SH-001"}
    assert read.fields == ["address", "email", "name", "phone", "description"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [(ANONYMOUS, 401), (staff_headers("A-1", "auditor"), 403), (CLERK, 404)],
)
def test_contact_read_refused_records_nothing(client: TestClient, headers: dict[str, str], status: int) -> None:
    case_id = file(client)["case_id"] if status != 404 else str(uuid4())
    assert client.get(f"/api/complaints/{case_id}/contact", headers=headers).status_code == status
    assert "ContactDetailsRead" not in event_types(intake_of(client))


def test_erasure_destroys_the_keys_and_every_read_shows_the_customer_erased(client: TestClient) -> None:
    # Given two complaints of one customer
    first, second = file(client), file(client, channel="web")
    assert first["customer_id"] == second["customer_id"]
    intake = intake_of(client)
    assert len(intake.keys.held(first["customer_id"])) == 2
    # When
    response = erase(client, first["customer_id"])
    # Then
    assert response.status_code == 201, response.text
    assert response.json()["keys_destroyed"] == 2
    assert set(response.json()["case_ids"]) == {first["case_id"], second["case_id"]}
    assert intake.keys.held(first["customer_id"]) == []
    for case in (first, second):
        assert client.get(f"/api/complaints/{case['case_id']}/contact", headers=CLERK).json() == {"erased": True}
        view = client.get(f"/api/complaints/{case['case_id']}").json()
        assert view["customer_erased"] is True and view["case_number"] == case["case_number"]
    # The history is complete: nothing removed, the erasure added (and reads after it record nothing).
    assert event_types(intake) == [
        *RECEIVED,
        *RECEIVED,
        "PrivacyRecordOpened",
        "ErasureRequested",
        "ErasureRecorded",
        "CustomerErased",
        "CustomerErased",
    ]
    # A second erasure finds nothing left to erase.
    assert erase(client, first["customer_id"]).status_code == 409
    # The customer's privacy record is no complaint.
    assert client.get(f"/api/complaints/{privacy_record_id(UUID(first['customer_id']))}").status_code == 404


def test_a_complaint_filed_after_erasure_is_readable_and_can_be_erased_in_turn(client: TestClient) -> None:
    erased = file(client)
    assert erase(client, erased["customer_id"]).status_code == 201
    later = file(client)
    contact = client.get(f"/api/complaints/{later['case_id']}/contact", headers=CLERK).json()
    assert contact["name"] == CUSTOMER["name"]
    response = erase(client, later["customer_id"])
    assert (response.status_code, response.json()["case_ids"]) == (201, [later["case_id"]])
    assert client.get(f"/api/complaints/{erased['case_id']}/contact", headers=CLERK).json() == {"erased": True}


@pytest.mark.parametrize(
    ("approver", "reason", "status"),
    [
        (MANAGER, "客户要求", 403),  # the requester approving their own request (and not an approver's role)
        (staff_headers("SH-001-M1", "legal"), "客户要求", 409),  # the same person signed in as legal
        (staff_headers("SH-001-R1", "regional_manager", region="east"), "客户要求", 403),
        (staff_headers("A-1", "auditor"), "客户要求", 403),
        (LEGAL, "   ", 422),
    ],
)
def test_refused_erasure_stores_nothing_and_destroys_no_key(
    client: TestClient, approver: dict[str, str], reason: str, status: int
) -> None:
    case = file(client)
    assert erase(client, case["customer_id"], approver, reason).status_code == status
    # Only the request (if it was well-formed) is recorded; nothing is erased.
    asked = ["PrivacyRecordOpened", "ErasureRequested"] if reason.strip() else []
    assert event_types(intake_of(client)) == [*RECEIVED, *asked]
    assert len(intake_of(client).keys.held(case["customer_id"])) == 1
    assert client.get(f"/api/complaints/{case['case_id']}/contact", headers=CLERK).json()["erased"] is False


def test_erasure_needs_a_signed_in_requester_and_a_known_customer(client: TestClient) -> None:
    case = file(client)
    body = {"reason": "客户要求"}
    anonymous = ANONYMOUS
    assert client.post(f"/api/customers/{case['customer_id']}/erasure", json=body, headers=anonymous).status_code == 401
    assert client.post(f"/api/customers/{case['customer_id']}/erasure/approval", headers=anonymous).status_code == 401
    assert erase(client, str(uuid4())).status_code == 404
    assert event_types(intake_of(client)) == RECEIVED


def test_keys_are_stored_only_with_their_writes_and_gone_once_destroyed(client: TestClient) -> None:
    keys = intake_of(client).keys
    customer_id, case_id = uuid4(), uuid4()
    key = keys.issue(customer_id, case_id)
    token = key.seal("customer", "李雷")
    assert keys.find(key.key_id) is None
    keys.side.script(keys.writes_for(case_id))
    assert keys.writes_for(case_id) == []
    found = keys.find(key.key_id)
    assert found is not None and found.open(token, "customer") == "李雷"
    assert [held.case_id for held in keys.held(customer_id)] == [case_id]
    assert keys.destroy([key.key_id]) == 1
    assert keys.find(key.key_id) is None and keys.destroy([key.key_id]) == 0


def test_a_failed_key_write_stores_neither_the_key_nor_the_complaint(client: TestClient) -> None:
    intake = intake_of(client)
    schema, _, name = intake.keys.table.rpartition(".")
    moved = f"{schema}.{name}_moved" if schema else f"{name}_moved"
    filed = record(customer=CUSTOMER)
    clerk = Actor(id="SH-001-F1", role=Role.FRONTLINE)
    # Given the key table cannot be written
    intake.side.execute(f"ALTER TABLE {intake.keys.table} RENAME TO {name}_moved")
    # When a complaint is filed over the shared (group commit) path, it fails and stores nothing
    with pytest.raises(Exception, match=name):
        asyncio.run(intake.receive_complaint_shared(filed, actor=clerk))
    assert event_types(intake) == []
    # Then, once the table is back, the next filing stores its own key only: key and events go together
    intake.side.execute(f"ALTER TABLE {moved} RENAME TO {name}")
    receipt = asyncio.run(intake.receive_complaint_shared(filed, actor=clerk))
    assert event_types(intake) == RECEIVED
    held = intake.keys.held(intake.get_complaint(receipt.case_id).customer_id)
    assert [key.case_id for key in held] == [receipt.case_id]
