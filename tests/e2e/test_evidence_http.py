"""Evidence over HTTP: upload, list and download with the hash checked; refused uploads leave nothing behind."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from services.intake.evidence import ALLOWED_MEDIA_TYPES
from shared.contracts import Actor
from shared.settings import Settings
from tests.support import ANONYMOUS, complaint_body, staff_headers
from tests.unit.test_evidence_store import pdf, png

STAFF = staff_headers("u-frontline-7", "frontline", store="SH-001")
# Above the 1 MB limit of every other request, so the uploads below also show the larger per-path limit.
MAX_BYTES = 1_200_000


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str) -> Settings:
    return make_settings(nats_url=nats_url, stream_name=stream_name, evidence_max_bytes=MAX_BYTES)


def new_case(client: TestClient) -> str:
    response = client.post("/api/complaints", json=complaint_body())
    assert response.status_code == 201
    return str(response.json()["case_id"])


def upload(client: TestClient, case_id: str, content: bytes, name: str, **form: Any) -> Any:
    files = {"file": (name, content, "application/octet-stream")}
    return client.post(f"/api/cases/{case_id}/evidence", files=files, data=form, headers=STAFF)


def evidence_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "evidence"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_uploads_round_trip_with_their_hash(client: TestClient, settings: Settings) -> None:
    case_id = new_case(client)
    photo, receipt = png(600, 600, noise=True), pdf("小票 2026-11-25")
    assert len(photo) > settings.max_body_bytes  # only the evidence path may take a body this large

    uploaded = upload(client, case_id, photo, "手镯.png", note="断口特写")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json() == {
        "sha256": hashlib.sha256(photo).hexdigest(), "media_type": "image/png", "size": len(photo), "attached": True
    }  # fmt: skip
    # Named .jpg and sent as octet-stream: the type comes from the content.
    second = upload(client, case_id, receipt, "receipt.jpg")
    assert second.status_code == 201 and second.json()["media_type"] == "application/pdf"
    again = upload(client, case_id, photo, "same-photo-again.png")
    assert again.status_code == 201 and again.json()["attached"] is False

    listed = client.get(f"/api/cases/{case_id}/evidence").json()["evidence"]
    assert [(e["sha256"], e["media_type"], e["size"], e["filename"], e["note"]) for e in listed] == [
        (hashlib.sha256(photo).hexdigest(), "image/png", len(photo), "手镯.png", "断口特写"),
        (hashlib.sha256(receipt).hexdigest(), "application/pdf", len(receipt), "receipt.jpg", None),
    ]
    assert listed[0]["uploaded_by"] == {"id": "u-frontline-7", "role": "frontline", "store": "SH-001"}
    assert listed[0]["uploaded_at"] <= listed[1]["uploaded_at"]

    for item, content in zip(listed, (photo, receipt), strict=True):
        downloaded = client.get(f"/api/cases/{case_id}/evidence/{item['sha256']}", headers=STAFF)
        assert downloaded.status_code == 200
        assert downloaded.headers["content-type"] == item["media_type"]
        assert downloaded.content == content
        assert hashlib.sha256(downloaded.content).hexdigest() == item["sha256"]
    assert len(evidence_files(settings)) == 2


def test_download_needs_a_user_and_a_file_attached_to_that_case(client: TestClient) -> None:
    case_id, other_case = new_case(client), new_case(client)
    sha256 = upload(client, case_id, png(), "p.png").json()["sha256"]
    assert client.get(f"/api/cases/{case_id}/evidence/{sha256}", headers=ANONYMOUS).status_code == 401
    assert client.get(f"/api/cases/{other_case}/evidence/{sha256}", headers=STAFF).status_code == 404
    assert client.get(f"/api/cases/{case_id}/evidence/{'0' * 64}", headers=STAFF).status_code == 404
    assert client.get(f"/api/cases/{case_id}/evidence/..%2F..%2Fintake.db", headers=STAFF).status_code == 404
    assert client.get(f"/api/cases/{uuid4()}/evidence").status_code == 404


def test_a_file_over_the_limit_gets_413_naming_the_field_and_nothing_is_stored(
    client: TestClient, settings: Settings
) -> None:
    case_id = new_case(client)
    just_over = upload(client, case_id, png(640, 630, noise=True), "big.png")
    assert just_over.status_code == 413
    assert just_over.json()["detail"] == [{"field": "file", "message": f"larger than {MAX_BYTES} bytes"}]
    # Far over: refused by the body limit before the request reaches the handler.
    assert upload(client, case_id, png(1000, 1000, noise=True), "huge.png").status_code == 413
    assert evidence_files(settings) == []
    assert client.get(f"/api/cases/{case_id}/evidence").json() == {"evidence": []}
    # Every other path keeps the 1 MB limit.
    oversized = complaint_body(description="断" * 400_000)
    assert client.post("/api/complaints", json=oversized).status_code == 413


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"this is a plain text file, not a photo\n", "photo.jpg"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200), "receipt.pdf"),
    ],
)
def test_an_unsupported_type_gets_422_naming_the_field_and_the_allowed_types(
    client: TestClient, settings: Settings, content: bytes, name: str
) -> None:
    case_id = new_case(client)
    refused = upload(client, case_id, content, name)
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["field"] == "file" and problem["allowed"] == list(ALLOWED_MEDIA_TYPES)
    assert evidence_files(settings) == []
    assert client.get(f"/api/cases/{case_id}/evidence").json() == {"evidence": []}


def test_refused_requests_store_nothing(client: TestClient, settings: Settings) -> None:
    case_id = new_case(client)
    missing = client.post(f"/api/cases/{uuid4()}/evidence", files={"file": ("p.png", png())}, headers=STAFF)
    assert missing.status_code == 404
    anonymous = client.post(f"/api/cases/{case_id}/evidence", files={"file": ("p.png", png())}, headers=ANONYMOUS)
    assert anonymous.status_code == 401
    no_file = client.post(f"/api/cases/{case_id}/evidence", data={"note": "?"}, headers=STAFF)
    assert no_file.status_code == 422 and no_file.json()["detail"][0]["field"] == "file"

    intake = client.app.state.services["intake"].app  # type: ignore[attr-defined]
    intake.withdraw_complaint(UUID(case_id), actor=Actor(id="u-1", role="frontline"), reason="顾客撤诉")
    withdrawn = upload(client, case_id, pdf(), "late.pdf")
    assert withdrawn.status_code == 409
    assert evidence_files(settings) == []
    assert client.get(f"/api/cases/{case_id}/evidence").json() == {"evidence": []}


def test_erasing_the_customer_leaves_the_evidence_unreadable(client: TestClient, settings: Settings) -> None:
    # Given a receipt whose text names the customer, attached to their case
    case_id = new_case(client)
    content = pdf().replace(b"%%EOF", b"% buyer: Wang Fang 13800138000\n%%EOF")
    sha256 = upload(client, case_id, content, "receipt.pdf").json()["sha256"]
    assert client.get(f"/api/cases/{case_id}/evidence/{sha256}", headers=STAFF).content == content
    assert all(b"13800138000" not in path.read_bytes() for path in evidence_files(settings))  # encrypted at rest
    # When the customer is erased
    customer_id = client.get(f"/api/complaints/{case_id}").json()["customer_id"]
    asked = client.post(f"/api/customers/{customer_id}/erasure", json={"reason": "PIPL request"}, headers=STAFF)
    assert asked.status_code == 202
    erased = client.post(f"/api/customers/{customer_id}/erasure/approval", headers=staff_headers("HQ-L1", "legal"))
    assert erased.status_code == 201
    # Then the file can no longer be read, nor new evidence attached
    assert client.get(f"/api/cases/{case_id}/evidence/{sha256}", headers=STAFF).status_code == 409
    assert upload(client, case_id, png(), "more.png").status_code == 409
