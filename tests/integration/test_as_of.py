"""As-of reads on SQLite and on PostgreSQL: a case rebuilt at any instant equals the snapshot taken then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.feedback.application import Feedback
from services.feedback.projections import CaseViews
from services.intake.application import Intake
from services.resolution.application import ResolutionService
from services.routing.application import Routing
from shared.clock import ManualClock
from shared.contracts import Actor, EventMessage
from shared.eventstore import ServiceApplication
from shared.masterdata import MasterData
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import record

CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")
STEP = timedelta(seconds=1)


@pytest.fixture
def views(settings: Settings) -> Iterator[CaseViews]:
    views = CaseViews(settings)
    yield views
    views.close()


def published(app: ServiceApplication) -> list[EventMessage]:
    """The messages a service has published so far."""
    messages = [message for _, message in app.messages(app.recorder.select_notifications(start=1, limit=10))]
    assert None not in messages
    return messages  # type: ignore[return-value]


def only_message(app: ServiceApplication) -> EventMessage:
    """The one message a service has published so far."""
    [message] = published(app)
    return message


def case_messages(settings: Settings, clock: ManualClock) -> list[EventMessage]:
    """One complaint through intake, feedback, routing and resolution, each a step after the one before."""
    intake = Intake(settings, clock, MasterData.load(settings.master_data_dir))
    feedback, routing = Feedback(settings, clock), Routing(settings, clock)
    resolution = ResolutionService(settings, clock)
    try:
        intake.receive_complaint(
            record(
                channel="store",
                store_id="SH-001",
                customer={"name": "王芳", "phone": "13800138000"},
                description="手镯戴了一周就断了，质量太差",
            ),
            actor=CLERK,
        )
        received, due = published(intake)
        clock.advance(STEP)
        feedback.handle(due)
        clock.advance(STEP)
        routing.handle(received)
        triage = published(routing)  # the triage, its clocks and the assignment, at one instant
        clock.advance(STEP)
        resolution.handle(triage[0])
        return [received, due, only_message(feedback), *triage, only_message(resolution)]
    finally:
        for app in (intake, feedback, routing, resolution):
            app.close()


def test_case_and_timeline_as_of_each_instant_equal_the_snapshots_taken_then(
    settings: Settings, views: CaseViews
) -> None:
    messages = case_messages(settings, ManualClock())
    case_id = messages[0].envelope.case_id
    # Given each message projected in turn, with a snapshot of the case and its timeline after each instant
    # (intake records the complaint and the acknowledgement it owes at one instant)
    snapshots: list[tuple[datetime, dict[str, Any] | None, list[dict[str, Any]]]] = []
    for message, following in zip(messages, [*messages[1:], None], strict=True):
        assert views.handle(message) is True
        at = message.envelope.recorded_at
        if following is None or following.envelope.recorded_at != at:
            snapshots.append((at, views.case(case_id), views.timeline(case_id)))
    assert [case["status"] for _, case, _ in snapshots if case] == ["received", "received", "triaged", "triaged"]
    # Then as of each instant, and until the next one, the case and its timeline are what they were then
    for at, case, timeline in snapshots:
        for as_of in (at, at + STEP / 2):
            assert views.case(case_id, as_of=as_of) == case
            assert views.timeline(case_id, as_of=as_of) == timeline
    # And before its first event the case did not exist yet
    before = messages[0].envelope.recorded_at - timedelta(microseconds=1)
    assert views.case(case_id, as_of=before) is None
    assert views.timeline(case_id, as_of=before) == []


def test_case_as_of_now_equals_the_live_view_whatever_order_the_messages_arrived_in(
    settings: Settings, views: CaseViews
) -> None:
    clock = ManualClock()
    messages = case_messages(settings, clock)
    case_id = messages[0].envelope.case_id
    # When the messages arrive out of order (the resolution's first, the complaint's last)
    assert views.handle_batch(list(reversed(messages))) == len(messages)
    # Then rebuilding from the events gives exactly the live view
    live = views.case(case_id)
    assert live is not None and live["event_count"] == len(messages) == 8
    assert views.case(case_id, as_of=clock.now()) == live
    assert views.timeline(case_id, as_of=clock.now()) == views.timeline(case_id)
