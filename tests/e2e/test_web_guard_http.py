"""What the browser is told, over HTTP on real NATS (SQLite and PostgreSQL): security headers on every response,
CORS only for the configured origins, evidence as a download (CSV cells: tests/unit/test_csvsafe.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.settings import Settings
from tests.e2e.test_evidence_http import new_case, upload
from tests.support import wait_until
from tests.unit.test_evidence_store import png

PORTAL = "https://portal.example.com"


def assert_guarded(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_every_kind_of_response_carries_the_security_headers(client: TestClient) -> None:
    # When JSON, HTML, an error, a refused body and the health check are asked for
    case_id = new_case(client)
    responses = [
        client.get(f"/api/complaints/{case_id}"),
        client.get(f"/api/complaints/{case_id}", headers={"Authorization": "Bearer nonsense"}),
        client.get("/api/complaints/00000000-0000-0000-0000-000000000000"),
        client.post("/api/complaints", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}),
        client.get("/health"),
    ]
    wait_until(lambda: client.get(f"/api/cases/{case_id}/record-form").status_code == 200)
    responses.append(client.get(f"/api/cases/{case_id}/record-form"))
    # Then each carries the policy, and none says HSTS over plain http
    assert [r.status_code for r in responses] == [200, 401, 404, 413, 200, 200]
    for response in responses:
        assert_guarded(response)
        assert "strict-transport-security" not in response.headers


def test_hsts_is_sent_when_the_request_came_over_https(settings: Settings) -> None:
    # Given the app reached over TLS
    with TestClient(build_http(SERVICES, settings), base_url="https://ombud.example") as https:
        # When anything is asked for
        response = https.get("/health")
    # Then the browser is told to keep to https
    assert "max-age=" in response.headers["strict-transport-security"]


@pytest.fixture
def portal_client(settings: Settings) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"cors_origins": [PORTAL]})
    with TestClient(build_http(SERVICES, configured)) as c:
        yield c


def test_cors_allows_only_the_configured_origins(client: TestClient, portal_client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    # Given no origin configured, when a page elsewhere asks
    refused = client.options("/api/complaints", headers={"Origin": PORTAL, **preflight})
    # Then the browser gets no permission
    assert "access-control-allow-origin" not in refused.headers
    # Given the portal configured, when it asks, it is allowed, and another origin is not
    allowed = portal_client.options("/api/complaints", headers={"Origin": PORTAL, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == PORTAL
    stranger = portal_client.options("/api/complaints", headers={"Origin": "https://evil.example", **preflight})
    assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers


def test_evidence_is_served_as_a_download(client: TestClient) -> None:
    # Given a photo attached to a case
    case_id = new_case(client)
    uploaded = upload(client, case_id, png(8, 8), "photo.png")
    assert uploaded.status_code == 201, uploaded.text
    # When it is fetched
    response = client.get(f"/api/cases/{case_id}/evidence/{uploaded.json()['sha256']}")
    # Then the browser saves it rather than rendering it in Ombud's origin
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert_guarded(response)


def test_hsts_is_sent_behind_a_trusted_tls_proxy_only(settings: Settings) -> None:
    # Given the app behind a gateway in 10.0.0.0/8 that terminates TLS
    behind = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    forwarded = {"X-Forwarded-Proto": "https"}
    with TestClient(build_http(SERVICES, behind), client=("203.0.113.9", 5000)) as direct:
        # When a client that is no proxy claims https, the claim counts for nothing
        assert "strict-transport-security" not in direct.get("/health", headers=forwarded).headers
    with TestClient(build_http(SERVICES, behind), client=("10.0.0.2", 5000)) as proxied:
        # When the trusted gateway says so, the browser is told to keep to https
        assert "max-age=" in proxied.get("/health", headers=forwarded).headers["strict-transport-security"]
