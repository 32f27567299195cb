"""``Idempotency-Key`` over HTTP, on real NATS, on SQLite and PostgreSQL: scoped to the caller, bound to the body
it first came with, and unable to reach the keys the system makes itself (CSV import rows)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from services.intake.importer import case_id_of
from tests.e2e.test_import_http import upload
from tests.e2e.test_returns_http import CLERK as ONLINE_CLERK
from tests.e2e.test_returns_http import ask, online_case, resolution_events, today
from tests.integration.test_import import complaints_csv
from tests.support import complaint_body, event_types, staff_headers

CLERK = staff_headers("SH-001-F1", "frontline", store="SH-001")
OTHER_CLERK = staff_headers("SH-001-F2", "frontline", store="SH-001")
MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")


def post(client: TestClient, body: dict[str, Any], key: str, headers: dict[str, str]) -> Any:
    return client.post("/api/complaints", json=body, headers={**headers, "Idempotency-Key": key})


def complaints_received(client: TestClient) -> int:
    # Counted by type: intake's reactions (deliveries) go on adding events of their own meanwhile.
    return event_types(client.app.state.services["intake"].app).count("ComplaintReceived")  # type: ignore[attr-defined]


def test_the_same_key_and_body_again_gives_back_the_first_case(client: TestClient) -> None:
    # Given a complaint filed with a key
    first = post(client, complaint_body(1), "K-1", CLERK)
    assert first.status_code == 201, first.text
    # When the same caller sends the same body with the same key (a retry)
    again = post(client, complaint_body(1), "K-1", CLERK)
    # Then the first case comes back
    assert again.status_code == 201 and again.json() == first.json()


def test_the_same_key_with_another_body_is_refused_naming_the_key(client: TestClient) -> None:
    # Given a complaint filed with a key
    assert post(client, complaint_body(1), "K-2", CLERK).status_code == 201
    stored = complaints_received(client)
    # When the same caller reuses the key for another complaint
    other = post(client, complaint_body(2, description="另一件事：鞋子开胶"), "K-2", CLERK)
    # Then it is refused naming the key, and nothing new is stored
    assert other.status_code == 422, other.text
    assert other.json()["detail"][0]["field"] == "Idempotency-Key"
    assert complaints_received(client) == stored == 1


def test_a_key_is_the_callers_own_so_another_cannot_pre_claim_it(client: TestClient) -> None:
    # Given a key another member of staff used first
    taken = post(client, complaint_body(1), "K-3", OTHER_CLERK)
    assert taken.status_code == 201
    # When the clerk files with the same key
    mine = post(client, complaint_body(2), "K-3", CLERK)
    # Then the clerk's complaint is filed as a case of its own
    assert mine.status_code == 201 and mine.json()["case_id"] != taken.json()["case_id"]


def test_a_posted_key_shaped_like_an_import_row_cannot_shadow_that_row(client: TestClient) -> None:
    # Given a complaint posted with the key an import would give row ERP-000000
    assert post(client, complaint_body(1), "import:ERP-000000", CLERK).status_code == 201
    # When the file with that row is imported
    data, _ = complaints_csv(1, bad=())
    report = upload(client, data, MANAGER).json()
    # Then the row is imported, not taken for "already imported"
    assert (report["imported"], report["already_imported"]) == (1, 0), report["errors"]
    assert "第二行" in client.get(f"/api/complaints/{case_id_of('ERP-000000')}").json()["description"]


def test_a_return_key_reused_with_another_body_is_refused(client: TestClient) -> None:
    # Given a return asked for with a key
    case_id = online_case(client)
    returns, keyed = f"/api/cases/{case_id}/returns", {**ONLINE_CLERK, "Idempotency-Key": "R-1"}
    first = client.post(returns, json=ask(), headers=keyed)
    assert first.status_code == 201, first.text
    again = client.post(returns, json=ask(), headers=keyed)
    assert again.json()["request_id"] == first.json()["request_id"]
    events = resolution_events(client)
    # When the key comes again with another purchase day
    other = ask(purchased_on=(today() - timedelta(days=3)).isoformat())
    refused = client.post(returns, json=other, headers=keyed)
    # Then it is refused naming the key, and resolution stored nothing
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "Idempotency-Key"
    assert resolution_events(client) == events
