"""The whole system over HTTP on real NATS, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.support import complaint_body, event_types, wait_until

# What filing one complaint records in intake.
RECEIVED = ["ComplaintReceived", "AcknowledgementDue"]


def intake_events(client: TestClient) -> list[str]:
    return event_types(client.app.state.services["intake"].app)  # type: ignore[attr-defined]


def test_filed_complaint_shows_all_four_services_in_its_timeline_within_2_seconds(client: TestClient) -> None:
    started = time.monotonic()
    response = client.post("/api/complaints", json=complaint_body())
    assert response.status_code == 201
    case_id = response.json()["case_id"]
    assert response.json()["case_number"].startswith("CMP-")

    def timeline_of_four() -> list[dict[str, object]] | None:
        r = client.get(f"/api/cases/{case_id}/timeline")
        events = r.json()["events"] if r.status_code == 200 else []
        return events if {e["service"] for e in events} == {"intake", "routing", "resolution", "feedback"} else None

    events = wait_until(timeline_of_four, timeout=2.0)
    assert time.monotonic() - started < 2.0
    for event in events:
        assert {"service", "type", "recorded_at", "actor"} <= set(event)
    types = [e["type"] for e in events]
    assert types[0] == "ComplaintReceived"
    assert types.index("ComplaintTriaged") < types.index("ResolutionOpened")
    case = client.get(f"/api/cases/{case_id}").json()
    assert (case["case_id"], case["status"], case["category"], case["severity"]) == (
        case_id,
        "triaged",
        "product_quality",
        "general",
    )
    assert case["case_number"] == response.json()["case_number"]
    triage = client.get(f"/api/routing/cases/{case_id}/triage").json()
    assert "质量" in triage["matched_terms"] and triage["severity_reasons"] == []
    assert triage["subcategory"] == case["subcategory"] == "defect"
    assert client.get(f"/api/resolution/cases/{case_id}").json()["category"] == "product_quality"


def test_idempotency_key_returns_the_same_case_without_a_duplicate(client: TestClient) -> None:
    headers = {"Idempotency-Key": f"pos-{uuid4()}"}
    first = client.post("/api/complaints", json=complaint_body(), headers=headers)
    again = client.post("/api/complaints", json=complaint_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    # One receipt; intake's later events are the deliveries of the messages feedback prepares
    assert [t for t in intake_events(client) if t in RECEIVED] == RECEIVED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"customer": {"name": "王芳"}}, "customer"),
        ({"store_id": "NOPE-1"}, "store_id"),
        ({"amount_paid": "-1"}, "amount_paid"),
        ({"occurred_at": "2999-01-01T00:00:00+08:00"}, "occurred_at"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    client: TestClient, change: dict[str, object], field: str
) -> None:
    response = client.post("/api/complaints", json=complaint_body(**change))
    assert response.status_code == 422
    assert any(p["field"].startswith(field) for p in response.json()["detail"])
    assert intake_events(client) == []


def test_unknown_channel_lists_the_allowed_channels(client: TestClient) -> None:
    [problem] = client.post("/api/complaints", json=complaint_body(channel="fax")).json()["detail"]
    assert problem["allowed"] == [
        "phone",
        "store",
        "web",
        "app",
        "email",
        "letter",
        "social",
        "chat",
        "regulator",
        "suggestion_box",
    ]


def test_unknown_case_is_404(client: TestClient) -> None:
    assert client.get(f"/api/cases/{uuid4()}").status_code == 404
    assert client.get(f"/api/cases/{uuid4()}/timeline").status_code == 404
    assert client.get(f"/api/routing/cases/{uuid4()}/triage").status_code == 404
    assert client.get(f"/api/resolution/cases/{uuid4()}").status_code == 404


def test_body_over_one_megabyte_is_413_and_stores_nothing(client: TestClient) -> None:
    response = client.post("/api/complaints", json=complaint_body(description="质" * 400_000))
    assert response.status_code == 413
    assert intake_events(client) == []


def test_health_reports_store_and_nats(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "down": []}
