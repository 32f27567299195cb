"""After erasure, no trace of the person's plaintext anywhere: the store files (or every row of every
table), every message in the NATS stream, the logs. The whole system runs in-process on real NATS,
once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import nats
import psycopg
import pytest
from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.natsauth import ADMIN, connect_options
from shared.settings import Settings
from tests.support import complaint_body, staff_headers, wait_until

READER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")
REQUESTER = staff_headers("HQ-CS-7", "hq")
AUDITOR = staff_headers("AUD-1", "auditor")


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str) -> Settings:
    return make_settings(nats_url=nats_url, stream_name=stream_name, log_level="DEBUG")


def person() -> dict[str, str]:
    """A customer whose every detail is unique to this run, so any trace of it can be found."""
    tag = uuid4().hex[:8]
    return {
        "name": f"欧阳{tag}",
        "phone": f"139{random.randrange(10**8):08d}",
        "email": f"p.{tag}@example.org",
        "address": f"上海市长宁路{random.randrange(1000, 9999)}号{tag}室",
    }


def traces(values: list[str]) -> list[bytes]:
    """What the plaintext looks like in bytes: UTF-8, and as JSON with non-ASCII escaped."""
    forms = set()
    for value in values:
        forms |= {value.encode("utf-8"), json.dumps(value, ensure_ascii=True)[1:-1].encode("ascii")}
    return sorted(forms)


def store_contents(settings: Settings) -> bytes:
    """Every byte of every file under the data folder; on PostgreSQL also every row of every table."""
    chunks = [path.read_bytes() for path in sorted(Path(settings.data_dir).rglob("*")) if path.is_file()]
    if settings.postgres_url:
        with psycopg.connect(settings.postgres_url) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (settings.postgres_schema,)
            ).fetchall()
            assert tables
            for (table,) in tables:
                for row in conn.execute(f'SELECT * FROM {settings.postgres_schema}."{table}"'):
                    chunks += [bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row]
    return b"\n".join(chunks)


def stream_contents(settings: Settings) -> bytes:
    """Every message in the stream: subject, headers and data."""

    async def read() -> bytes:
        nc = await nats.connect(settings.nats_url, **connect_options(settings, ADMIN))
        try:
            js = nc.jetstream()
            state = (await js.stream_info(settings.stream_name)).state
            chunks = []
            for seq in range(state.first_seq, state.last_seq + 1):
                msg = await js.get_msg(settings.stream_name, seq)
                chunks += [msg.subject.encode(), json.dumps(msg.headers or {}).encode(), msg.data or b""]
            return b"\n".join(chunks)
        finally:
            await nc.close()

    return asyncio.run(read())


def timeline_types(client: TestClient, case_id: str) -> list[str]:
    response = client.get(f"/api/cases/{case_id}/timeline")
    return [e["type"] for e in response.json()["events"]] if response.status_code == 200 else []


def test_after_erasure_no_plaintext_is_left_in_stores_stream_or_logs(
    settings: Settings, logs: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    customer = person()
    description = (
        f"请打电话 {customer['phone']} 找{customer['name']}，或写信到 {customer['address']}"
        f"（{customer['email']}）。手镯戴了一周就断了"
    )
    secrets = [*customer.values(), description]

    with TestClient(build_http(SERVICES, settings), headers=staff_headers("HQ-01", "hq")) as client:
        wait_until(lambda: client.get("/health").status_code == 200, timeout=10)
        # Given a complaint that went through all four services, and whose contact was read once
        # (its e-mail subject repeats the name and number: channel details are masked like the description)
        subject = {"subject": f"{customer['name']} {customer['phone']} 投诉", "message_id": f"<{customer['email']}>"}
        body = complaint_body(customer=customer, description=description, channel="email", channel_details=subject)
        response = client.post("/api/complaints", json=body)
        assert response.status_code == 201
        case_id, case_number = response.json()["case_id"], response.json()["case_number"]

        def all_four() -> bool:
            events = client.get(f"/api/cases/{case_id}/timeline")
            services = {e["service"] for e in events.json()["events"]} if events.status_code == 200 else set()
            return services == {"intake", "routing", "resolution", "feedback"}

        wait_until(all_four, timeout=10)
        contact = client.get(f"/api/complaints/{case_id}/contact", headers=READER).json()
        assert (contact["name"], contact["phone"], contact["description"]) == (
            customer["name"],
            customer["phone"],
            description,
        )
        customer_id = client.get(f"/api/complaints/{case_id}").json()["customer_id"]
        keys = client.app.state.services["intake"].app.keys  # type: ignore[attr-defined]
        [wrapped] = [row["wrapped"] for row in keys.side.query(f"SELECT wrapped FROM {keys.table}")]

        # When the customer is erased
        asked = client.post(
            f"/api/customers/{customer_id}/erasure", json={"reason": "客户依法要求删除个人信息"}, headers=REQUESTER
        )
        assert asked.status_code == 202, asked.text
        erasure = client.post(f"/api/customers/{customer_id}/erasure/approval", headers=staff_headers("HQ-03", "legal"))
        assert erasure.status_code == 201, erasure.text
        wait_until(lambda: {"ContactDetailsRead", "CustomerErased"} <= set(timeline_types(client, case_id)))

        # Then every read shows the person erased, and the case is still there and counted
        assert client.get(f"/api/complaints/{case_id}/contact", headers=READER).json() == {"erased": True}
        assert client.get(f"/api/complaints/{case_id}").json()["customer_erased"] is True
        case = client.get(f"/api/cases/{case_id}").json()
        assert (case["case_number"], case["status"], case["category"]) == (case_number, "triaged", "product_quality")
        # The history is still complete and verifiable; the auditors' exports of the case hold no plaintext either.
        assert client.get("/api/audit/verify", headers=AUDITOR).json()["ok"] is True
        exported = b"\n".join(
            client.get(f"/api/audit/cases/{case_id}/{export}", headers=AUDITOR).content
            for export in ("bundle", "report")
        )
        running = store_contents(settings)
    stored, streamed = store_contents(settings), stream_contents(settings)
    captured = capfd.readouterr()
    logged = (logs.getvalue() + captured.out + captured.err).encode("utf-8")

    # None of the person's plaintext is left anywhere ...
    scanned = {"store (running)": running, "store": stored, "NATS": streamed, "logs": logged, "exports": exported}
    for where, contents in scanned.items():
        found = [trace for trace in traces(secrets) if trace in contents]
        assert not found, f"plaintext left in the {where}: {found}"
    # The destroyed data key is gone from the store too (SQLite zeroes and checkpoints, PostgreSQL vacuums).
    assert wrapped.encode() not in stored
    # ... though the scans do see the records: the case number everywhere, the masked description on NATS.
    assert all(case_number.encode() in scanned[where] for where in ("store (running)", "store", "NATS", "exports"))
    assert b"[phone]" in streamed and logs.getvalue()
