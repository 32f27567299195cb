"""Routing over HTTP in the whole system on real NATS, once on SQLite and once on PostgreSQL: its commands, bad
input, clocks, work queues, the case view, and a ManualClock driving warnings, a breach and an escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.clock import ManualClock
from shared.settings import Settings
from tests.support import ANONYMOUS, complaint_body, event_types, staff_headers, wait_until

STAFF = staff_headers("SH-001-F1", "frontline", store="SH-001")
MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")
MERCHANT = staff_headers("HZ-050-T01", "merchant", merchant="HZ-050-T01")
ROUTING = "/api/routing/cases"
H = timedelta(hours=1)


def file(client: TestClient, **overrides: Any) -> str:
    """File a complaint and wait until routing has triaged it; its case id."""
    response = client.post("/api/complaints", json=complaint_body(**overrides))
    assert response.status_code == 201, response.text
    case_id = str(response.json()["case_id"])
    wait_until(lambda: client.get(f"{ROUTING}/{case_id}/triage").status_code == 200)
    return case_id


def triage(client: TestClient, case_id: str) -> dict[str, Any]:
    response = client.get(f"{ROUTING}/{case_id}/triage")
    assert response.status_code == 200
    return dict(response.json())


def clocks(client: TestClient, case_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/cases/{case_id}/clocks")
    assert response.status_code == 200
    assert response.json()["case_id"] == case_id
    return {c["clock"]: c for c in response.json()["clocks"]}


def acknowledged(client: TestClient, case_id: str) -> None:
    """Wait until feedback's acknowledgement has stopped the acknowledge clock (so nothing else moves the case)."""
    wait_until(lambda: clocks(client, case_id)["acknowledge"]["state"] == "stopped")


def routing_events(client: TestClient) -> list[str]:
    return event_types(client.app.state.services["routing"].app)  # type: ignore[attr-defined]


def case_view(client: TestClient, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/cases/{case_id}")
    return dict(response.json()) if response.status_code == 200 else {}


def test_every_command_works_once_and_returns_the_triage_view(client: TestClient) -> None:
    case = file(client)
    acknowledged(client, case)

    def post(path: str, body: dict[str, Any] | None = None, headers: dict[str, str] = STAFF) -> dict[str, Any]:
        response = client.post(f"{ROUTING}/{case}/{path}", json=body, headers=headers)
        assert response.status_code == 200, (path, response.text)
        view = response.json()
        assert view["case_id"] == case
        assert view == triage(client, case)  # what came back is what is stored
        return dict(view)

    def again(path: str, body: dict[str, Any] | None = None, status: int = 409, headers: dict[str, str] = STAFF) -> None:
        assert client.post(f"{ROUTING}/{case}/{path}", json=body, headers=headers).status_code == status

    body: dict[str, Any] = {"category": "service", "subcategory": "attitude", "reason": "the clerk was rude"}
    view = post("category", body)
    assert (view["category"], view["subcategory"]) == ("service", "attitude")
    again("category", body)

    body = {"severity": "urgent", "reason": "the customer cannot wear it"}
    assert post("severity", body)["severity"] == "urgent"
    again("severity", body)

    body = {"well_founded": True}
    assert post("validity", body, MANAGER)["well_founded"] is True
    again("validity", body, headers=MANAGER)

    body = {"primary": "store", "secondary": ["supplier"], "reason": "packed carelessly"}
    assert post("responsibility", body, MANAGER)["responsibility"] == {
        "primary": "store",
        "secondary": ["supplier"],
        "reason": "packed carelessly",
    }

    body = {"team": "store_management", "reason": "needs a manager"}
    view = post("assignment", body, MANAGER)
    assert view["owner"]["team"] == "store_management"
    assert (view["owner"]["queue"], view["owner"]["assignee"]) == ("store_management@SH-001", "SH-001-M1")
    assert view["owner"]["tier"] == "cs_manager"
    again("assignment", body)

    body = {"team": "quality", "reason": "batch defect?"}
    assert post("supporting-teams", body)["supporting"] == ["quality"]
    again("supporting-teams", body)

    body = {"reason": "waiting for photos"}
    assert post("awaiting-customer", body)["awaiting_customer"] is True
    again("awaiting-customer", body)
    assert post("customer-response")["awaiting_customer"] is False
    again("customer-response")

    body = {"reason": "a journalist called"}
    view = post("emergency", body)
    assert "emergency" in view["flags"]
    assert {t["task"] for t in view["emergency_tasks"]} == {
        "information_release_control",
        "public_opinion_watch",
        "legal_review",
        "regulator_contact",
    }
    assert all(t["owner"] and t["due_at"] for t in view["emergency_tasks"])
    again("emergency", body)

    step = {"note": "legal reviewed the statement", "done": True}
    view = post("emergency/tasks/legal_review", step)
    [task] = [t for t in view["emergency_tasks"] if t["task"] == "legal_review"]
    assert (task["done"], task["steps"]) == (True, 1)
    again("emergency/tasks/legal_review", step)
    bad_task = client.post(f"{ROUTING}/{case}/emergency/tasks/nope", json=step, headers=STAFF)
    assert bad_task.status_code == 422 and bad_task.json()["detail"][0]["field"] == "task"

    # No merchant on this case
    again("merchant-response", {"note": "the shop answered"})


def test_the_merchant_response_and_the_appeal_work_where_they_apply(client: TestClient) -> None:
    mall = file(client, store_id="HZ-050", merchant_id="HZ-050-T01")
    assert triage(client, mall)["owner"]["queue"] == "mall_desk@HZ-050"
    assert clocks(client, mall)["merchant_response"]["state"] == "running"
    # The mall tenant answers the chase itself, with its own sign-in
    response = client.post(f"{ROUTING}/{mall}/merchant-response", json={"note": "refund agreed"}, headers=MERCHANT)
    assert response.status_code == 200 and response.json()["case_id"] == mall
    assert clocks(client, mall)["merchant_response"]["state"] == "stopped"
    again = client.post(f"{ROUTING}/{mall}/merchant-response", json={"note": "again"}, headers=MERCHANT)
    assert again.status_code == 409

    case = file(client)
    rejected = client.post(
        f"{ROUTING}/{case}/validity", json={"well_founded": False, "reason": "worn for a year"}, headers=MANAGER
    )
    assert (rejected.status_code, rejected.json()["state"]) == (200, "rejected")
    appealed = client.post(f"{ROUTING}/{case}/appeal", json={"reason": "it was a week"}, headers=STAFF)
    assert appealed.status_code == 200
    assert (appealed.json()["state"], appealed.json()["well_founded"]) == ("open", None)
    assert client.post(f"{ROUTING}/{case}/appeal", json={"reason": "again"}, headers=STAFF).status_code == 409
    assert clocks(client, case)["resolve"]["state"] == "running"


# (path, body, headers, status, field named in the 422, a value its allowed list must hold)
BAD_COMMANDS: list[tuple[str, dict[str, Any], dict[str, str], int, str | None, str | None]] = [
    ("category", {"category": "service", "reason": "r"}, ANONYMOUS, 401, None, None),
    ("category", {"category": "nope", "reason": "r"}, STAFF, 422, "category", "product_quality"),
    ("severity", {"severity": "apocalyptic", "reason": "r"}, STAFF, 422, "severity", "critical"),
    ("responsibility", {"primary": "aliens", "reason": "r"}, MANAGER, 422, "primary", "supplier"),
    ("assignment", {"team": "space_force", "reason": "r"}, STAFF, 422, "team", "hq_desk"),
    ("assignment", {"team": "store_service", "assignee": "HQ-01", "reason": "r"}, STAFF, 422, "assignee", "SH-001-F1"),
    ("supporting-teams", {"team": "space_force", "reason": "r"}, STAFF, 422, "team", "quality"),
    ("appeal", {"reason": "not rejected"}, STAFF, 409, None, None),
    ("severity", {"severity": "general", "reason": "calm now"}, STAFF, 403, None, None),
    ("validity", {"well_founded": False}, MANAGER, 422, "reason", None),
    ("validity", {"well_founded": False, "reason": "r"}, STAFF, 403, None, None),
    ("category", {"category": "service"}, STAFF, 422, "reason", None),
]


def test_bad_commands_are_refused_and_change_nothing(client: TestClient) -> None:
    # An urgent case (so lowering it means something), acknowledged, so nothing else is moving it
    case = file(client, description="手镯断了，无法使用")
    acknowledged(client, case)
    before, recorded = triage(client, case), routing_events(client)
    assert before["severity"] == "urgent"

    for path, body, headers, status, field, allowed in BAD_COMMANDS:
        response = client.post(f"{ROUTING}/{case}/{path}", json=body, headers=headers)
        assert response.status_code == status, (path, body, response.text)
        if field is not None:
            [problem] = [p for p in response.json()["detail"] if p["field"] == field]
            if allowed is not None:
                assert allowed in problem["allowed"], (path, problem)
        # Nothing was stored
        assert triage(client, case) == before, (path, body)
        assert routing_events(client) == recorded, (path, body)

    # A manager may lower it
    lowered = client.post(f"{ROUTING}/{case}/severity", json={"severity": "general", "reason": "ok"}, headers=MANAGER)
    assert (lowered.status_code, lowered.json()["severity"]) == (200, "general")

    # An unknown case is 404 for reads and commands, and stores nothing
    unknown, recorded = uuid4(), routing_events(client)
    assert client.get(f"{ROUTING}/{unknown}/triage").status_code == 404
    assert client.get(f"/api/cases/{unknown}/clocks").status_code == 404
    for path, body in [
        ("category", {"category": "service", "reason": "r"}),
        ("assignment", {"team": "store_service", "reason": "r"}),
        ("awaiting-customer", {"reason": "r"}),
    ]:
        assert client.post(f"{ROUTING}/{unknown}/{path}", json=body, headers=STAFF).status_code == 404
    assert routing_events(client) == recorded


def test_clocks_queues_and_the_case_view_follow_the_case(client: TestClient) -> None:
    case = file(client)

    # Clocks: acknowledge and resolve, with times in UTC and in the chain's zone
    views = clocks(client, case)
    assert {"acknowledge", "resolve"} <= set(views)
    resolve = views["resolve"]
    assert resolve["state"] == "running" and resolve["mode"] == "wall"
    due, local = datetime.fromisoformat(resolve["due_at"]), datetime.fromisoformat(resolve["due_at_local"])
    assert due == local and resolve["due_at_local"].endswith("+08:00")
    assert due - datetime.fromisoformat(resolve["started_at"]) == timedelta(days=7)
    assert resolve["budget_seconds"] == 7 * 24 * 3600
    # (each is truncated to whole seconds)
    total = resolve["elapsed_seconds"] + resolve["remaining_seconds"]
    assert resolve["budget_seconds"] - 1 <= total <= resolve["budget_seconds"]
    assert resolve["paused_seconds"] == 0
    assert views["acknowledge"]["budget_seconds"] == 24 * 3600
    acknowledged(client, case)
    ack = clocks(client, case)["acknowledge"]
    assert ack["met"] is True and ack["stopped_at"] is not None

    # Work queues: the store's service queue and the assignee's own
    team = client.get("/api/routing/queues/store_service@SH-001").json()
    assert team["total"] == 1 and [c["case_id"] for c in team["cases"]] == [case]
    assert team["cases"][0]["next_due_at"] == due.isoformat()  # the acknowledge clock stopped: resolve is next
    mine = client.get("/api/routing/people/SH-001-F1/queue").json()
    assert [c["case_id"] for c in mine["cases"]] == [case]
    assert client.get("/api/routing/queues/store_service@SH-001?limit=0").status_code == 422

    # The case view shows who owns it
    wait_until(lambda: case_view(client, case).get("assignee") == "SH-001-F1")
    assert case_view(client, case)["team"] == "store_service"

    # Rejected: it leaves the open queue, feedback explains, the case view says so
    decided = client.post(
        f"{ROUTING}/{case}/validity", json={"well_founded": False, "reason": "worn for two years"}, headers=MANAGER
    )
    assert decided.status_code == 200
    assert client.get("/api/routing/queues/store_service@SH-001").json()["total"] == 0
    rejected = client.get("/api/routing/queues/store_service@SH-001?state=rejected").json()
    assert [c["case_id"] for c in rejected["cases"]] == [case]
    wait_until(lambda: case_view(client, case).get("status") == "rejected")

    def explained() -> bool:
        events = client.get(f"/api/cases/{case}/timeline").json()["events"]
        return any(e["type"] == "RejectionExplained" and e["service"] == "feedback" for e in events)

    wait_until(explained)

    # Appealed: reopened, back in the open queue
    appealed = client.post(f"{ROUTING}/{case}/appeal", json={"reason": "it broke in a week"}, headers=STAFF)
    assert appealed.status_code == 200
    wait_until(lambda: case_view(client, case).get("status") == "reopened")
    assert client.get("/api/routing/queues/store_service@SH-001").json()["total"] == 1


def test_a_manual_clock_drives_warning_breach_and_escalation(settings: Settings) -> None:
    clock = ManualClock(start=datetime.now(UTC))
    with TestClient(build_http(SERVICES, settings, clock=clock), headers=staff_headers("HQ-01", "hq")) as client:
        wait_until(lambda: client.get("/health").status_code == 200, timeout=10)
        routing = client.app.state.services["routing"].app  # type: ignore[attr-defined]
        case = file(client)
        owner = triage(client, case)["owner"]
        assert (owner["queue"], owner["assignee"], owner["tier"]) == ("store_service@SH-001", "SH-001-F1", "frontline")
        wait_until(lambda: case_view(client, case).get("assignee") == "SH-001-F1")
        # In the whole system feedback acknowledges at once, which stops the acknowledge clock (met)
        acknowledged(client, case)

        def advance_to(hours: float) -> None:
            clock.advance(clock_start + timedelta(hours=hours) - clock.now())
            routing.fire_due_timers()

        def recorded(kind: str) -> list[dict[str, Any]]:
            events = client.get(f"/api/cases/{case}/timeline").json()["events"]
            return [e for e in events if e["type"] == kind]

        clock_start = datetime.fromisoformat(clocks(client, case)["resolve"]["started_at"])
        # 19 h: the stopped acknowledge clock never warns
        advance_to(19)
        assert clocks(client, case)["acknowledge"]["state"] == "stopped"
        assert not [t for t in routing_events(client) if t in ("ClockWarned", "SlaBreached")]

        # The resolve clock (general: 7 days) warns at 75 % (126 h) ...
        advance_to(127)
        wait_until(lambda: len(recorded("ClockWarned")) == 1)
        assert clocks(client, case)["resolve"]["state"] == "warned_75"
        assert "sla_breached" not in case_view(client, case)["flags"]

        # ... and breaches at 168 h: the case goes one tier up, to the store's managers
        advance_to(169)

        def escalated() -> dict[str, Any] | None:
            view = case_view(client, case)
            return view if {"sla_breached", "escalated"} <= set(view.get("flags", [])) else None

        view = wait_until(escalated)
        wait_until(lambda: case_view(client, case).get("team") == "store_management")
        view = case_view(client, case)
        assert (view["queue"], view["assignee"], view["tier"]) == ("store_management@SH-001", "SH-001-M1", "cs_manager")
        assert clocks(client, case)["resolve"]["state"] == "breached"
        owner = triage(client, case)["owner"]
        assert (owner["queue"], owner["assignee"]) == ("store_management@SH-001", "SH-001-M1")
        assert {"sla_breached", "escalated"} <= set(triage(client, case)["flags"])
        # Exactly once, whether the background loop or this test fired them
        wait_until(lambda: len(recorded("CaseEscalated")) == 1)
        assert routing.fire_due_timers() == 0
        assert [e["payload"]["threshold"] for e in recorded("ClockWarned")] == ["75", "90"]
        assert len(recorded("SlaBreached")) == len(recorded("CaseEscalated")) == 1
        manager_queue = client.get("/api/routing/people/SH-001-M1/queue").json()
        assert [c["case_id"] for c in manager_queue["cases"]] == [case]
        assert client.get("/api/routing/people/SH-001-F1/queue").json()["total"] == 0
