"""schemathesis over the whole OpenAPI schema: generated requests (valid and invalid) for every operation, sent
with valid tokens of several roles, must never get a 5xx, and every response must be one the schema declares,
shaped as it declares.

The app runs in-process without relays or consumers, on SQLite; the examples are bounded and derandomised so
the run takes the same time every time (OMBUD_FUZZ_EXAMPLES raises the bound for a longer hunt).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from services.system import SERVICES, build_http
from shared.settings import Settings
from tests.support import staff_headers

# The test client's per-request cookies and raw bodies that schemathesis generates warn on every call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The schema is read from an app that never starts; the requests go to one that runs with real NATS (below).
SCHEMA = schemathesis.openapi.from_asgi(
    "/openapi.json", build_http(SERVICES, Settings(data_dir=tempfile.mkdtemp(prefix="ombud-fuzz-")), working=[])
)
ROLES = (
    staff_headers("HQ-01", "hq"),
    staff_headers("SH-001-F1", "frontline", store="SH-001"),
    staff_headers("AUD-01", "auditor"),
)
EXAMPLES = int(os.environ.get("OMBUD_FUZZ_EXAMPLES", "6"))
# What the transport arguments hold that the test client takes.
SENT = ("method", "url", "headers", "params", "cookies", "json", "data", "files", "content")
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # One client for the module: its lifespan opens the stores once.
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), nats_url=nats_url, stream_name="FUZZ")
    with TestClient(build_http(SERVICES, settings, working=[])) as c:
        yield c


def _items(files: Any) -> list[tuple[str, Any]]:
    return list(files.items()) if isinstance(files, dict) else list(files)


def as_part(part: Any) -> Any:
    """A multipart part as the test client (httpx) sends it: generated non-text values become their JSON text
    (requests would send ``str(value)``; httpx refuses anything but bytes, text or a file)."""
    if isinstance(part, tuple):
        return (part[0], as_part(part[1]), *part[2:])
    return part if isinstance(part, (bytes, str)) else json.dumps(part).encode()


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_response_as_declared(case: Any, client: TestClient) -> None:
    # When each role sends the generated request
    for headers in ROLES:
        request = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        if request.get("files"):
            request["files"] = [(name, as_part(part)) for name, part in _items(request["files"])]
        response = client.request(**{k: v for k, v in request.items() if k in SENT})
        # Then it is never a server error, and its status, type and body are as the schema declares
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
        case.validate_response(response, checks=CHECKS, headers=headers)
