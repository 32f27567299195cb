"""Recalls through ``ResolutionService`` on SQLite and PostgreSQL, fed ComplaintReceived + ComplaintTriaged messages as
intake and routing publish them: cluster alerts (once per cluster, also under redelivery and batches), campaigns
that complaints join, a recall from alert to 100% tracked, and personal data kept out of events and logs."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog

from services.resolution.application import ResolutionService
from services.resolution.domain.recall import (
    Announcement,
    CampaignPlan,
    ContactChannel,
    NoticeStatus,
    RecallRemedy,
    notice_id_for,
)
from shared.clock import ManualClock
from shared.contracts import Actor, Envelope, EventMessage
from shared.errors import InvalidTransition, InvalidValue
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import event_types
from tests.unit.helpers import CLERK, NOW

D = timedelta(days=1)
ANALYST = Actor(id="QA-1", role=Role.QUALITY_ANALYST)
FRONTLINE = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")
SKU = "KT-1500"


class Feed:
    """ComplaintReceived and ComplaintTriaged messages, each with its own notification id."""

    def __init__(self) -> None:
        self._nid = itertools.count(1)
        self._number = itertools.count(1)

    def _message(self, type_: str, service: str, payload: dict[str, Any], case_id: UUID, at: datetime) -> EventMessage:
        envelope = Envelope(event_id=uuid4(), case_id=case_id, actor=CLERK, occurred_at=at, recorded_at=at,
                            correlation_id=uuid4(), service=service)  # fmt: skip
        return EventMessage(service=service, notification_id=next(self._nid), type=type_, envelope=envelope,
                            payload=payload)  # fmt: skip

    def complaint(self, at: datetime, category: str = "product_quality", severity: str = "general", sku: str = SKU,
                  batch: str | None = "B1") -> tuple[EventMessage, EventMessage]:  # fmt: skip
        case_id = uuid4()
        received = self._message("ComplaintReceived", "intake", {
            "case_number": f"CMP-20261125-{next(self._number):06d}", "channel": "phone", "store_id": "SH-001",
            "customer_id": str(uuid4()), "description": "热水壶底座发烫", "sku": sku, "batch": batch,
            "amount_paid": "199.00",
        }, case_id, at)  # fmt: skip
        triaged = self._message("ComplaintTriaged", "routing", {
            "category": category, "confidence": "0.9", "matched_terms": ["发烫"], "severity": severity,
            "severity_reasons": [],
        }, case_id, at + timedelta(minutes=1))  # fmt: skip
        return received, triaged


@pytest.fixture
def resolution(make_settings: Callable[..., Settings], clock: ManualClock) -> Iterator[ResolutionService]:
    app = ResolutionService(make_settings(), clock)
    yield app
    app.close()


@pytest.fixture
def feed() -> Feed:
    return Feed()


def complain(app: ResolutionService, feed: Feed, at: datetime, **kwargs: Any) -> UUID:
    received, triaged = feed.complaint(at, **kwargs)
    assert app.handle(received) and app.handle(triaged)
    return received.envelope.case_id


def plan(**overrides: Any) -> CampaignPlan:
    values: dict[str, Any] = {
        "title": "电热水壶召回 KT-1500",
        "sku": SKU,
        "batches": ["B1"],
        "hazard": "底座过热，可能起火",
        "remedy": RecallRemedy.REPLACE,
        "announcement": Announcement(
            zh="KT-1500 批次 B1 召回，免费更换。", en="KT-1500 batch B1 recall: free replacement."
        ),
    }
    values.update(overrides)
    return CampaignPlan(**values)


def order_list(n: int, start: int = 0, batch: str = "B1") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "sku", "batch", "sold_on", "customer_name", "phone", "email"])
    for i in range(start, start + n):
        writer.writerow([f"SO-{i:06d}", SKU, batch, "2026-10-01", f"李{i}明", f"139{i:08d}", f"c{i}@example.cn"])
    return out.getvalue().encode("utf-8-sig")


# --- alerts -----------------------------------------------------------------------------------------------------


def test_three_quality_complaints_in_a_week_raise_one_alert_and_a_fourth_links_to_it(
    resolution: ResolutionService, feed: Feed
) -> None:
    first = complain(resolution, feed, NOW)
    second = complain(resolution, feed, NOW + 3 * D)
    assert resolution.list_alerts() == []
    third = complain(resolution, feed, NOW + 7 * D, category="safety")

    [row] = resolution.list_alerts()
    alert = resolution.get_alert(UUID(row["alert_id"]))
    assert alert["reason"] == "cluster" and alert["status"] == "open" and alert["batch"] == "B1"
    assert set(alert["case_ids"]) == {str(first), str(second), str(third)}

    fourth = complain(resolution, feed, NOW + 8 * D)
    assert len(resolution.list_alerts()) == 1
    assert str(fourth) in resolution.get_alert(UUID(row["alert_id"]))["case_ids"]
    types = event_types(resolution)
    assert types.count("RecallAlertRaised") == 1 and types.count("RecallAlertCaseLinked") == 1


def test_seven_days_and_a_microsecond_raise_nothing(resolution: ResolutionService, feed: Feed) -> None:
    complain(resolution, feed, NOW)
    complain(resolution, feed, NOW + 3 * D)
    complain(resolution, feed, NOW + 7 * D + timedelta(microseconds=1))
    assert resolution.list_alerts() == []


def test_a_redelivered_message_does_not_raise_a_second_alert(resolution: ResolutionService, feed: Feed) -> None:
    complain(resolution, feed, NOW)
    complain(resolution, feed, NOW + D)
    received, triaged = feed.complaint(NOW + 2 * D)
    assert resolution.handle(received) and resolution.handle(triaged)
    # The same message delivered again, alone and inside a batch
    assert resolution.handle(triaged) is False
    with pytest.raises(Exception):  # noqa: B017 - the batch conflicts as a whole; the consumer redoes it one by one
        resolution.handle_batch([triaged, triaged])
    assert len(resolution.list_alerts()) == 1
    assert event_types(resolution).count("RecallAlertRaised") == 1


def test_a_batch_with_a_whole_cluster_raises_it_once(resolution: ResolutionService, feed: Feed) -> None:
    pairs = [feed.complaint(NOW + i * D) for i in range(3)]
    resolution.handle_batch([received for received, _ in pairs])
    try:
        resolution.handle_batch([triaged for _, triaged in pairs])
    except Exception:  # noqa: BLE001 - two complaints about one product in one batch conflict: the consumer
        for _, triaged in pairs:  # then applies the batch message by message, as here
            resolution.handle(triaged)
    assert len(resolution.list_alerts()) == 1
    assert event_types(resolution).count("RecallAlertRaised") == 1


def test_one_critical_safety_complaint_raises_an_alert(resolution: ResolutionService, feed: Feed) -> None:
    case = complain(resolution, feed, NOW, category="safety", severity="critical", batch=None)
    [row] = resolution.list_alerts()
    assert row["reason"] == "critical_incident" and row["batch"] is None
    assert resolution.get_alert(UUID(row["alert_id"]))["case_ids"] == [str(case)]


# --- campaigns --------------------------------------------------------------------------------------------------


def test_complaints_about_an_in_scope_product_join_the_active_campaign(
    resolution: ResolutionService, feed: Feed
) -> None:
    campaign = resolution.plan_campaign(ANALYST, plan())
    before = complain(resolution, feed, NOW)  # planned only: it does not join
    resolution.launch_campaign(campaign.id, ANALYST)
    joined = complain(resolution, feed, NOW + D)
    complain(resolution, feed, NOW + D, batch="B2")  # another batch: out of scope
    complain(resolution, feed, NOW + D, category="price")  # not a category that joins
    for i in range(3):  # in scope: they join instead of raising an alert
        complain(resolution, feed, NOW + (2 + i) * D)
    found = resolution.get_campaign(campaign.id)
    assert str(joined) in [str(c) for c in found.joined_cases] and before not in found.joined_cases
    assert len(found.joined_cases) == 4
    assert resolution.list_alerts() == []


def test_a_recall_from_alert_to_100_percent(resolution: ResolutionService, feed: Feed) -> None:
    for i in range(3):
        complain(resolution, feed, NOW + i * D)
    [alert] = resolution.list_alerts()
    campaign = resolution.plan_campaign(ANALYST, plan(alert_id=UUID(alert["alert_id"])))
    assert resolution.get_alert(UUID(alert["alert_id"]))["campaign_id"] == str(campaign.id)
    with pytest.raises(InvalidTransition):  # one campaign per alert
        resolution.plan_campaign(ANALYST, plan(alert_id=UUID(alert["alert_id"])))
    with pytest.raises(InvalidTransition):  # customers only once launched
        resolution.import_recall_customers(campaign.id, order_list(2), actor=ANALYST)
    resolution.launch_campaign(campaign.id, ANALYST)

    report = resolution.import_recall_customers(campaign.id, order_list(200), actor=ANALYST)
    assert (report.rows, report.issued, report.already_issued, report.failed) == (200, 200, 0, 0)
    again = resolution.import_recall_customers(campaign.id, order_list(210), actor=ANALYST)
    assert (again.issued, again.already_issued) == (10, 200)
    assert resolution.campaign_progress(campaign.id)["percent_done"] == 0.0

    notices = resolution.list_notices(campaign.id, limit=1000)
    assert len(notices) == 210
    for i, row in enumerate(notices):
        notice_id = UUID(row["notice_id"])
        if i % 10 == 0:
            resolution.mark_notice(notice_id, FRONTLINE, NoticeStatus.UNREACHABLE, note="无人接听")
            continue
        resolution.mark_notice(notice_id, FRONTLINE, NoticeStatus.CONTACTED, channel=ContactChannel.SMS)
        if i % 3:
            resolution.mark_notice(notice_id, FRONTLINE, NoticeStatus.RESPONDED)
        resolution.mark_notice(notice_id, FRONTLINE, NoticeStatus.REMEDIED)
    progress = resolution.campaign_progress(campaign.id)
    assert progress["percent_done"] == 100.0 and progress["customers"] == 210
    assert progress["by_status"]["unreachable"] == 21 and progress["by_status"]["remedied"] == 189
    summary = resolution.campaign_report(campaign.id)
    assert summary["complete"] and summary["remedies_done"] == {"replace": 189}
    with pytest.raises(InvalidTransition):
        resolution.mark_notice(UUID(notices[1]["notice_id"]), FRONTLINE, NoticeStatus.CONTACTED,
                               channel=ContactChannel.PHONE)  # fmt: skip


def test_bad_lines_are_reported_by_line_and_column(resolution: ResolutionService) -> None:
    campaign = resolution.plan_campaign(ANALYST, plan(sold_from="2026-09-01", sold_to="2026-10-31"))
    resolution.launch_campaign(campaign.id, ANALYST)
    lines = [
        {"order_id": "SO-1", "sku": SKU, "batch": "B1", "phone": "13900000001"},
        {"order_id": "SO-2", "sku": "OTHER", "batch": "B1", "phone": "13900000002"},
        {"order_id": "SO-3", "sku": SKU, "batch": "B7", "phone": "13900000003"},
        {"order_id": "SO-4", "sku": SKU, "batch": "B1", "sold_on": "2026-11-02", "phone": "13900000004"},
        {"order_id": "SO-5", "sku": SKU, "batch": "B1"},
        {"order_id": "SO-6", "sku": SKU, "batch": "B1", "phone": "not-a-phone"},
        {"order_id": "SO-1", "sku": SKU, "batch": "B1", "phone": "13900000001"},
    ]
    report = resolution.import_recall_customers(campaign.id, lines, actor=ANALYST)
    assert (report.issued, report.failed) == (1, 6)
    assert [(e.row, e.field) for e in report.errors] == [
        (3, "sku"), (4, "batch"), (5, "sold_on"), (6, "phone, email"), (7, "phone"), (8, "order_id"),
    ]  # fmt: skip
    assert all("139" not in e.message for e in report.errors)
    with pytest.raises(InvalidValue):
        resolution.import_recall_customers(campaign.id, b"order,name\n1,x\n", actor=ANALYST)


def test_no_customer_name_or_phone_reaches_the_events_or_the_logs(resolution: ResolutionService) -> None:
    campaign = resolution.plan_campaign(ANALYST, plan(batches=[]))
    resolution.launch_campaign(campaign.id, ANALYST)
    with structlog.testing.capture_logs() as logs:
        report = resolution.import_recall_customers(campaign.id, order_list(50), actor=ANALYST)
        notice_id = notice_id_for(campaign.id, "SO-000007", SKU, "B1")
        resolution.mark_notice(notice_id, FRONTLINE, NoticeStatus.CONTACTED, channel=ContactChannel.PHONE,
                               note="已致电 13900000007 李7明")  # fmt: skip
    assert report.issued == 50
    stored = [
        bytes(row[-1]).decode("utf-8", "replace") if isinstance(row[-1], bytes | memoryview) else str(row[-1])
        for rows in resolution.side.stream(f"SELECT state FROM {resolution.side.events_table}")
        for row in rows
    ]
    everything = "\n".join(stored) + json.dumps(logs, default=str, ensure_ascii=False)
    assert "已致电 [phone] [name]" in everything  # the note, masked
    for i in (0, 7, 49):
        for personal in (f"139{i:08d}", f"李{i}明", f"c{i}@example.cn"):
            assert personal not in everything
    # The contact is there, sealed: the campaign's key opens it
    notice = resolution.get_notice(notice_id)
    key = resolution.recall_keys.find(notice.contact_sealed.split(":")[2])
    assert json.loads(key.open(notice.contact_sealed, "recall_contact"))["phone"] == "13900000007"
    assert "enc:v1" not in json.dumps(notice.view())


def test_the_cli_imports_an_order_list_with_a_progress_bar_and_reports(
    make_settings: Callable[..., Settings], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from services.cli import app as cli

    settings = make_settings()
    resolution = ResolutionService(settings, ManualClock(start=NOW))
    campaign = resolution.plan_campaign(ANALYST, plan())
    resolution.launch_campaign(campaign.id, ANALYST)
    resolution.close()
    orders = tmp_path / "orders.csv"
    orders.write_bytes(order_list(120) + f"SO-X,{SKU},B9,,,13900000000,\n".encode())
    options = ["--data-dir", str(settings.data_dir)]
    if settings.postgres_url:
        options += ["--postgres-url", settings.postgres_url]
        monkeypatch.setenv("OMBUD_POSTGRES_SCHEMA", str(settings.postgres_schema))

    runner = CliRunner()
    first = runner.invoke(cli, ["recall", "import", str(campaign.id), str(orders), *options])
    assert first.exit_code == 1, first.output  # one line out of scope
    assert "121 lines: 120 notices issued, 0 already issued, 1 failed" in first.output
    again = runner.invoke(cli, ["recall", "import", str(campaign.id), str(orders), *options])
    assert "0 notices issued, 120 already issued" in again.output
    shown = runner.invoke(cli, ["recall", "report", str(campaign.id), *options])
    assert shown.exit_code == 0 and "120 customers, 0.0% done" in shown.output
    assert "13900000000" not in first.output + again.output + shown.output
