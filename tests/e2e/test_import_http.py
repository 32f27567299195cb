"""POST /api/imports/complaints over HTTP: a CSV file in, the per-row report out; only managers may import."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from services.intake.importer import case_id_of
from tests.integration.test_import import complaints_csv
from tests.support import ANONYMOUS, staff_headers

# The rows are of four stores of the east region.
MANAGER = staff_headers("RM-east", "regional_manager", region="east")


def upload(client: TestClient, data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"file": ("投诉导入.csv", data, "text/csv")}
    return client.post("/api/imports/complaints", files=files, headers=headers or {})


def test_a_manager_imports_a_file_and_gets_the_report(client: TestClient) -> None:
    data, bad = complaints_csv(12, bad={3, 8})

    response = upload(client, data, MANAGER)

    assert response.status_code == 200, response.text
    report = response.json()
    assert {k: report[k] for k in ("rows", "imported", "already_imported", "failed")} == {
        "rows": 12, "imported": 10, "already_imported": 0, "failed": 2,
    }  # fmt: skip
    assert [(e["row"], e["external_id"], e["field"]) for e in report["errors"]] == [
        (line, *found) for line, found in sorted(bad.items())
    ]
    filed = client.get(f"/api/complaints/{case_id_of('ERP-000000')}")
    assert filed.status_code == 200 and filed.json()["language"] == "zh"
    again = upload(client, data, MANAGER).json()
    assert (again["imported"], again["already_imported"], again["failed"]) == (0, 10, 2)


def test_import_needs_a_user_whose_role_may_import(client: TestClient) -> None:
    data, _ = complaints_csv(2, bad=())
    assert upload(client, data, ANONYMOUS).status_code == 401
    forbidden = upload(client, data, staff_headers("f-1", "frontline"))
    assert forbidden.status_code == 403 and "cs_manager" in forbidden.json()["detail"]
    assert client.get(f"/api/complaints/{case_id_of('ERP-000000')}").status_code == 404


def test_a_file_not_in_utf8_is_422_and_one_over_1_mb_is_413(client: TestClient) -> None:
    gbk = upload(client, "external_id,channel\n1,门店\n".encode("gbk"), MANAGER)
    assert gbk.status_code == 422 and gbk.json()["detail"][0]["field"] == "file"
    assert upload(client, b"external_id\n" + b"x" * 1_000_000, MANAGER).status_code == 413


def test_rows_for_stores_outside_the_importers_reach_are_refused(client: TestClient) -> None:
    # Given a store manager of SH-001 and a file with rows of four stores
    data, _ = complaints_csv(8, bad=())
    # When they import it
    report = upload(client, data, staff_headers("SH-001-M1", "cs_manager", store="SH-001")).json()
    # Then only their own store's rows are filed, each other one named with its store
    assert (report["imported"], report["failed"]) == (2, 6)
    assert {e["field"] for e in report["errors"]} == {"store_id"}
