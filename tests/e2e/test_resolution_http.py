"""Resolution over HTTP in the whole system on real NATS, once on SQLite and once on PostgreSQL: a case from its
investigation through a proposal approved up the tiers, the customer's answer through the link sent to them,
execution and the resolved case; a wrong token, two refusals escalating the case, bad input refused without change,
and fraud (CPL art. 55)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from tests.channels import Webhook
from tests.support import ANONYMOUS, complaint_body, event_types, staff_headers, wait_until

FRONTLINE = staff_headers("SH-001-F1", "frontline", store="SH-001")
MANAGER = staff_headers("SH-001-M1", "cs_manager", store="SH-001")
REGIONAL = staff_headers("RM-east", "regional_manager", region="east")
HQ = staff_headers("HQ-01", "hq")
LEGAL = staff_headers("HQ-03", "legal")
SHA = "ab" * 32
PRICE = "3980.00"
LIFECYCLE = [
    "RemedyProposed",
    "ProposalApproved",
    "ProposalApproved",
    "ProposalOffered",
    "CustomerAccepted",
    "RemedyExecuted",
    "CaseResolved",
]


def file(client: TestClient, **overrides: Any) -> str:
    """File a complaint and wait until resolution has opened its resolution; the case id."""
    response = client.post("/api/complaints", json=complaint_body(**overrides))
    assert response.status_code == 201, response.text
    case_id = str(response.json()["case_id"])
    wait_until(lambda: client.get(f"/api/resolution/cases/{case_id}").status_code == 200)
    return case_id


def path(case_id: str, rest: str = "") -> str:
    return f"/api/resolution/cases/{case_id}{rest}"


def ok(client: TestClient, case_id: str, rest: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Any:
    response = client.post(path(case_id, rest), json=body, headers=headers)
    assert response.status_code == 200, (rest, response.text)
    return response.json()


def resolution(client: TestClient, case_id: str) -> dict[str, Any]:
    response = client.get(path(case_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


def answer(client: TestClient, case_id: str, token: str, **body: Any) -> Any:
    return client.post(f"/api/public/cases/{case_id}/answer", json={"token": token, **body})


def clocks(client: TestClient, case_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/cases/{case_id}/clocks")
    assert response.status_code == 200, response.text
    return {c["clock"]: c for c in response.json()["clocks"]}


def triage(client: TestClient, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/routing/cases/{case_id}/triage")
    assert response.status_code == 200, response.text
    return dict(response.json())


def case_view(client: TestClient, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/cases/{case_id}")
    return dict(response.json()) if response.status_code == 200 else {}


def timeline_types(client: TestClient, case_id: str) -> list[str]:
    return [e["type"] for e in client.get(f"/api/cases/{case_id}/timeline").json()["events"]]


def resolution_events(client: TestClient) -> list[str]:
    return event_types(client.app.state.services["resolution"].app)  # type: ignore[attr-defined]


def investigated(client: TestClient, case_id: str, root_cause: str = "production") -> None:
    ok(client, case_id, "/investigation", {"plan": "check the clasp and the batch"}, MANAGER)
    ok(client, case_id, "/findings", {"findings": "weak solder joint", "root_cause": root_cause}, FRONTLINE)


def offered(client: TestClient, webhook: Webhook, case_id: str) -> str:
    """A small proposal the frontline grants alone, put to the customer; the token of the link sent to them."""
    lines = [{"remedy": "apology"}, {"remedy": "coupon", "amount": "100.00"}]
    view = ok(client, case_id, "/proposals", {"remedies": lines}, FRONTLINE)
    assert view["stage"] == "proposed"
    seen = len(webhook.tokens(case_id, "answer"))
    offer = ok(client, case_id, "/proposals/current/offer", None, FRONTLINE)
    assert offer["stage"] == "awaiting_customer"
    return link_to_answer(client, webhook, case_id, seen, proposal=len(offer["proposals"]))


def link_to_answer(client: TestClient, webhook: Webhook, case_id: str, seen: int, proposal: int) -> str:
    """The token of the answer link delivered after the ``seen`` first ones, once resolution knows it."""
    token = webhook.next_token(case_id, "answer", seen)
    links = client.app.state.services["resolution"].app.answer_links  # type: ignore[attr-defined]
    wait_until(lambda: links.check(UUID(case_id), str(proposal), token, datetime.now(UTC)))
    return token


def test_a_case_runs_from_investigation_to_resolved(client: TestClient, webhook: Webhook) -> None:
    case = file(client)
    opened = resolution(client, case)
    assert (opened["stage"], opened["proposals"], opened["execution"]) == ("open", [], [])

    # Investigation: a plan, findings with the root cause
    investigated(client, case)
    assert resolution(client, case)["root_cause"] == "production"

    # The standards suggest an exchange at the price paid for a product defect
    suggestion = client.get(path(case, "/compensation-suggestion"))
    assert suggestion.status_code == 200, suggestion.text
    assert suggestion.json()["basis"] == "product_defect"
    [line] = suggestion.json()["remedies"]
    assert line["remedy"] == "exchange" and line["amount"] == PRICE
    assert suggestion.json()["total"] == PRICE

    # The frontline proposes a full refund: beyond their tier, it needs the regional manager
    body = {"remedies": [{"remedy": "refund", "amount": PRICE}]}
    view = ok(client, case, "/proposals", body, FRONTLINE)
    assert view["stage"] == "awaiting_approval"
    [proposal] = view["proposals"]
    assert (proposal["required_tier"], proposal["proposer_tier"]) == ("regional_manager", "frontline")
    assert (proposal["total"], proposal["state"], proposal["proposer"]) == (PRICE, "awaiting_approval", "SH-001-F1")
    assert proposal["suggestion"]["basis"] == "product_defect"
    wait_until(lambda: case_view(client, case).get("status") == "awaiting_approval")

    # Not by the proposer (a clerk may not approve at all); the store manager endorses; the regional manager approves
    before = resolution(client, case)
    own = client.post(path(case, "/proposals/current/approval"), headers=FRONTLINE)
    assert own.status_code == 403, own.text
    assert resolution(client, case) == before
    endorsed = ok(client, case, "/proposals/current/approval", None, MANAGER)
    assert endorsed["stage"] == "awaiting_approval"
    assert endorsed["proposals"][0]["approvals"] == [{"by": "SH-001-M1", "tier": "cs_manager"}]
    approved = ok(client, case, "/proposals/current/approval", None, REGIONAL)
    assert (approved["stage"], approved["proposals"][0]["state"]) == ("proposed", "proposed")
    assert [a["by"] for a in approved["proposals"][0]["approvals"]] == ["SH-001-M1", "RM-east"]
    wait_until(lambda: case_view(client, case).get("status") == "proposed")

    # Offered: a link reaches the customer (staff never see its token), and routing's resolve clock pauses while
    # the case waits on them
    offer = ok(client, case, "/proposals/current/offer", None, FRONTLINE)
    assert offer["stage"] == "awaiting_customer" and "customer_token" not in offer
    assert offer["answer_path"] == f"/api/public/cases/{case}/answer"
    token = link_to_answer(client, webhook, case, 0, proposal=1)
    wait_until(lambda: clocks(client, case)["resolve"]["state"] == "paused")
    wait_until(lambda: triage(client, case)["awaiting_customer"] is True)
    wait_until(lambda: case_view(client, case).get("status") == "awaiting_customer")

    # The customer accepts with the token, without any staff headers; routing resumes the clock
    accepted = answer(client, case, token, answer="accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"case_id": case, "proposal": 1, "state": "accepted"}
    view = resolution(client, case)
    assert view["stage"] == "resolving"
    assert view["execution"] == [{"index": 0, "remedy": "refund", "amount": PRICE, "done": False, "reference": None}]
    wait_until(lambda: clocks(client, case)["resolve"]["state"] == "running")
    wait_until(lambda: triage(client, case)["awaiting_customer"] is False)

    # The refund is paid with its reference: resolved, everywhere
    done = ok(client, case, "/remedies/0/execution", {"reference": "REF-20261125-01"}, FRONTLINE)
    assert done["stage"] == "resolved"
    assert done["execution"][0]["done"] is True and done["execution"][0]["reference"] == "REF-20261125-01"
    assert resolution(client, case) == done
    # Resolved, then at once in follow-up (feedback schedules the satisfaction survey)
    wait_until(lambda: case_view(client, case).get("status") in ("resolved", "follow_up"))
    wait_until(lambda: clocks(client, case)["resolve"]["state"] == "stopped")
    resolve = clocks(client, case)["resolve"]
    assert resolve["met"] is True and resolve["stopped_at"] is not None
    assert resolve["paused_seconds"] >= 0

    # The timeline holds the resolution's steps in order. RemedyExecuted and CaseResolved were recorded by one
    # command at the same instant as resolution's notifications 9 and 10: their order must be numeric, not "9" > "10"
    wait_until(lambda: "CaseResolved" in timeline_types(client, case))
    events = client.get(f"/api/cases/{case}/timeline").json()["events"]
    steps = [e for e in events if e["type"] in set(LIFECYCLE)]
    assert [e["type"] for e in steps] == LIFECYCLE
    executed, resolved = steps[-2:]
    assert executed["recorded_at"] == resolved["recorded_at"]
    assert (executed["msg_id"], resolved["msg_id"]) == ("resolution:9", "resolution:10")


def test_a_wrong_token_changes_nothing_and_a_second_refusal_escalates(client: TestClient, webhook: Webhook) -> None:
    case = file(client)
    investigated(client, case, root_cause="staff_conduct")
    owner_tier = triage(client, case)["owner"]["tier"]
    assert owner_tier == "frontline"
    token = offered(client, webhook, case)
    wait_until(lambda: triage(client, case)["awaiting_customer"] is True)

    # A wrong token is answered like an unknown case, and stores nothing
    before, recorded = resolution(client, case), resolution_events(client)
    wrong = answer(client, case, "0" * len(token), answer="accept")
    assert wrong.status_code == 404, wrong.text
    other_case = file(client)
    assert answer(client, other_case, token, answer="accept").status_code == 404  # another case's token
    assert resolution(client, case) == before
    assert resolution_events(client)[: len(recorded)] == recorded
    assert "CustomerAccepted" not in resolution_events(client)

    # A refusal needs its reason (422); with it the case goes back to investigating
    assert answer(client, case, token, answer="refuse").status_code == 422
    assert resolution(client, case) == before
    first = answer(client, case, token, answer="refuse", reason="a coupon is not enough")
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "refused"
    view = resolution(client, case)
    assert (view["stage"], view["refusals"]) == ("investigating", 1)
    # Answering again is refused: the refusal spent the link
    assert answer(client, case, token, answer="accept").status_code == 404
    wait_until(lambda: triage(client, case)["awaiting_customer"] is False)
    assert triage(client, case)["owner"]["tier"] == "frontline"
    assert "escalated" not in triage(client, case)["flags"]

    # A second proposal, refused as well: routing moves the case one tier up
    assert answer(client, case, token, answer="accept").status_code == 404  # the first link opens no other
    token = offered(client, webhook, case)
    wait_until(lambda: triage(client, case)["awaiting_customer"] is True)
    second = answer(client, case, token, answer="refuse", reason="still not enough")
    assert second.status_code == 200, second.text
    assert resolution(client, case)["refusals"] == 2

    def escalated() -> dict[str, Any] | None:
        found = triage(client, case)
        return found if "escalated" in found["flags"] else None

    view = wait_until(escalated)
    assert view["owner"]["tier"] == "cs_manager"
    assert view["awaiting_customer"] is False
    wait_until(lambda: "escalated" in case_view(client, case).get("flags", []))
    events = client.get(f"/api/cases/{case}/timeline").json()["events"]
    [escalation] = [e for e in events if e["type"] == "CaseEscalated"]
    assert "refused 2" in escalation["payload"]["reason"]


def test_bad_input_is_refused_and_changes_nothing(client: TestClient) -> None:
    case = file(client)
    investigated(client, case)
    before, recorded = resolution(client, case), resolution_events(client)

    def refused(rest: str, body: dict[str, Any] | None, headers: dict[str, str], status: int) -> Any:
        response = client.post(path(case, rest), json=body, headers=headers)
        assert response.status_code == status, (rest, body, response.text)
        assert resolution(client, case) == before, (rest, body)
        assert resolution_events(client) == recorded, (rest, body)
        return response.json()

    refund = {"remedies": [{"remedy": "refund", "amount": PRICE}]}
    refused("/proposals", refund, ANONYMOUS, 401)
    refused("/investigation", {"plan": "p"}, ANONYMOUS, 401)
    problems = refused("/proposals", {"remedies": [{"remedy": "cash_gift", "amount": "1.00"}]}, FRONTLINE, 422)
    [problem] = [p for p in problems["detail"] if p["field"] == "remedies.0.remedy"]
    assert {"refund", "exchange", "apology", "staff_action"} <= set(problem["allowed"])
    problems = refused("/proposals", {"remedies": [{"remedy": "refund", "amount": "-1.00"}]}, FRONTLINE, 422)
    assert [p for p in problems["detail"] if p["field"] == "remedies.0.amount"]
    problems = refused("/proposals", {"remedies": []}, FRONTLINE, 422)
    assert [p for p in problems["detail"] if p["field"] == "remedies"]
    problems = refused("/proposals", {"remedies": [{"remedy": "apology", "amount": "5.00"}]}, FRONTLINE, 422)
    assert [p for p in problems["detail"] if p["field"] == "remedies.0.amount"]
    refused("/remedies/0/execution", {"reference": "REF-1"}, FRONTLINE, 409)
    refused("/proposals/current/approval", None, MANAGER, 409)
    refused("/proposals/current/offer", None, FRONTLINE, 409)
    refused("/fraud", {"reason": "fake receipt"}, FRONTLINE, 403)
    refused("/fraud", {"reason": "fake receipt"}, MANAGER, 403)
    problems = refused("/evidence", {"kind": "appraisal_report", "description": "d", "sha256": "xyz"}, FRONTLINE, 422)
    assert [p for p in problems["detail"] if p["field"] == "sha256"]
    problems = refused("/evidence", {"kind": "dna", "description": "d"}, FRONTLINE, 422)
    assert "appraisal_report" in [p for p in problems["detail"] if p["field"] == "kind"][0]["allowed"]
    problems = refused("/findings", {"findings": "f", "root_cause": "gremlins"}, FRONTLINE, 422)
    assert "production" in [p for p in problems["detail"] if p["field"] == "root_cause"][0]["allowed"]
    assert client.get(path(case, "/compensation-suggestion?direct_loss=-1")).status_code == 422

    # The appraisal gate: an authenticity dispute gets no refund before the appraisal report
    disputed = file(client)
    plan = {"plan": "is it real gold?", "authenticity_dispute": True}
    assert ok(client, disputed, "/investigation", plan, MANAGER)["authenticity_dispute"] is True
    gated, recorded = resolution(client, disputed), resolution_events(client)
    for _ in range(2):
        response = client.post(path(disputed, "/proposals"), json=refund, headers=MANAGER)
        assert response.status_code == 409, response.text
        assert "appraisal" in response.text
        assert resolution(client, disputed) == gated
        assert resolution_events(client) == recorded
    # an appraisal report needs its stored file
    no_file = client.post(
        path(disputed, "/evidence"), json={"kind": "appraisal_report", "description": "NGTC"}, headers=FRONTLINE
    )
    assert no_file.status_code == 422 and no_file.json()["detail"][0]["field"] == "sha256"
    assert resolution(client, disputed) == gated
    # an apology may come before it
    other = ok(client, disputed, "/evidence", {"kind": "photo", "description": "the stamp", "sha256": SHA}, FRONTLINE)
    assert other["appraised"] is False
    refused_again = client.post(path(disputed, "/proposals"), json=refund, headers=MANAGER)
    assert refused_again.status_code == 409
    report = {"kind": "appraisal_report", "description": "NGTC report: genuine", "sha256": SHA}
    assert ok(client, disputed, "/evidence", report, FRONTLINE)["appraised"] is True
    proposed = ok(client, disputed, "/proposals", refund, MANAGER)
    assert proposed["stage"] == "awaiting_approval"
    assert proposed["proposals"][0]["required_tier"] == "regional_manager"


def test_fraud_established_by_legal_suggests_three_times_the_price(client: TestClient) -> None:
    case = file(client)
    ok(client, case, "/investigation", {"plan": "check the certificate"}, MANAGER)
    assert client.get(path(case, "/compensation-suggestion")).json()["basis"] != "fraud_cpl_art_55"
    view = ok(client, case, "/fraud", {"reason": "plated silver sold as solid gold"}, LEGAL)
    assert view["fraud_established"] is True
    # once only
    assert client.post(path(case, "/fraud"), json={"reason": "again"}, headers=HQ).status_code == 409
    suggestion = client.get(path(case, "/compensation-suggestion"))
    assert suggestion.status_code == 200, suggestion.text
    found = suggestion.json()
    assert found["basis"] == "fraud_cpl_art_55"
    assert [(r["remedy"], r["amount"]) for r in found["remedies"]] == [("refund", PRICE), ("compensation", "11940.00")]
    assert found["total"] == "15920.00"
    # the proposal records the suggestion beside it; the regional manager grants 15920.00 alone
    body = {"remedies": [{"remedy": r["remedy"], "amount": r["amount"]} for r in found["remedies"]]}
    proposed = ok(client, case, "/proposals", body, REGIONAL)
    assert proposed["stage"] == "proposed"
    [proposal] = proposed["proposals"]
    assert (proposal["required_tier"], proposal["total"]) == ("regional_manager", "15920.00")
    assert proposal["suggestion"]["basis"] == "fraud_cpl_art_55"
