"""A customer's links work once and leave no token behind: the whole system in-process on real NATS (once on SQLite,
once on PostgreSQL), time moved by a ManualClock. A complaint, a proposal offered and accepted through the link the
customer was sent, executed, a survey sent and answered through its link; each link refused the second time. Then
no token is anywhere but in the customer's messages: not in the store files (or any row of any table), the NATS
stream, the log, the timeline, the case view or the record form."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.clock import ManualClock
from shared.customerlinks import token_hash
from shared.settings import Settings
from tests.channels import Webhook, answered
from tests.integration.test_erasure_scan import store_contents, stream_contents, traces
from tests.support import complaint_body, staff_headers, wait_until

MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str, webhook: Webhook) -> Settings:
    return make_settings(nats_url=nats_url, stream_name=stream_name, log_level="DEBUG", notify_webhook_url=webhook.url)


def test_links_answer_once_and_no_token_is_left_in_stores_stream_logs_or_read_models(
    settings: Settings, webhook: Webhook, logs: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock(start=datetime.now(UTC))
    customer = {"name": f"欧阳{uuid4().hex[:6]}", "phone": "13912345678"}  # a phone only: messages go by SMS
    with TestClient(build_http(SERVICES, settings, clock=clock)) as client:
        wait_until(lambda: client.get("/health").status_code == 200, timeout=10)

        def staff(path: str, body: object = None) -> dict[str, object]:
            clock.advance(timedelta(minutes=1))
            response = client.post(f"/api/resolution/cases/{case}{path}", json=body, headers=MANAGER)
            assert response.status_code == 200, (path, response.text)
            return dict(response.json())

        def customer_says(what: str, body: dict[str, object]) -> httpx.Response:
            return client.post(f"/api/public/cases/{case}/{what}", json=body)

        # Given a complaint, investigated, and a proposal offered
        filed = client.post("/api/complaints", json=complaint_body(customer=customer), headers=MANAGER)
        assert filed.status_code == 201, filed.text
        case, case_number = filed.json()["case_id"], filed.json()["case_number"]
        wait_until(lambda: client.get(f"/api/resolution/cases/{case}", headers=MANAGER).status_code == 200)
        staff("/investigation", {"plan": "check the clasp"})
        staff("/findings", {"findings": "weak solder joint", "root_cause": "production"})
        staff("/proposals", {"remedies": [{"remedy": "apology"}, {"remedy": "coupon", "amount": "100.00"}]})
        offer = staff("/proposals/current/offer")
        assert offer["stage"] == "awaiting_customer" and "customer_token" not in offer

        # When the customer answers through the link the offer's message brought them
        proposal_token = webhook.next_token(case, "answer", 0)
        accept = {"token": proposal_token, "answer": "accept"}
        accepted = answered(lambda: customer_says("answer", accept))
        # Then it is accepted, once: the answer was final, the link is spent
        assert accepted.status_code == 200, accepted.text
        assert customer_says("answer", accept).status_code == 404
        assert customer_says("answer", {**accept, "answer": "refuse", "reason": "no"}).status_code == 404

        # Given the remedies carried out, and a day later the survey sent with its link
        staff("/remedies/0/execution", {"reference": "APOLOGY-1"})
        staff("/remedies/1/execution", {"reference": "COUPON-1"})
        feedback = client.app.state.services["feedback"].app  # type: ignore[attr-defined]
        wait_until(lambda: client.get(f"/api/feedback/cases/{case}/follow-up", headers=MANAGER).status_code == 200)
        clock.advance(timedelta(days=1))
        assert feedback.send_due_surveys() == 2
        survey_token = webhook.next_token(case, "survey", 0)
        # When the customer answers it, Then once only; the proposal's link does not open the survey
        survey = {"token": survey_token, "score": 5, "anything_left": False}
        assert customer_says("survey", {**survey, "token": proposal_token}).status_code == 404
        done = answered(lambda: customer_says("survey", survey))
        assert done.status_code == 200 and done.json()["state"] == "closed", done.text
        assert customer_says("survey", survey).status_code == 404

        wait_until(lambda: client.get(f"/api/cases/{case}", headers=MANAGER).json().get("status") == "closed")
        wait_until(lambda: "SurveyAnswered" in client.get(f"/api/cases/{case}/timeline", headers=MANAGER).text)
        reads = [client.get(f"/api/cases/{case}{view}", headers=MANAGER)
                 for view in ("", "/timeline", "/record-form", "/clocks", "/messages")]  # fmt: skip
        assert [r.status_code for r in reads] == [200] * len(reads)
        read_models = b"\n".join(r.content for r in reads)
        running = store_contents(settings)
    stored, streamed = store_contents(settings), stream_contents(settings)
    captured = capfd.readouterr()
    logged = (logs.getvalue() + captured.out + captured.err).encode("utf-8")

    # No token is left anywhere ...
    tokens = [proposal_token, survey_token]
    scanned = {"store (running)": running, "store": stored, "NATS": streamed, "logs": logged,
               "read models": read_models}  # fmt: skip
    for where, contents in scanned.items():
        found = [trace for trace in traces(tokens) if trace in contents]
        assert not found, f"a customer token is left in the {where}: {found}"
    # ... though the scans see the links: by their hash in the stores and on NATS, by their id in the log
    for token in tokens:
        assert token_hash(token).encode() in stored and token_hash(token).encode() in streamed
        assert token_hash(token)[:16].encode() in logged
    assert case_number.encode() in read_models
