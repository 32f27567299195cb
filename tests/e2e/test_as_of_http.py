"""As-of reads over HTTP on real NATS, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient

from tests.support import complaint_body, wait_until


def test_case_and_timeline_as_of_an_instant(client: TestClient) -> None:
    case_id = client.post("/api/complaints", json=complaint_body()).json()["case_id"]

    def all_events() -> list[dict[str, Any]] | None:
        r = client.get(f"/api/cases/{case_id}/timeline")
        events = r.json()["events"] if r.status_code == 200 else []
        # The last steps: resolution opened, and routing stopped the acknowledge clock once feedback acknowledged
        done = {"ResolutionOpened", "ClockStopped"} <= {e["type"] for e in events}
        return events if done else None

    events = wait_until(all_events, timeout=5)
    received_at = datetime.fromisoformat(events[0]["recorded_at"])
    # As of the moment the complaint was received, written in Beijing time: only intake had acted
    as_of = received_at.astimezone(timezone(timedelta(hours=8))).isoformat()
    case = client.get(f"/api/cases/{case_id}", params={"as_of": as_of})
    assert case.status_code == 200
    assert (case.json()["status"], case.json()["category"], case.json()["event_count"]) == ("received", None, 2)
    assert case.json()["as_of"] == received_at.isoformat()
    timeline = client.get(f"/api/cases/{case_id}/timeline", params={"as_of": as_of}).json()
    assert [e["type"] for e in timeline["events"]] == ["ComplaintReceived", "AcknowledgementDue"]
    assert timeline["as_of"] == received_at.isoformat()
    # As of the last event, the case is the live view (read with its timeline when no event came between the reads:
    # the delivery loop records more after the acknowledgement)
    def live_and_timeline() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        live = client.get(f"/api/cases/{case_id}").json()
        events = client.get(f"/api/cases/{case_id}/timeline").json()["events"]
        return (live, events) if live["event_count"] == len(events) else None

    live, events = wait_until(live_and_timeline, timeout=5)
    last = max(datetime.fromisoformat(e["recorded_at"]) for e in events).isoformat()
    assert client.get(f"/api/cases/{case_id}", params={"as_of": last}).json() == {**live, "as_of": last}


def test_before_the_case_existed_is_404_and_a_time_without_timezone_is_422(client: TestClient) -> None:
    case_id = client.post("/api/complaints", json=complaint_body()).json()["case_id"]
    wait_until(lambda: client.get(f"/api/cases/{case_id}").status_code == 200, timeout=5)
    before = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for path in (f"/api/cases/{case_id}", f"/api/cases/{case_id}/timeline"):
        assert client.get(path, params={"as_of": before}).status_code == 404
        naive = client.get(path, params={"as_of": "2026-11-25T10:00:00"})
        assert naive.status_code == 422
        [problem] = naive.json()["detail"]
        assert problem["field"] == "as_of" and "timezone" in problem["message"]
