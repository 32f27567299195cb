"""The one permission policy (config/permissions.yaml) against the app's real routes: every route has an entry,
every cell of the role × route matrix is either let through or refused with nothing stored, and a case outside
the caller's reach is 404 as an unknown one is.

The whole system is built in-process without relays or consumers (the cases live in intake), on SQLite.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.access.policy import PermissionPolicy, Scope
from shared.access.principal import Principal
from shared.access.tokens import TokenIssuer, new_signing_key
from shared.settings import REPO_ROOT, Settings
from shared.vocabulary import Role
from tests.support import ANONYMOUS, complaint_body, staff_headers

# A signed-in member of staff for every role, placed so that a case of SH-001 (region east) is within reach of
# every role that sees by store or region; the merchant's shop is in a mall, so SH-001's case is outside it.
PEOPLE = {
    Role.FRONTLINE: staff_headers("SH-001-F1", "frontline", store="SH-001"),
    Role.CS_MANAGER: staff_headers("SH-001-M1", "cs_manager", store="SH-001"),
    Role.REGIONAL_MANAGER: staff_headers("RM-east", "regional_manager", region="east"),
    Role.HQ: staff_headers("HQ-01", "hq"),
    Role.LEGAL: staff_headers("HQ-03", "legal"),
    Role.APPRAISER: staff_headers("AP-01", "appraiser"),
    Role.TECHNICIAN: staff_headers("TE-01", "technician"),
    Role.QUALITY_ANALYST: staff_headers("QA-01", "quality_analyst"),
    Role.AUDITOR: staff_headers("AUD-01", "auditor"),
    Role.ADMIN: staff_headers("ADM-01", "admin"),
    Role.MERCHANT: staff_headers("SH-050-T01", "merchant", merchant="SH-050-T01"),
}


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    # No relays or consumers: what each request stores stays where it was stored, and nothing moves meanwhile.
    with TestClient(build_http(SERVICES, make_settings(), working=[])) as c:
        yield c


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, HEAD and OPTIONS aside, hidden from /docs or not.

    FastAPI from 0.13x keeps included routers as branches (``_IncludedRouter``) whose effective routes carry
    the full path; older versions list ``APIRoute`` objects directly. Both are walked.
    """
    found: list[tuple[str, str]] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if hasattr(item, "effective_candidates"):
                walk(item.effective_candidates())
                continue
            route = getattr(item, "original_route", item)
            if isinstance(route, APIRoute):
                found.extend(
                    (m, getattr(item, "path", route.path)) for m in route.methods if m not in ("HEAD", "OPTIONS")
                )

    walk(client.app.routes)  # type: ignore[attr-defined]
    return sorted(found)


def stored(client: TestClient) -> dict[str, int]:
    """How many events each service's store holds."""
    return {
        name: service.app.recorder.max_notification_id() or 0
        for name, service in client.app.state.services.items()  # type: ignore[attr-defined]
    }


def url(path: str, case: dict[str, str]) -> str:
    """The path with every parameter filled: the case's own id and number, else a plausible value."""
    values = {
        "case_id": case["case_id"],
        "case_number": case["case_number"],
        "queue": "store_service@SH-001",
        "staff_id": "SH-001-F1",
        "service": "intake",
        "status": "contacted",
        "sha256": "0" * 64,
        "index": "0",
        "parked_id": "1",
        "task": "legal_review",
    }
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        path = path.replace("{" + name + "}", values.get(name, str(uuid4())))
    return path


def test_every_route_has_exactly_one_policy_entry_and_every_entry_a_route(client: TestClient) -> None:
    # Given the policy and the app's routes
    policy = PermissionPolicy.load(REPO_ROOT / "config")
    served = {f"{method} {path}" for method, path in routes(client)}
    # Then each route is named by the policy, and the policy names no route that is gone
    assert sorted(served - set(policy.operations)) == []
    assert sorted(set(policy.operations) - served) == []


def test_every_route_but_the_public_ones_refuses_a_caller_without_a_token(client: TestClient) -> None:
    # Given a case, and the policy
    case = client.post("/api/complaints", json=complaint_body(), headers=PEOPLE[Role.FRONTLINE]).json()
    policy = PermissionPolicy.load(REPO_ROOT / "config")
    before = stored(client)
    # When each route is called with no token, an old-style identity header, or a token signed by another key
    forged = {"Authorization": "Bearer " + forged_token()}
    old_headers = {**ANONYMOUS, "X-Ombud-User": "HQ-01", "X-Ombud-Role": "admin"}
    for method, path in routes(client):
        if policy.operations[f"{method} {path}"].scope is Scope.PUBLIC:
            continue
        for headers in (ANONYMOUS, old_headers, forged):
            response = client.request(method, url(path, case), json={}, headers=headers)
            # Then each is 401, and nothing is stored
            assert response.status_code == 401, (method, path, response.text)
    assert stored(client) == before


def forged_token() -> str:
    """A token with an admin's claims, signed by a key the install does not know."""
    key = Path(tempfile.mkdtemp()) / "other.pem"
    key.write_bytes(new_signing_key())
    return TokenIssuer(Settings(auth_key_file=key)).issue(Principal(id="ADM-01", role=Role.ADMIN))[0]


def test_role_by_route_matrix_lets_through_exactly_what_the_policy_allows_and_stores_nothing_it_refuses(
    client: TestClient,
) -> None:
    # Given a case of SH-001 and the policy
    case = client.post("/api/complaints", json=complaint_body(), headers=PEOPLE[Role.FRONTLINE]).json()
    policy = PermissionPolicy.load(REPO_ROOT / "config")
    wrong: list[tuple[str, str, str, int]] = []
    for method, path in routes(client):
        operation = policy.operations[f"{method} {path}"]
        if operation.scope is Scope.PUBLIC:
            continue
        for role, headers in PEOPLE.items():
            before = stored(client)
            # When this role calls this route (with an empty body: the check comes before the body's)
            response = client.request(method, url(path, case), json={}, headers=headers)
            refused_by_policy = response.status_code == 403 and "may not use" in response.text
            hidden = response.status_code == 404 and role is Role.MERCHANT and operation.scope is Scope.CASE
            # Then a role the policy allows is let through, and one it does not is refused with nothing stored
            if role in operation.roles and (refused_by_policy or response.status_code == 401):
                wrong.append((role.value, method, path, response.status_code))
            if role not in operation.roles:
                if not (refused_by_policy or hidden) or stored(client) != before:
                    wrong.append((role.value, method, path, response.status_code))
    assert wrong == []


def test_a_case_outside_the_callers_store_or_region_is_not_found_and_logged(client: TestClient) -> None:
    # Given a case of SH-001 (region east)
    case = client.post("/api/complaints", json=complaint_body(), headers=PEOPLE[Role.FRONTLINE]).json()
    path = f"/api/complaints/{case['case_id']}"
    # When staff of another store, another region, or a mall merchant ask for it
    strangers = [
        staff_headers("SH-011-F1", "frontline", store="SH-011"),
        staff_headers("RM-north", "regional_manager", region="north"),
        PEOPLE[Role.MERCHANT],
    ]
    # Then each gets the answer an unknown case gets
    unknown = client.get(f"/api/complaints/{uuid4()}", headers=PEOPLE[Role.HQ])
    for headers in strangers:
        response = client.get(path, headers=headers)
        assert (response.status_code, unknown.status_code) == (404, 404)
        # Nor may they act on it
        assert client.post(f"{path}/read-back", json={}, headers=headers).status_code == 404
    # While its own store and its region see it
    for role in (Role.FRONTLINE, Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.AUDITOR):
        assert client.get(path, headers=PEOPLE[role]).status_code == 200
    # And the auditor finds each refusal in the access log
    log = client.get("/api/access-log?kind=hidden", headers=PEOPLE[Role.AUDITOR]).json()["events"]
    assert {event["subject"] for event in log} >= {"SH-011-F1", "RM-north", "SH-050-T01"}


def test_staff_file_only_for_stores_within_their_reach_and_the_token_is_the_receiver(client: TestClient) -> None:
    # When a clerk of SH-001 files for another store, and for their own claiming to be someone else
    other = client.post("/api/complaints", json=complaint_body(store_id="SH-011"), headers=PEOPLE[Role.FRONTLINE])
    claimed = complaint_body(received_by={"id": "HQ-01", "role": "hq", "name": "罗秀英"})
    own = client.post("/api/complaints", json=claimed, headers=PEOPLE[Role.FRONTLINE])
    # Then the first is refused, and the second records the signed-in clerk as receiver
    assert other.status_code == 403
    assert own.status_code == 201
    record = client.get(f"/api/complaints/{own.json()['case_id']}", headers=PEOPLE[Role.FRONTLINE]).json()
    assert record["received_by"]["id"] == "SH-001-F1" and record["received_by"]["role"] == "frontline"


def test_lists_are_narrowed_to_the_callers_reach(client: TestClient) -> None:
    # Given a clerk of SH-001 and a regional manager of the east
    clerk, regional = PEOPLE[Role.FRONTLINE], PEOPLE[Role.REGIONAL_MANAGER]
    # Then another store's queue is not found, their own is there
    assert client.get("/api/queues/store_service@SH-011", headers=clerk).status_code == 404
    assert client.get("/api/queues/store_service@SH-001", headers=clerk).status_code == 200
    assert client.get("/api/routing/queues/hq_desk", headers=regional).status_code == 404
    assert client.get("/api/queues/store_service@SH-011", headers=regional).status_code == 200
    # And a store manager's statistics for another store are refused, their own given
    manager = PEOPLE[Role.CS_MANAGER]
    assert client.get("/api/statistics/summary?store=SH-011", headers=manager).status_code == 403
    assert client.get("/api/statistics/summary", headers=manager).status_code == 200
    assert client.get("/api/statistics/summary?store=BJ-001", headers=regional).status_code == 403
    assert client.get("/api/statistics/summary?region=east", headers=regional).status_code == 200


def test_an_erasure_needs_two_real_people(client: TestClient) -> None:
    # Given a customer's case
    case = client.post("/api/complaints", json=complaint_body(), headers=PEOPLE[Role.FRONTLINE]).json()
    customer = client.get(f"/api/complaints/{case['case_id']}", headers=PEOPLE[Role.HQ]).json()["customer_id"]
    legal = PEOPLE[Role.LEGAL]
    # When legal asks and then tries to approve their own request
    asked = client.post(f"/api/customers/{customer}/erasure", json={"reason": "客户书面要求"}, headers=legal)
    own = client.post(f"/api/customers/{customer}/erasure/approval", headers=legal)
    # Then the request waits and the self-approval is refused; an approver signed in as another person erases
    assert (asked.status_code, own.status_code) == (202, 409)
    approved = client.post(f"/api/customers/{customer}/erasure/approval", headers=PEOPLE[Role.ADMIN])
    assert approved.status_code == 201 and approved.json()["keys_destroyed"] == 1


def test_who_am_i_says_what_the_token_says(client: TestClient) -> None:
    me = client.get("/api/auth/me", headers=PEOPLE[Role.REGIONAL_MANAGER]).json()
    assert me == {
        "id": "RM-east",
        "role": "regional_manager",
        "stores": [],
        "regions": ["east"],
        "merchant": None,
        "kind": "staff",
    }


def test_every_refusal_is_in_the_access_log_with_who_and_why(client: TestClient) -> None:
    # Given a case, a clerk refused by the policy and a manager refused by a business rule
    case = client.post("/api/complaints", json=complaint_body(), headers=PEOPLE[Role.FRONTLINE]).json()
    assert (
        client.post(
            f"/api/feedback/cases/{case['case_id']}/reopen", json={"reason": "r"}, headers=PEOPLE[Role.FRONTLINE]
        ).status_code
        == 403
    )
    # When the auditor reads the access log
    events = client.get("/api/access-log?kind=forbidden", headers=PEOPLE[Role.AUDITOR]).json()["events"]
    # Then the refusal is there: who, which operation, and the reason given
    [refused] = [e for e in events if e["subject"] == "SH-001-F1"]
    assert refused["operation"] == "POST /api/feedback/cases/{case_id}/reopen"
    assert "may not use" in refused["detail"]["reason"]
    # And a request without a token is there too, with the operation it tried
    client.get(f"/api/cases/{case['case_id']}", headers=ANONYMOUS)
    anonymous = client.get("/api/access-log?kind=unauthenticated", headers=PEOPLE[Role.AUDITOR]).json()["events"]
    assert "GET /api/cases/{case_id}" in {e["operation"] for e in anonymous if e["subject"] is None}
