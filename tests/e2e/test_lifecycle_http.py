"""A complaint's whole lifecycle over HTTP in the whole system on real NATS, once on SQLite and once on PostgreSQL,
time moved by a ManualClock: received, triaged, a proposal approved and offered, accepted, executed, resolved; the
survey answered 2 reopens the case (routing's resolve clock runs again, resolution investigates again); proposed,
approved, offered, accepted, executed and resolved again; the survey answered 5 closes it; the timeline tells it all.
Also the survey's bad input, the follow-up view and a manager's reopening over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.system import SERVICES, build_http
from shared.clock import ManualClock
from shared.settings import Settings
from tests.channels import Webhook, answered
from tests.support import complaint_body, staff_headers, wait_until

FRONTLINE = staff_headers("SH-001-F1", "frontline", store="SH-001")
MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")
MINUTE = timedelta(minutes=1)


class Lifecycle:
    """The client, the clock and the steps of a case, each a minute (or more) after the one before."""

    def __init__(self, client: TestClient, clock: ManualClock, webhook: Webhook) -> None:
        self.client = client
        self.clock = clock
        self.webhook = webhook
        self.feedback = client.app.state.services["feedback"].app  # type: ignore[attr-defined]

    def later(self, delta: timedelta = MINUTE) -> None:
        self.clock.advance(delta)

    def file(self) -> str:
        response = self.client.post("/api/complaints", json=complaint_body())
        assert response.status_code == 201, response.text
        case = str(response.json()["case_id"])
        wait_until(lambda: self.client.get(f"/api/resolution/cases/{case}").status_code == 200)
        wait_until(lambda: self.clocks(case)["acknowledge"]["state"] == "stopped")
        return case

    def resolution(self, case: str, rest: str = "", body: dict[str, Any] | None = None,
                   headers: dict[str, str] = FRONTLINE) -> dict[str, Any]:  # fmt: skip
        self.later()
        response = self.client.post(f"/api/resolution/cases/{case}{rest}", json=body, headers=headers)
        assert response.status_code == 200, (rest, response.text)
        return dict(response.json())

    def stage(self, case: str) -> str:
        return str(self.client.get(f"/api/resolution/cases/{case}").json()["stage"])

    def clocks(self, case: str) -> dict[str, dict[str, Any]]:
        response = self.client.get(f"/api/cases/{case}/clocks")
        assert response.status_code == 200, response.text
        return {c["clock"]: c for c in response.json()["clocks"]}

    def status(self, case: str) -> str | None:
        response = self.client.get(f"/api/cases/{case}")
        return response.json().get("status") if response.status_code == 200 else None

    def follow_up(self, case: str) -> dict[str, Any]:
        response = self.client.get(f"/api/feedback/cases/{case}/follow-up")
        return dict(response.json()) if response.status_code == 200 else {}

    def timeline(self, case: str) -> list[dict[str, Any]]:
        return list(self.client.get(f"/api/cases/{case}/timeline").json()["events"])

    def resolve(self, case: str, amount: str) -> None:
        """Propose a refund (beyond the frontline: the manager approves), offer it, the customer accepts with the
        link the offer's message brought them, the refund is paid: resolved."""
        seen = len(self.webhook.tokens(case, "answer"))
        body = {"remedies": [{"remedy": "apology"}, {"remedy": "refund", "amount": amount}]}
        assert self.resolution(case, "/proposals", body)["stage"] == "awaiting_approval"
        assert self.resolution(case, "/proposals/current/approval", None, MANAGER)["stage"] == "proposed"
        offer = self.resolution(case, "/proposals/current/offer")
        assert offer["stage"] == "awaiting_customer" and "customer_token" not in offer
        token = self.webhook.next_token(case, "answer", seen)
        wait_until(lambda: self.status(case) == "awaiting_customer")
        self.later()
        answer = {"token": token, "answer": "accept"}
        accepted = answered(lambda: self.client.post(f"/api/public/cases/{case}/answer", json=answer))
        assert accepted.status_code == 200, accepted.text
        assert self.client.post(f"/api/public/cases/{case}/answer", json=answer).status_code == 404  # spent
        wait_until(lambda: self.status(case) == "resolving")
        for index in (0, 1):
            view = self.resolution(case, f"/remedies/{index}/execution", {"reference": f"REF-{index}"})
        assert view["stage"] == "resolved"
        wait_until(lambda: self.status(case) == "follow_up")
        wait_until(lambda: self.clocks(case).get("follow_up", {}).get("state") == "running")

    def survey_goes_out(self, case: str, attempt: int) -> str:
        """A day later the follow-up worker sends the survey; the token of its link, once feedback knows it."""
        seen = len(self.webhook.tokens(case, "survey"))
        self.later(timedelta(days=1))
        self.feedback.send_due_surveys()
        wait_until(lambda: len(self.follow_up(case).get("attempts", [])) == attempt)
        token = self.webhook.next_token(case, "survey", seen)
        round_ = str(self.follow_up(case)["round"])
        wait_until(lambda: self.feedback.links.check(UUID(case), round_, token, self.clock.now()))
        return token

    def answer(self, case: str, token: str, **body: Any) -> Any:
        self.later()
        return self.client.post(f"/api/public/cases/{case}/survey", json={"token": token, **body})


@pytest.fixture
def life(settings: Settings, webhook: Webhook) -> Iterator[Lifecycle]:
    clock = ManualClock(start=datetime.now(UTC))
    with TestClient(build_http(SERVICES, settings, clock=clock), headers=staff_headers("HQ-01", "hq")) as client:
        wait_until(lambda: client.get("/health").status_code == 200, timeout=10)
        yield Lifecycle(client, clock, webhook)


def test_a_case_runs_its_whole_lifecycle_through_a_reopen_to_closed(life: Lifecycle) -> None:
    # Received and triaged
    case = life.file()
    wait_until(lambda: life.status(case) == "triaged")
    assert life.client.get(f"/api/feedback/cases/{case}/follow-up").status_code == 404

    # Investigated, proposed, approved, offered, accepted, executed: resolved, the follow-up scheduled
    life.resolution(case, "/investigation", {"plan": "check the clasp"}, MANAGER)
    life.resolution(case, "/findings", {"findings": "weak solder joint", "root_cause": "production"})
    life.resolve(case, "399.00")
    follow_up = wait_until(lambda: life.follow_up(case) or None)
    assert (follow_up["state"], follow_up["round"], follow_up["attempts"]) == ("scheduled", 1, [])

    # A day later the survey goes out with a link; the customer answers 2: reopened
    token = life.survey_goes_out(case, 1)
    answered = life.answer(case, token, score=2, anything_left=False, comment="the clasp broke again")
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"case_id": case, "round": 1, "state": "reopened", "outcome": None}
    wait_until(lambda: life.status(case) == "reopened")
    wait_until(lambda: life.stage(case) == "investigating")
    resolve = wait_until(lambda: (c := life.clocks(case)["resolve"])["state"] == "running" and c)
    resolved_at = datetime.fromisoformat(follow_up["due_at"]) - timedelta(days=7)
    assert datetime.fromisoformat(resolve["started_at"]) > resolved_at  # started again at the reopening
    wait_until(lambda: life.clocks(case)["follow_up"]["state"] == "stopped")
    assert life.follow_up(case)["reopened"]["reason"] == "the clasp broke again"

    # Proposed, approved, offered, accepted, executed again: resolved, round 2
    life.resolve(case, "1500.00")
    wait_until(lambda: life.follow_up(case).get("round") == 2)
    assert life.answer(case, token, score=5).status_code == 404  # round 1's link is spent
    token = life.survey_goes_out(case, 1)
    closed = life.answer(case, token, score=5, anything_left=False, comment="thank you")
    assert closed.status_code == 200, closed.text
    assert closed.json() == {"case_id": case, "round": 2, "state": "closed", "outcome": "satisfied"}
    wait_until(lambda: life.status(case) == "closed")
    wait_until(lambda: all(c["state"] == "stopped" for c in life.clocks(case).values()))
    view = life.follow_up(case)
    assert (view["state"], view["outcome"], view["answer"]["score"]) == ("closed", "satisfied", 5)
    assert [r["round"] for r in view["rounds"]] == [1, 2]
    assert "round 2" in view["summary"] and "score 2/5" in view["summary"]

    # The timeline tells the whole story, in order
    def story() -> list[str] | None:
        kinds = [e["type"] for e in life.timeline(case)]
        return kinds if "CaseClosed" in kinds and "ClockStopped" in kinds[kinds.index("CaseClosed") :] else None

    kinds = wait_until(story)
    key = [
        "ComplaintReceived", "ComplaintTriaged", "InvestigationPlanned", "FindingsRecorded",
        "RemedyProposed", "ProposalApproved", "ProposalOffered", "MessagePrepared", "CustomerAccepted",
        "RemedyExecuted", "CaseResolved", "MessagePrepared", "FollowUpScheduled", "SurveySent", "MessagePrepared",
        "SurveyAnswered", "CaseReopened", "ResolutionReopened",
        "RemedyProposed", "ProposalApproved", "ProposalOffered", "MessagePrepared", "CustomerAccepted",
        "RemedyExecuted", "CaseResolved", "MessagePrepared", "FollowUpScheduled", "SurveySent", "MessagePrepared",
        "SurveyAnswered", "CaseClosed",
    ]  # fmt: skip
    assert _subsequence(key, kinds), kinds
    # Each proposal and survey went out with a link (issued at the same clock instant as the message, so the
    # timeline may place it beside it either way); the tokens reached the customer alone: the timeline names
    # each link by its id
    assert kinds.count("CustomerLinkIssued") == 4
    timeline = life.client.get(f"/api/cases/{case}/timeline").text
    assert life.webhook.tokens(case, "answer") and life.webhook.tokens(case, "survey")
    assert not [t for t in life.webhook.tokens(case, "answer") + life.webhook.tokens(case, "survey") if t in timeline]
    # (intake's acknowledgement runs beside triage, in either order)
    assert kinds.index("ComplaintReceived") < kinds.index("AcknowledgementPrepared") < kinds.index("RemedyProposed")
    templates = [e["payload"]["template"] for e in life.timeline(case) if e["type"] == "MessagePrepared"]
    assert templates == ["proposal", "result", "survey", "proposal", "result", "survey"]
    closing = next(e for e in life.timeline(case) if e["type"] == "CaseClosed")
    assert (closing["payload"]["outcome"], closing["payload"]["attempts"]) == ("satisfied", 1)
    assert closing["actor"]["role"] == "customer"
    # And it tells it in both languages: every event labelled, the same events in the same order
    told = {
        lang: life.client.get(f"/api/cases/{case}/timeline", params={"lang": lang}).json()["events"]
        for lang in ("zh", "en")
    }
    # (intake's delivery loop may record an event between the two reads: compare the events both reads hold)
    both = {e["msg_id"] for e in told["zh"]} & {e["msg_id"] for e in told["en"]}
    in_zh, in_en = ([e["type"] for e in told[lang] if e["msg_id"] in both] for lang in ("zh", "en"))
    assert in_zh == in_en and _subsequence(key, in_zh)
    labels = {lang: {e["type"]: e["label"] for e in events} for lang, events in told.items()}
    assert (labels["zh"]["CaseReopened"], labels["en"]["CaseClosed"]) == ("重新开启", "Case closed")
    assert all(labels["zh"][t] != labels["en"][t] for t in labels["zh"])


def test_survey_input_and_a_managers_reopening_over_http(life: Lifecycle) -> None:
    case = life.file()
    life.resolution(case, "/investigation", {"plan": "check the clasp"}, MANAGER)
    life.resolution(case, "/findings", {"findings": "weak solder joint", "root_cause": "production"})
    life.resolve(case, "399.00")
    wait_until(lambda: life.follow_up(case) or None)
    token = life.survey_goes_out(case, 1)

    # A wrong token is an unknown case; a score outside 1–5 names the field; nothing changes
    assert life.answer(case, "x" * 32, score=5).status_code == 404
    for score in (0, 6):
        bad = life.answer(case, token, score=score)
        assert bad.status_code == 422
        assert [p["field"] for p in bad.json()["detail"]] == ["score"]
    assert life.follow_up(case)["answer"] is None

    # Not closed yet: a manager cannot reopen it
    reopen = f"/api/feedback/cases/{case}/reopen"
    assert life.client.post(reopen, json={"reason": "too early"}, headers=MANAGER).status_code == 409
    # 3 with nothing left closes it as neutral
    neutral = life.answer(case, token, score=3)
    assert neutral.json()["outcome"] == "neutral"
    wait_until(lambda: life.status(case) == "closed")
    assert life.answer(case, token, score=5).status_code == 404  # the answer spent the link

    # The frontline may not reopen it; a manager may, with a reason
    assert life.client.post(reopen, json={"reason": "I disagree"}, headers=FRONTLINE).status_code == 403
    assert life.client.post(reopen, json={"reason": ""}, headers=MANAGER).status_code == 422
    life.later()
    reopened = life.client.post(reopen, json={"reason": "audit: the refund was short"}, headers=MANAGER)
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["state"], reopened.json()["reopened"]["by"]) == ("reopened", "manager")
    wait_until(lambda: life.status(case) == "reopened")
    wait_until(lambda: life.stage(case) == "investigating")
    wait_until(lambda: life.clocks(case)["resolve"]["state"] == "running")
    assert life.client.post(reopen, json={"reason": "again"}, headers=MANAGER).status_code == 409


def _subsequence(wanted: list[str], actual: list[str]) -> bool:
    remaining = iter(actual)
    return all(kind in remaining for kind in wanted)
