"""Statistics, high-frequency warnings and work queues on SQLite and PostgreSQL: fed realistic messages of every
service, they answer the API's questions, and the same messages in another order give byte-identical rows."""

from __future__ import annotations

import csv
import io
import random
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from services.feedback.api.statistics import router
from services.feedback.application import Feedback
from services.feedback.projections import ReadModels, Statistics, WorkQueues
from services.routing.calendar import ClockMode
from services.routing.clocks import Clock, ClockName
from shared.clock import ManualClock
from shared.contracts import EventMessage
from shared.settings import Settings
from tests.support import event_types, guarded_app, staff_headers
from tests.unit.helpers import message

KINDS = [Statistics, WorkQueues]
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
AT = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
QUEUE = "east-service"
MANAGER = "SH-001-M1"


class Scenario:
    """Builds messages as the services publish them, numbering each service's notifications."""

    def __init__(self) -> None:
        self.nids: dict[str, int] = defaultdict(int)
        self.messages: list[EventMessage] = []

    def add(self, case_id: UUID, service: str, type_: str, when: datetime, **payload: Any) -> None:
        self.nids[service] += 1
        built = message(type_, service, payload, case_id, self.nids[service])
        envelope = built.envelope.model_copy(update={"recorded_at": when, "occurred_at": when})
        self.messages.append(built.model_copy(update={"envelope": envelope}))

    def received(self, case_id: UUID, when: datetime, store: str, channel: str, sku: str | None) -> None:
        self.add(
            case_id, "intake", "ComplaintReceived", when, case_number=f"C-{when:%Y%m%d}-{case_id.hex[:4]}",
            channel=channel, store_id=store, customer_id=str(uuid4()), description="戒指表面有划痕", sku=sku,
            language="zh", currency="CNY",
        )

    def triaged(self, case_id: UUID, when: datetime, category: str, severity: str, sub: str | None = None) -> None:
        self.add(
            case_id, "routing", "ComplaintTriaged", when, category=category, subcategory=sub, confidence="0.9",
            matched_terms=["划痕"], severity=severity, severity_reasons=[], currency="CNY",
        )

    def assigned(self, case_id: UUID, when: datetime, assignee: str | None = MANAGER) -> None:
        self.add(case_id, "routing", "CaseAssigned", when, team="east-service", queue=QUEUE, assignee=assignee,
                 tier="store", rule="store-manager", supporting=[], reason="store case")

    def clocks(self, case_id: UUID, received: datetime, ack: timedelta, resolve: timedelta) -> dict[str, Clock]:
        started = {
            ClockName.ACKNOWLEDGE: Clock.start(ClockName.ACKNOWLEDGE, received, ack, ClockMode.WALL),
            ClockName.RESOLVE: Clock.start(ClockName.RESOLVE, received, resolve, ClockMode.WALL),
        }
        for clock in started.values():
            self.add(case_id, "routing", "ClockStarted", received + timedelta(minutes=1),
                     clock=clock.model_dump(mode="json"), reason="received")
        return started

    def stopped(self, case_id: UUID, clock: Clock, when: datetime, met: bool) -> None:
        done = clock.model_copy(update={"stopped_at": when, "running_since": None, "used": when - clock.started_at})
        self.add(case_id, "routing", "ClockStopped", when, clock=done.model_dump(mode="json"), reason="done", met=met)


def scenario() -> tuple[list[EventMessage], dict[str, UUID]]:
    s = Scenario()
    ids = {name: uuid4() for name in ("a", "b", "c", "d", "e", "old")}
    # A: phone, SH-001, ring; acknowledged in an hour (met), resolved in two days, answered 5, closed.
    a = ids["a"]
    s.received(a, T0, "SH-001", "phone", "HY-RING-001")
    s.triaged(a, T0 + timedelta(minutes=1), "product_quality", "general", "defect")
    s.assigned(a, T0 + timedelta(minutes=2))
    clocks = s.clocks(a, T0, timedelta(hours=24), timedelta(days=7))
    s.stopped(a, clocks[ClockName.ACKNOWLEDGE], T0 + timedelta(hours=1), True)
    s.add(a, "feedback", "AcknowledgementPrepared", T0 + timedelta(hours=1), case_number="C-a", language="zh",
          template="ack")
    s.add(a, "resolution", "CaseResolved", T0 + timedelta(days=2), summary="换货")
    s.stopped(a, clocks[ClockName.RESOLVE], T0 + timedelta(days=2), True)
    s.add(a, "feedback", "SurveyAnswered", T0 + timedelta(days=3), score=5, anything_left=False)
    s.add(a, "feedback", "CaseClosed", T0 + timedelta(days=3), outcome="satisfied", summary="ok", attempts=1)
    # B: web, SH-011 (also east), price, urgent; acknowledged late, breached, a repeat, still open.
    b, tb = ids["b"], T0 + timedelta(days=1, hours=8)
    s.received(b, tb, "SH-011", "web", None)
    s.triaged(b, tb + timedelta(minutes=1), "price", "urgent")
    s.assigned(b, tb + timedelta(minutes=2))
    clocks = s.clocks(b, tb, timedelta(hours=4), timedelta(days=3))
    s.stopped(b, clocks[ClockName.ACKNOWLEDGE], tb + timedelta(hours=6), False)
    s.add(b, "routing", "SlaBreached", tb + timedelta(hours=4), clock="acknowledge", due_at=None)
    s.add(b, "intake", "RepeatComplaintLinked", tb, earlier_case_id=str(ids["old"]))
    # C: store counter, SH-001, ring, critical; overridden to service; resolved in a day, reopened after a 2.
    c, tc = ids["c"], T0 + timedelta(days=3)
    s.received(c, tc, "SH-001", "store", "HY-RING-001")
    s.triaged(c, tc + timedelta(minutes=1), "product_quality", "critical")
    s.add(c, "routing", "CategoryOverridden", tc + timedelta(hours=2), category="service", subcategory="attitude",
          previous_category="product_quality", reason="店员态度")
    s.assigned(c, tc + timedelta(minutes=2))
    clocks = s.clocks(c, tc, timedelta(hours=1), timedelta(hours=24))
    s.stopped(c, clocks[ClockName.ACKNOWLEDGE], tc + timedelta(minutes=30), True)
    s.add(c, "resolution", "CaseResolved", tc + timedelta(days=1), summary="退款")
    s.stopped(c, clocks[ClockName.RESOLVE], tc + timedelta(days=1), True)
    s.add(c, "feedback", "SurveyAnswered", tc + timedelta(days=1, hours=2), score=2, anything_left=True)
    s.add(c, "feedback", "CaseReopened", tc + timedelta(days=1, hours=2), by="survey", reason="不满意")
    # D, E: more rings from SH-001, triaged but not yet worked; E is in another queue without an assignee.
    for key, hours in (("d", 60), ("e", 80)):
        t = T0 + timedelta(hours=hours)
        s.received(ids[key], t, "SH-001", "app", "HY-RING-001")
        s.triaged(ids[key], t + timedelta(minutes=1), "product_quality", "general")
        s.clocks(ids[key], t, timedelta(hours=24), timedelta(days=7))
    s.assigned(ids["d"], T0 + timedelta(hours=61))
    # The baseline: one ring complaint three weeks earlier.
    old = ids["old"]
    s.received(old, T0 - timedelta(days=15), "SH-001", "phone", "HY-RING-001")
    s.triaged(old, T0 - timedelta(days=15), "product_quality", "general")
    return s.messages, ids


@pytest.fixture
def models(make_settings: Callable[..., Settings]) -> Iterator[ReadModels]:
    read_models = ReadModels(make_settings(), KINDS)
    yield read_models
    read_models.close()


def feed(models: ReadModels, messages: list[EventMessage], batch: int) -> None:
    for start in range(0, len(messages), batch):
        models.handle_batch(messages[start : start + batch])


def dump(models: ReadModels) -> dict[str, Any]:
    return {kind.name: models[kind.name].dump_tables() for kind in KINDS}


def client(models: ReadModels) -> TestClient:
    app = guarded_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="ombud-identity-"))))
    app.include_router(router)
    app.state.services = {"feedback": SimpleNamespace(read_models=models.by_name)}
    return TestClient(app, headers=staff_headers("HQ-01", "hq"))


def test_any_order_gives_identical_rows(models: ReadModels) -> None:
    messages, _ = scenario()
    feed(models, messages, batch=5)
    first = dump(models)
    assert first["feedback_statistics"]["cases"] and first["feedback_queues"]["cases"]
    for order, batch in ((list(reversed(messages)), 1), (random.Random(7).sample(messages, len(messages)), 9)):
        for kind in KINDS:
            models[kind.name].reset()
        feed(models, order, batch)
        assert dump(models) == first
    # Applied again, nothing changes: each message counts once.
    assert models.handle_batch(messages) == 0
    assert dump(models) == first


def test_summary_figures(models: ReadModels) -> None:
    messages, ids = scenario()
    feed(models, messages, batch=50)
    summary = models["feedback_statistics"].summary(period="day")
    assert summary["cases"] == 6
    assert summary["counts"]["category"] == {"price": 1, "product_quality": 4, "service": 1}
    assert summary["counts"]["subcategory"] == {"product_quality/defect": 1, "service/attitude": 1}
    assert summary["counts"]["region"] == {"east": 6}
    assert summary["counts"]["store"] == {"SH-001": 5, "SH-011": 1}
    assert summary["counts"]["severity"] == {"critical": 1, "general": 4, "urgent": 1}
    assert summary["counts"]["period"]["2026-11-20"] == 1
    assert summary["timeliness"]["acknowledge"] == {"stopped": 3, "met": 2, "share": 0.6667}
    assert summary["timeliness"]["resolve"] == {"stopped": 2, "met": 2, "share": 1.0}
    assert summary["time_to_acknowledge"]["count"] == 3
    assert summary["time_to_acknowledge"]["p50_seconds"] == 3600.0
    assert summary["time_to_resolve"]["p50_seconds"] == 1.5 * 86400
    assert summary["csat"] == {"answers": 2, "average": 3.5, "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}}
    assert summary["repeat"] == {"cases": 1, "rate": 0.1667}
    assert summary["reopen"] == {"cases": 1, "resolved": 2, "rate": 0.5}
    # Filters: a store, a category, a window of receipt.
    only = models["feedback_statistics"].summary(store="SH-011")
    assert only["cases"] == 1 and only["timeliness"]["acknowledge"]["share"] == 0.0
    assert models["feedback_statistics"].summary(category="service")["csat"]["average"] == 2.0
    window = models["feedback_statistics"].summary(start=T0, end=T0 + timedelta(days=1))
    assert window["cases"] == 1 and window["filters"]["from"] == T0.isoformat()


def test_statistics_api_json_csv_and_422(models: ReadModels) -> None:
    feed(models, scenario()[0], batch=50)
    http = client(models)
    body = http.get("/api/statistics/summary", params={"region": "east", "from": "2026-11-01T00:00:00+08:00"}).json()
    assert body["cases"] == 6 and body["counts"]["period"] == {"2026-11": 6}
    response = http.get("/api/statistics/export.csv", params={"group_by": "store"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["store"], r["cases"]) for r in rows] == [("SH-001", "5"), ("SH-011", "1")]
    assert rows[1]["repeat_rate"] == "1.0" and rows[1]["timeliness"] == "0.0"
    weekly = http.get("/api/statistics/export.csv", params={"group_by": "period", "period": "week"})
    assert "period,cases," in weekly.content.decode("utf-8-sig").splitlines()[0]
    bad = http.get("/api/statistics/export.csv", params={"group_by": "colour"})
    assert bad.status_code == 422
    problem = bad.json()["detail"][0]
    assert problem["field"] == "group_by" and "region" in problem["allowed"]
    bad = http.get("/api/statistics/summary", params={"period": "year"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["allowed"] == ["day", "week", "month"]
    naive = http.get("/api/statistics/summary", params={"from": "2026-11-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["detail"][0]["field"] == "from"


def test_warnings(models: ReadModels) -> None:
    feed(models, scenario()[0], batch=50)
    http = client(models)
    found = http.get("/api/warnings", params={"at": AT.isoformat()}).json()["warnings"]
    by = {(w["dimension"], w["value"]): w for w in found}
    # Four rings in the window against one in the 28 days before (0.25 a week): a warning.
    ring = by[("sku", "HY-RING-001")]
    assert ring["count"] == 4 and ring["baseline_count"] == 1 and ring["baseline"] == 0.25 and ring["threshold"] == 0.5
    assert len(ring["case_ids"]) == 4
    assert by[("store", "SH-001")]["count"] == 4
    assert by[("category", "product_quality")]["count"] == 3  # C was re-classified as service
    assert ("store", "SH-011") not in by and ("category", "price") not in by  # under the minimum
    # A month later the window is empty.
    later = http.get("/api/warnings", params={"at": (AT + timedelta(days=40)).isoformat()}).json()
    assert later["warnings"] == []
    assert http.get("/api/warnings", params={"at": "2026-11-25T00:00:00"}).status_code == 422


def test_work_queues(models: ReadModels) -> None:
    messages, ids = scenario()
    feed(models, messages, batch=7)
    http = client(models)
    page = http.get(f"/api/queues/{QUEUE}").json()
    # A is closed; B, C, D are open in the queue; E has no owner yet.
    assert page["total"] == 3
    got = [item["case_id"] for item in page["items"]]
    # Nearest due first: D's acknowledge clock (due 11-23 14:00Z), then B's resolve clock (due 11-24 10:00Z; its
    # acknowledge clock stopped); C's clocks have all stopped, so it has no due instant and comes last.
    assert got == [str(ids["d"]), str(ids["b"]), str(ids["c"])]
    assert page["items"][0]["due_clock"] == "acknowledge"
    assert page["items"][1]["due_clock"] == "resolve"
    assert page["items"][2]["due_at"] is None
    assert http.get(f"/api/queues/{QUEUE}", params={"state": "closed"}).json()["items"][0]["case_id"] == str(ids["a"])
    assert http.get(f"/api/queues/{QUEUE}", params={"state": "all"}).json()["total"] == 4
    breached = http.get(f"/api/queues/{QUEUE}", params={"flag": "sla_breached"}).json()
    assert [i["case_id"] for i in breached["items"]] == [str(ids["b"])] and breached["items"][0]["flags"] == [
        "repeat", "sla_breached"]
    assert http.get(f"/api/queues/{QUEUE}", params={"severity": "critical"}).json()["total"] == 1
    assert http.get(f"/api/queues/{QUEUE}", params={"category": "service"}).json()["total"] == 1
    second = http.get(f"/api/queues/{QUEUE}", params={"limit": 2, "offset": 2}).json()
    assert second["total"] == 3 and [i["case_id"] for i in second["items"]] == [str(ids["c"])]
    mine = http.get(f"/api/queues/people/{MANAGER}", params={"store": "SH-011"}).json()
    assert mine["total"] == 1 and mine["items"][0]["assignee"] == MANAGER
    bad = http.get(f"/api/queues/{QUEUE}", params={"state": "pending"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["allowed"] == ["open", "closed", "all"]
    assert http.get(f"/api/queues/{QUEUE}", params={"limit": 0}).status_code == 422


def test_warnings_become_events_once_per_value_and_day(models: ReadModels, settings: Settings) -> None:
    # Given the warnings the read model computes at AT
    feed(models, scenario()[0], batch=50)
    computed = models[Statistics.name].warnings(AT)
    assert computed
    feedback = Feedback(settings, ManualClock(AT))
    try:
        # When feedback records them, and checks again later the same day
        assert feedback.record_warnings(computed) == len(computed)
        assert feedback.record_warnings(models[Statistics.name].warnings(AT + timedelta(hours=1))) == 0
        # Then each is one event naming the value and the cases behind it
        raised = [t for t in event_types(feedback) if t == "HighFrequencyWarningRaised"]
        assert len(raised) == len(computed)
        [ring] = [
            m for _, m in feedback.messages(feedback.recorder.select_notifications(start=1, limit=100))
            if m and m.payload["value"] == "HY-RING-001"
        ]  # fmt: skip
        assert ring.payload["count"] == 4 and len(ring.payload["case_ids"]) == 4
    finally:
        feedback.close()
