"""Auditors over HTTP: verify, checkpoint, export a signed bundle and check it offline with `ombud verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.cli import app as cli
from services.system import SERVICES
from tests.support import ANONYMOUS, complaint_body, staff_headers, wait_until

AUDITOR = staff_headers("AUD-1", "auditor")


@pytest.fixture
def case_id(client: TestClient) -> str:
    """Given a complaint that all four services have acted on."""
    case = client.post("/api/complaints", json=complaint_body()).json()["case_id"]
    wait_until(lambda: len(client.get(f"/api/cases/{case}/timeline").json().get("events", [])) >= 4, timeout=10)
    return case


def settled(client: TestClient) -> None:
    """Wait until every service has recorded its part (the pipeline runs in the background)."""

    def all_recorded() -> bool:
        report = client.get("/api/audit/verify", headers=AUDITOR).json()
        return all(s["events"] > 0 for s in report["services"])

    wait_until(all_recorded, timeout=10)


def test_audit_needs_a_user_with_an_audit_role(client: TestClient) -> None:
    assert client.get("/api/audit/verify", headers=ANONYMOUS).status_code == 401
    clerk = staff_headers("SH-001-F1", "frontline")
    assert client.get("/api/audit/verify", headers=clerk).status_code == 403


def test_untouched_system_verifies_clean_and_a_case_can_be_checked_alone(client: TestClient, case_id: str) -> None:
    settled(client)
    whole = client.get("/api/audit/verify", headers=AUDITOR).json()
    assert whole["ok"] and whole["first"] is None
    assert {s["service"] for s in whole["services"]} == set(SERVICES)
    one = client.get("/api/audit/verify", params={"case_id": case_id}, headers=AUDITOR).json()
    assert one["ok"] and sum(s["events"] for s in one["services"]) >= 4


def test_tampering_in_the_database_is_named_by_the_api(client: TestClient, case_id: str) -> None:
    settled(client)
    routing = client.app.state.services["routing"].app  # type: ignore[attr-defined]
    side = routing.side
    # The triage (version 1 of the case's Triage) is the event that names the severity
    [row] = side.query(f"SELECT originator_id, state FROM {side.events_table} WHERE originator_version = 1")
    side.execute(
        f"UPDATE {side.events_table} SET state = ? WHERE originator_id = ? AND originator_version = 1",
        (bytes(row["state"]).replace(b"general", b"urgent!"), row["originator_id"]),
    )
    report = client.get("/api/audit/verify", headers=AUDITOR).json()
    assert not report["ok"]
    assert (report["first"]["service"], report["first"]["kind"], report["first"]["version"]) == (
        "routing",
        "altered",
        1,
    )


def test_signed_bundle_verifies_offline_and_a_changed_byte_is_located(
    client: TestClient, case_id: str, tmp_path: Path
) -> None:
    settled(client)
    checkpoint = client.post("/api/audit/checkpoints", headers=AUDITOR)
    assert checkpoint.status_code == 201 and set(checkpoint.json()["heads"]) == set(SERVICES)
    bundle = client.get(f"/api/audit/cases/{case_id}/bundle", headers=AUDITOR).json()
    assert bundle["case_id"] == case_id and bundle["checkpoint"]["signature"] == checkpoint.json()["signature"]
    key = tmp_path / "signing.pub.pem"
    key.write_text(client.get("/api/audit/public-key", headers=AUDITOR).text)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    runner = CliRunner()

    # When it is checked offline against the trusted key: intact, every event covered by the checkpoint
    clean = runner.invoke(cli, ["verify", "--bundle", str(path), "--public-key", str(key)])
    assert clean.exit_code == 0, clean.output
    assert "intact" in clean.output

    # When one byte of the triage changes in the file
    triage = bundle["services"]["routing"]["events"][0]
    triage["state"] = triage["state"].replace("general", "urgent!")
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    tampered = runner.invoke(cli, ["verify", "--bundle", str(path), "--public-key", str(key)])
    # Then the signature fails and the event is named
    assert tampered.exit_code == 1
    assert "signature does not match" in tampered.output
    assert f"routing, stream {triage['originator_id']} v1" in tampered.output


def test_case_report_is_readable_html_with_every_event(client: TestClient, case_id: str) -> None:
    settled(client)
    report = client.get(f"/api/audit/cases/{case_id}/report", headers=AUDITOR)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    for event_type in ("ComplaintReceived", "ComplaintTriaged", "ResolutionOpened", "AcknowledgementPrepared"):
        assert event_type in report.text
    assert "Intact" in report.text
    assert client.get(f"/api/audit/cases/{complaint_body()['store_id']}/report", headers=AUDITOR).status_code == 422
