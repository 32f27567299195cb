"""Signing in: Ombud's own identity provider (passwords set by `ombud users set-password`, short-lived tokens),
the sign-in throttle, tokens for scripts, and a chain's OIDC provider verified by its JWKS (a real HTTP server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from services.system import build_http
from shared.access.store import IdentityStore
from shared.access.tokens import TokenVerifier
from shared.clock import SystemClock
from shared.settings import REPO_ROOT, Settings
from tests.support import staff_headers

PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    store = IdentityStore(settings, SystemClock())
    store.set_password("SH-001-F1", PASSWORD)
    store.close()
    with TestClient(build_http(["intake"], settings, working=[])) as c:
        yield c


def sign_in(client: TestClient, username: str, password: str) -> tuple[int, dict]:
    response = client.post("/api/auth/token", data={"username": username, "password": password})
    return response.status_code, response.json()


def test_a_clerk_signs_in_and_the_token_says_who_and_where(client: TestClient) -> None:
    # When the clerk signs in with the password set for them
    status, body = sign_in(client, "SH-001-F1", PASSWORD)
    # Then they get a short-lived bearer token naming them, their role and their store
    assert status == 200 and body["token_type"] == "bearer" and 60 <= body["expires_in"] <= 3600
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert (me["id"], me["role"], me["stores"]) == ("SH-001-F1", "frontline", ["SH-001"])


def test_a_wrong_password_or_an_unknown_account_is_refused_alike_and_logged(client: TestClient) -> None:
    wrong = sign_in(client, "SH-001-F1", "not the password")
    unknown = sign_in(client, "NOBODY-1", PASSWORD)
    no_password = sign_in(client, "SH-011-F1", PASSWORD)  # in the master data, never given a password
    assert wrong == unknown == no_password == (401, {"detail": "wrong staff id or password"})
    # The auditor reads each refusal
    assert sign_in(client, "SH-001-F1", PASSWORD)[0] == 200
    events = client.get("/api/access-log", headers=staff_headers("AUD-01", "auditor")).json()["events"]
    kinds = [(e["kind"], e["subject"]) for e in events]
    assert ("sign_in_refused", "NOBODY-1") in kinds and ("signed_in", "SH-001-F1") in kinds


def test_failed_sign_ins_slow_an_account_down(client: TestClient) -> None:
    # Given five wrong passwords for one account
    for _ in range(5):
        assert sign_in(client, "SH-001-F1", "guess")[0] == 401
    # Then even the right password waits (429 with Retry-After), while another account still signs in
    response = client.post("/api/auth/token", data={"username": "SH-001-F1", "password": PASSWORD})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    store = IdentityStore(client.app.state.settings, SystemClock())  # type: ignore[attr-defined]
    store.set_password("SH-001-M1", PASSWORD)
    store.close()
    assert sign_in(client, "SH-001-M1", PASSWORD)[0] == 200


def test_an_expired_or_not_yet_valid_token_is_refused(client: TestClient, settings: Settings) -> None:
    key = client.app.state.access.issuer.key  # type: ignore[attr-defined]
    now = int(time.time())
    claims = {"iss": "ombud", "aud": "ombud", "sub": "HQ-01", "roles": ["hq"], "iat": now - 7200}
    expired = jwt.encode({**claims, "exp": now - 3600}, key, algorithm="EdDSA")
    future = jwt.encode({**claims, "iat": now, "nbf": now + 3600, "exp": now + 7200}, key, algorithm="EdDSA")
    unsigned = jwt.encode({**claims, "exp": now + 600}, None, algorithm="none")
    for token in (expired, future, unsigned, "not-a-jwt", "x" * 9000):
        assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_cli_sets_a_password_and_prints_tokens_for_scripts_and_service_accounts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # The install's own key, as on a fresh machine: none of the test session's settings.
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMBUD_")}

    def ombud(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args, "--data-dir", str(data)],
            input=stdin, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=60,
        )  # fmt: skip

    # A short password, or one given as an argument, is refused
    assert ombud("users", "set-password", "SH-001-F1", "--password-stdin", stdin="short\n").returncode != 0
    assert ombud("users", "set-password", "SH-001-F1", stdin=PASSWORD + "\n").returncode != 0
    # A staff member of the master data gets a password; a stranger does not
    assert ombud("users", "set-password", "SH-001-F1", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    assert ombud("users", "set-password", "NOBODY", "--password-stdin", stdin=PASSWORD + "\n").returncode != 0
    # Tokens for a person and for an integration verify with the install's generated key
    person = ombud("token", "create", "SH-001-M1", "--ttl", "600")
    service = ombud("token", "create", "crm-bridge", "--role", "frontline", "--store", "SH-001")
    assert person.returncode == 0 and service.returncode == 0, person.stderr + service.stderr
    verifier = TokenVerifier(Settings(data_dir=data, auth_key_file=None, key_dir=None, mode="embedded"))
    assert verifier.verify(person.stdout.strip()).stores == ("SH-001",)
    bridge = verifier.verify(service.stdout.strip())
    assert (bridge.id, bridge.kind, bridge.role.value) == ("crm-bridge", "service", "frontline")
    assert (data / "keys" / "auth.pem").stat().st_mode & 0o077 == 0


class _Jwks(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: object) -> None:
        return


def test_an_oidc_providers_token_is_verified_by_its_jwks(make_settings: Callable[..., Settings]) -> None:
    # Given a chain's identity provider publishing its RSA key on a JWKS URL (a real HTTP server)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    _Jwks.body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    server = HTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = make_settings(
        auth_mode="oidc",
        oidc_issuer="https://id.example-chain.cn",
        oidc_audience="ombud-api",
        oidc_jwks_url=f"http://127.0.0.1:{server.server_port}/jwks",
        auth_claim_roles="ombud_roles",
        auth_claim_stores="ombud_stores",
    )
    now = int(time.time())
    claims = {
        "iss": "https://id.example-chain.cn", "aud": "ombud-api", "sub": "u-77", "iat": now, "exp": now + 300,
        "ombud_roles": ["cs_manager"], "ombud_stores": ["SH-001"],
    }  # fmt: skip
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    other_audience = jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="RS256", headers={"kid": "k1"})
    try:
        with TestClient(build_http(["intake"], settings, working=[])) as client:
            # Then its tokens are accepted with the claims mapped, and one for another audience is not
            me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and (me.json()["id"], me.json()["stores"]) == ("u-77", ["SH-001"])
            assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {other_audience}"}).status_code == 401
            # And Ombud's own sign-in is not offered
            assert client.post("/api/auth/token", data={"username": "x", "password": "y"}).status_code == 404
    finally:
        server.shutdown()
