"""Rebuilding feedback's read models from the services' logs (``services.feedback.rebuild``, ``ombud rebuild`` and
``ombud projections``), once on SQLite and once on PostgreSQL.

The whole system runs in-process on real NATS; complaints are filed over HTTP and some are driven through routing and
resolution. Once every projection has applied every service's public messages, every table of every projection is
dumped; rebuilt from the logs, each is byte-identical. A rebuild of one projection leaves the others as they are, and
``ombud projections`` shows the lag of an emptied one, then none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.cli import app as cli
from services.feedback.projections import PROJECTIONS, Fact, Projection, ReadModels
from services.feedback.projections.logs import SERVICES as REPLAYED
from services.feedback.projections.logs import Part, StoreLog
from services.feedback.rebuild import rebuild, settled, status
from services.system import SERVICES, build_http
from shared.publicjson import public_json
from shared.settings import Settings
from tests.channels import Webhook, answered
from tests.support import complaint_body, staff_headers, wait_until

MANAGER = staff_headers("RM-east", "regional_manager", region="east")
STORES = ["SH-001", "SH-011", "HZ-001", "HZ-021"]
# A service desk clerk covering the four stores the cases are filed in.
FRONTLINE = staff_headers("EAST-F1", "frontline", stores=tuple(STORES))
TEXTS = [
    "手镯戴了一周就断了，质量太差，要求退货",
    "价格多收了，结账时比标价贵了两百元",
    "店员态度很差，说话不耐烦",
    "戒指尺寸不对，要求换货",
]


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str) -> Settings:
    return make_settings(nats_url=nats_url, stream_name=stream_name)


@contextmanager
def running(settings: Settings) -> Iterator[TestClient]:
    """The whole system in-process; stopped (relays, consumers, stores) when the block ends."""
    with TestClient(build_http(SERVICES, settings), headers=staff_headers("HQ-01", "hq")) as c:
        wait_until(lambda: c.get("/health").status_code == 200, timeout=10)
        yield c


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ombud`` run by CliRunner sees this test's stores (the PostgreSQL schema has no option of its own)."""
    monkeypatch.setenv("OMBUD_DATA_DIR", str(settings.data_dir))
    for key, value in (
        ("OMBUD_POSTGRES_URL", settings.postgres_url),
        ("OMBUD_POSTGRES_SCHEMA", settings.postgres_schema),
    ):
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)


def post(client: TestClient, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] = FRONTLINE) -> Any:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), (url, response.text)
    return response.json()


def file_complaints(client: TestClient, count: int, first: int = 0) -> list[str]:
    cases = []
    for i in range(first, first + count):
        body = complaint_body(i, store_id=STORES[i % len(STORES)], description=TEXTS[i % len(TEXTS)])
        cases.append(str(post(client, "/api/complaints", body)["case_id"]))
    return cases


def drive(client: TestClient, cases: list[str], webhook: Webhook) -> None:
    """Some cases through routing's and resolution's commands: rejected, re-rated, resolved, awaiting the customer."""
    for case in cases:
        wait_until(lambda case=case: client.get(f"/api/resolution/cases/{case}").status_code == 200)
    post(client, f"/api/routing/cases/{cases[0]}/validity", {"well_founded": False, "reason": "not our product"}, MANAGER)
    post(client, f"/api/routing/cases/{cases[1]}/severity", {"severity": "urgent", "reason": "customer is a minor"})
    for case in cases[2:6]:
        rest = f"/api/resolution/cases/{case}"
        post(client, f"{rest}/investigation", {"plan": "check the clasp and the batch"}, MANAGER)
        post(client, f"{rest}/findings", {"findings": "weak solder joint", "root_cause": "staff_conduct"})
        lines = [{"remedy": "apology"}, {"remedy": "coupon", "amount": "100.00"}]
        post(client, f"{rest}/proposals", {"remedies": lines})
        post(client, f"{rest}/proposals/current/offer")
        if case in cases[2:4]:
            accept = {"token": webhook.next_token(case, "answer", 0), "answer": "accept"}
            answer = answered(lambda: client.post(f"/api/public/cases/{case}/answer", json=accept))  # noqa: B023
            assert answer.status_code == 200, answer.text
            post(client, f"{rest}/remedies/1/execution", {"reference": f"CPN-{case[:8]}"})


def projections_of(client: TestClient) -> list[Projection]:
    return list(client.app.state.services["feedback"].read_models.values())  # type: ignore[attr-defined]


def settle(settings: Settings, projections: list[Projection]) -> None:
    """Wait until every projection has applied every service's public messages, and nothing more comes."""

    def quiet() -> bool:
        first = status(settings, projections)
        return settled(first) and status(settings, projections) == first

    wait_until(quiet, timeout=60, interval=0.5)


def catch_up(settings: Settings, models: ReadModels) -> None:
    """Apply every service's log to the read models, exactly once, like the live consumer (no reset)."""
    for name in SERVICES:
        log = StoreLog(name, settings)
        try:
            for facts in log.facts(size=500):
                models.handle_batch(facts)
        finally:
            log.close()


def dump_all(projections: list[Projection]) -> dict[str, dict[str, list[str]]]:
    return {p.name: p.dump_tables() for p in projections}


def aside_tables(projection: Projection) -> list[str]:
    """Tables of an aside build of the projection still in its store."""
    pattern = (f"{projection.name}_rebuild_%",)
    if projection.side.is_postgres:
        sql = "SELECT table_name AS name FROM information_schema.tables WHERE table_name LIKE ?"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
    return [row["name"] for row in projection.side.query(sql, pattern)]


def lags(output: str) -> dict[tuple[str, str], int]:
    """(projection, service) -> lag, from the table ``ombud projections`` prints."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if len(cells) == 5 and cells[1] in SERVICES:
            rows[(cells[0], cells[1])] = int(cells[4])
    return rows


def test_rebuilt_read_models_are_identical_and_one_rebuild_leaves_the_others(
    settings: Settings, cli_env: None, webhook: Webhook
) -> None:
    assert REPLAYED == SERVICES
    # Messages reach the customers (through the webhook), so they can answer through their links.
    settings = settings.model_copy(update={"notify_webhook_url": webhook.url})
    with running(settings) as client:
        cases = file_complaints(client, 20)
        drive(client, cases, webhook)
        settle(settings, projections_of(client))

        # The lean reader gives each service's messages exactly as the service's relay does
        for name in SERVICES:
            service = client.app.state.services[name].app  # type: ignore[attr-defined]
            log = StoreLog(name, settings)
            try:
                head = log.head()  # the services' loops may record more meanwhile: compare up to here
                relayed = [Fact.of(m) for page in log.pages(size=500) for _, m in service.messages(page) if m]
                lean = [fact for facts in log.facts(size=300) for fact in facts]
                assert [f for f in lean if f.notification_id <= head] == [
                    f for f in relayed if f.notification_id <= head
                ]
                assert not log.slow  # no type fell back to the slow decode
            finally:
                log.close()
    # Everything stopped (the last reactions settled before it did): nothing changes under the dumps below

    # The lean decode, event by event, against the services' own (to_message), for every contract type
    types: set[str] = set()
    for name in SERVICES:
        log = StoreLog(name, settings)
        try:
            for rows in log.rows(size=500):
                for notification_id, topic, state in rows:
                    found = public_json(topic, bytes(state), log.mapper)
                    lean = None if found is None else Fact(name, notification_id, *found)
                    assert lean == log.slow_fact(notification_id), topic
                    if lean is not None:
                        types.add(lean.type)
            # A rebuild worker's part of the cases, picked by the database from the stored bytes, is exactly the
            # facts of its cases (StoreLog.facts checks each decoded case against the part)
            every = sorted(fact.notification_id for facts in log.facts() for fact in facts)
            for parts in (2, 3, 16):
                picked = [fact.notification_id for i in range(parts) for facts in log.facts(part=Part(i, parts))
                          for fact in facts]  # fmt: skip
                assert sorted(picked) == every
        finally:
            log.close()
    assert len(types) > 15, types  # every service's kinds of event, from received to resolved

    models = ReadModels(settings)
    projections = list(models.by_name.values())
    try:
        # The services' loops (deliveries, timers) may have recorded a last event the consumer had no time for
        # before the stop: apply the logs' tails as the consumer does on its next start (tracking skips the rest)
        catch_up(settings, models)
        assert settled(status(settings, projections))
        live = dump_all(projections)
        assert sum(len(t) for t in live["feedback_views"].values()) > 100  # case views, timeline, tracking
        assert all(sum(len(rows) for rows in tables.values()) for tables in live.values())
        runner = CliRunner()
        shown = runner.invoke(cli, ["projections"])
        assert shown.exit_code == 0, shown.output
        assert lags(shown.output) == {(p.name, s): 0 for p in PROJECTIONS for s in SERVICES}

        # Every projection rebuilt from the logs (aside, then swapped in): byte-identical tables, nothing left behind
        report = rebuild(projections, settings)
        assert dump_all(projections) == live
        assert settled(status(settings, projections)) and not any(aside_tables(p) for p in projections)
        assert report.caught_up == 0 and report.notifications == sum(StoreLog(n, settings).head() for n in SERVICES)
        assert set(report.applied.values()) == {report.messages}
        # The same with the bulk build shared by two processes, each folding its part of the cases
        report = rebuild(projections, settings, workers=2)
        assert dump_all(projections) == live and settled(status(settings, projections))
        assert set(report.applied.values()) == {report.messages}
        # And with room for three cases in memory: the others are written out, and read back when they come again
        rebuild(projections, settings, page=20, cache=3)
        assert dump_all(projections) == live

        # One emptied: `ombud projections` shows its lag; rebuilding another one leaves it (and the rest) alone
        models["feedback_queues"].reset()
        behind = lags(runner.invoke(cli, ["projections"]).output)
        assert all(lag > 0 for (name, _), lag in behind.items() if name == "feedback_queues")
        assert all(lag == 0 for (name, _), lag in behind.items() if name != "feedback_queues")
        one = runner.invoke(cli, ["rebuild", "feedback_views"])
        assert one.exit_code == 0, one.output
        assert "feedback_views:" in one.output and "feedback_queues" not in one.output
        after = dump_all(projections)
        assert after["feedback_queues"] == {short: [] for short in live["feedback_queues"]}
        assert {k: v for k, v in after.items() if k != "feedback_queues"} == {
            k: v for k, v in live.items() if k != "feedback_queues"
        }

        # Then all of them, by the command: identical again, no lag
        every = runner.invoke(cli, ["rebuild"])
        assert every.exit_code == 0, every.output
        assert dump_all(projections) == live
        assert set(lags(runner.invoke(cli, ["projections"]).output).values()) == {0}
        assert runner.invoke(cli, ["rebuild", "no_such_view"]).exit_code != 0
    finally:
        models.close()


def test_a_rebuild_while_the_live_consumer_runs_ends_as_an_offline_one(settings: Settings) -> None:
    # On PostgreSQL two writers of one projection (the live consumer and this rebuild) take its advisory lock in each
    # transaction (Projection.handle_batch), so neither folds a case view the other is writing; SQLite serialises
    # the writers by itself.
    with running(settings) as client:
        file_complaints(client, 10)
        settle(settings, projections_of(client))
        # More complaints arrive while every projection is rebuilt beside the running consumer (its own connections)
        filing = threading.Thread(target=file_complaints, args=(client, 10, 100))
        filing.start()
        models = ReadModels(settings)
        try:
            rebuild(list(models.by_name.values()), settings, page=50)
        finally:
            models.close()
            filing.join()
        settle(settings, projections_of(client))

    models = ReadModels(settings)
    try:
        assert settled(status(settings, list(models.by_name.values())))
        live = dump_all(list(models.by_name.values()))
        rebuild(list(models.by_name.values()), settings)
        assert dump_all(list(models.by_name.values())) == live
    finally:
        models.close()
