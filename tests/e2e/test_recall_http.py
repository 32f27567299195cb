"""Recalls over HTTP, the whole system in-process on real NATS: three quality complaints about one batch raise an
alert, quality plans a campaign from it and launches it, imports the order list, staff track every customer to
100%; roles and transitions are enforced."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from tests.support import ANONYMOUS, complaint_body, staff_headers, wait_until

ANALYST = staff_headers("qa-1", "quality_analyst")
CLERK = staff_headers("SH-001-F1", "frontline", store="SH-001")
SKU, BATCH = "BR-GOLD-01", "L2611"


def order_csv(n: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "sku", "batch", "sold_on", "customer_name", "phone", "email"])
    for i in range(n):
        writer.writerow([f"SO-{i:04d}", SKU, BATCH, "2026-11-01", f"王{i}", f"137{i:08d}", ""])
    return out.getvalue().encode("utf-8")


def test_a_cluster_becomes_a_recall_tracked_to_100_percent_over_http(client: TestClient) -> None:
    for i in range(3):
        filed = client.post("/api/complaints", json=complaint_body(i, sku=SKU, batch=BATCH))
        assert filed.status_code in (200, 201), filed.text

    assert client.get("/api/recalls/alerts", headers=ANONYMOUS).status_code == 401
    alerts = wait_until(lambda: client.get("/api/recalls/alerts", headers=CLERK).json(), timeout=15)
    [alert] = alerts
    assert (alert["sku"], alert["batch"], alert["reason"], alert["case_count"]) == (SKU, BATCH, "cluster", 3)
    assert len(client.get(f"/api/recalls/alerts/{alert['alert_id']}", headers=CLERK).json()["case_ids"]) == 3

    plan: dict[str, Any] = {
        "title": "金手镯批次召回", "sku": SKU, "batches": [BATCH], "hazard": "搭扣断裂", "remedy": "repair",
        "announcement": {"zh": "批次 L2611 免费维修", "en": "Batch L2611: free repair"}, "alert_id": alert["alert_id"],
    }  # fmt: skip
    assert client.post("/api/recalls/campaigns", json=plan, headers=CLERK).status_code == 403
    created = client.post("/api/recalls/campaigns", json=plan, headers=ANALYST)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign_id"]
    bad = client.post("/api/recalls/campaigns", json={**plan, "remedy": "apology"}, headers=ANALYST)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "remedy"

    launched = client.post(f"/api/recalls/campaigns/{campaign_id}/launch", headers=ANALYST)
    assert launched.status_code == 200 and launched.json()["status"] == "active"
    assert client.post(f"/api/recalls/campaigns/{campaign_id}/launch", headers=ANALYST).status_code == 409

    files = {"file": ("orders.csv", order_csv(20), "text/csv")}
    imported = client.post(f"/api/recalls/campaigns/{campaign_id}/customers", files=files, headers=ANALYST)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["issued"], imported.json()["failed"]) == (20, 0)
    as_json = [{"order_id": "SO-9000", "sku": SKU, "batch": BATCH, "phone": "13700009000"}]
    again = client.post(f"/api/recalls/campaigns/{campaign_id}/customers", json=as_json, headers=ANALYST).json()
    assert again["issued"] == 1

    notices = client.get(f"/api/recalls/campaigns/{campaign_id}/notices?limit=500", headers=CLERK).json()
    assert len(notices) == 21 and all("phone" not in n for n in notices)
    first = notices[0]["notice_id"]
    early = client.post(f"/api/recalls/notices/{first}/remedied", headers=CLERK)
    assert early.status_code == 409
    for notice in notices:
        url = f"/api/recalls/notices/{notice['notice_id']}"
        assert client.post(f"{url}/contacted", json={"channel": "phone"}, headers=CLERK).status_code == 200
        assert client.post(f"{url}/remedied", json={"note": "已修好"}, headers=CLERK).status_code == 200
    progress = client.get(f"/api/recalls/campaigns/{campaign_id}/progress", headers=CLERK).json()
    assert progress["percent_done"] == 100.0 and progress["by_status"]["remedied"] == 21
    report = client.get(f"/api/recalls/campaigns/{campaign_id}/report", headers=ANALYST).json()
    assert report["complete"] and report["remedies_done"] == {"repair": 21}
    assert client.get(f"/api/recalls/alerts/{alert['alert_id']}", headers=CLERK).json()["campaign_id"] == campaign_id

    # A further complaint about the recalled batch joins the campaign instead of raising another alert
    client.post("/api/complaints", json=complaint_body(9, sku=SKU, batch=BATCH))
    wait_until(
        lambda: client.get(f"/api/recalls/campaigns/{campaign_id}", headers=CLERK).json()["joined_cases"], timeout=15
    )
    assert len(client.get("/api/recalls/alerts", headers=CLERK).json()) == 1
