"""`ombud parked list|replay` on a service's real store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.intake.application import Intake, Receipt
from services.routing.application import Routing
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.masterdata import MasterData
from shared.parked import ParkedStore
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import event_types, record


@pytest.fixture
def store() -> str:
    return "sqlite"


def file_one(intake: Intake) -> Receipt:
    return intake.receive_complaint(
        record(channel="web", customer={"name": "x", "email": "x@example.com"}, description="价格多收了"),
        actor=Actor(id="u1", role=Role.FRONTLINE),
    )


def test_parked_message_is_listed_then_replayed_into_its_service(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    intake = Intake(settings, ManualClock(), MasterData.load(settings.master_data_dir))
    file_one(intake)
    [(_, message)] = intake.messages(intake.recorder.select_notifications(start=1, limit=1))
    intake.close()
    routing = Routing(settings, ManualClock())
    ParkedStore(routing.side, routing.clock).park(
        consumer="routing-policy",
        subject=message.subject,
        data=message.model_dump_json(),
        error="OperationalError: database is locked",
        deliveries=5,
    )
    routing.close()
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]

    listed = runner.invoke(app, ["parked", "list", *data])
    assert listed.exit_code == 0, listed.output
    assert "routing-policy" in listed.output and "database is locked" in listed.output

    replayed = runner.invoke(app, ["parked", "replay", "routing", "1", *data])
    assert replayed.exit_code == 0, replayed.output
    routing = Routing(settings, ManualClock())
    assert event_types(routing).count("ComplaintTriaged") == 1
    routing.close()

    again = runner.invoke(app, ["parked", "replay", "routing", "1", *data])
    assert again.exit_code == 1
    assert "routing-policy" not in runner.invoke(app, ["parked", "list", *data]).output


def test_verify_reports_intact_stores_then_names_a_tampered_event(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    intake = Intake(settings, ManualClock(), MasterData.load(settings.master_data_dir))
    receipt = file_one(intake)
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]

    clean = runner.invoke(app, ["verify", *data])
    assert clean.exit_code == 0, clean.output
    assert "intake: 2 events in 1 streams, sealed to 2; 0 problem(s)" in clean.output

    # When the complaint's stored bytes are edited behind the application's back
    table = intake.side.events_table
    intake.side.execute(f"UPDATE {table} SET state = replace(state, ?, ?)", ("价格".encode(), "质量".encode()))
    intake.close()
    tampered = runner.invoke(app, ["verify", "--case", str(receipt.case_id), *data])
    assert tampered.exit_code == 1
    assert f"first problem: altered at intake, stream {receipt.case_id} v1" in tampered.output
