"""The whole system in-process over HTTP, on real NATS, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.settings import Settings
from tests.channels import Webhook
from tests.support import staff_headers, wait_until


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str, webhook: Webhook) -> Settings:
    return make_settings(nats_url=nats_url, stream_name=stream_name, notify_webhook_url=webhook.url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_http(SERVICES, settings), headers=staff_headers("HQ-01", "hq")) as c:
        wait_until(lambda: c.get("/health").status_code == 200, timeout=10)
        yield c
