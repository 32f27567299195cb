"""Each service's store on SQLite and on PostgreSQL: commands, idempotency, exactly-once policies."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from services.feedback.projections import CaseViews
from services.intake.application import NUMBER_BLOCK, Intake, Receipt
from services.intake.domain import case_number
from services.routing.application import Routing
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.eventstore import to_message
from shared.masterdata import MasterData
from shared.parked import ParkedStore
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import event_types, originators, record

# What filing one complaint records in intake.
RECEIVED = ["ComplaintReceived", "AcknowledgementDue"]
# What routing records when it triages a general complaint: the triage, its two clocks, the assignment.
TRIAGE_EVENTS = ["ComplaintTriaged", "ClockStarted", "ClockStarted", "CaseAssigned"]

CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")


@pytest.fixture
def intake(settings: Settings) -> Intake:
    app = Intake(settings, ManualClock(), MasterData.load(settings.master_data_dir))
    yield app
    app.close()


def receive(intake: Intake, key: str | None = None, **overrides: object) -> Receipt:
    return intake.receive_complaint(record(**overrides), actor=CLERK, idempotency_key=key)


def test_case_numbers_are_unique_and_in_order(intake: Intake) -> None:
    numbers = [receive(intake).case_number for _ in range(3)]
    assert numbers == ["CMP-20261125-000001", "CMP-20261125-000002", "CMP-20261125-000003"]


def test_two_intake_processes_never_draw_the_same_case_number(intake: Intake, settings: Settings) -> None:
    other = Intake(settings, intake.clock, intake.master_data)
    try:
        numbers = [receive(app).case_number for _ in range(NUMBER_BLOCK + 1) for app in (intake, other)]
    finally:
        other.close()
    assert len(set(numbers)) == len(numbers) == 2 * (NUMBER_BLOCK + 1)
    # The second process draws the block after the first process's whole block.
    assert numbers[1] == case_number("20261125", NUMBER_BLOCK + 1)


def test_same_idempotency_key_returns_the_same_case_and_stores_nothing_more(intake: Intake) -> None:
    first = receive(intake, key="req-1")
    again = receive(intake, key="req-1")
    assert (again.case_id, again.case_number, again.created) == (first.case_id, first.case_number, False)
    assert event_types(intake) == RECEIVED


def test_unknown_store_is_refused_and_nothing_is_stored(intake: Intake) -> None:
    from shared.errors import InvalidValue

    with pytest.raises(InvalidValue, match="store_id"):
        receive(intake, store_id="NOPE-999")
    assert event_types(intake) == []
    assert receive(intake).case_number.endswith("000001")  # no number was burnt


def test_policy_applies_a_redelivered_message_once(intake: Intake, settings: Settings) -> None:
    receipt = receive(intake)
    [notification] = intake.recorder.select_notifications(start=1, limit=1)
    [(_, message)] = intake.messages([notification])
    routing = Routing(settings, ManualClock())
    try:
        # When the same message arrives twice
        assert routing.handle(message) is True
        assert routing.handle(message) is False
        # Then one triage exists for the case
        assert event_types(routing) == TRIAGE_EVENTS
        assert len(set(originators(routing, "ComplaintTriaged"))) == 1
        triaged = to_message(
            "routing", 1, routing.mapper.to_domain_event(routing.recorder.select_notifications(start=1, limit=1)[0])
        )
        assert triaged.envelope.causation_id == message.envelope.event_id
        assert triaged.envelope.case_id == receipt.case_id
    finally:
        routing.close()


def test_projection_applies_a_message_once_and_keeps_its_tracking(intake: Intake, settings: Settings) -> None:
    receipt = receive(intake)
    [(_, message)] = intake.messages(intake.recorder.select_notifications(start=1, limit=1))
    views = CaseViews(settings)
    try:
        assert views.handle(message) is True
        assert views.handle(message) is False
        assert views.case(receipt.case_id)["event_count"] == 1
        assert len(views.timeline(receipt.case_id)) == 1
    finally:
        views.close()


def test_projection_batch_skips_what_it_has_and_matches_one_by_one(intake: Intake, settings: Settings) -> None:
    first, second = receive(intake), receive(intake)
    published = [m for _, m in intake.messages(intake.recorder.select_notifications(start=1, limit=10))]
    messages = [m for m in published if m.type == "ComplaintReceived"]
    views = CaseViews(settings)
    try:
        # Given the first message was already projected on its own
        views.handle(messages[0])
        # When a redelivered batch holds it again, with the second message twice
        applied = views.handle_batch([messages[0], messages[1], messages[1]])
        # Then only the second is new, and each case counts one event
        assert applied == 1
        assert [views.case(r.case_id)["event_count"] for r in (first, second)] == [1, 1]
        assert views.case(second.case_id)["case_number"] == second.case_number
    finally:
        views.close()


def test_parked_message_is_listed_and_replayed_once(intake: Intake, settings: Settings) -> None:
    receive(intake)
    [(_, message)] = intake.messages(intake.recorder.select_notifications(start=1, limit=1))
    parked = ParkedStore(intake.side, intake.clock)
    parked.park(
        consumer="routing-policy", subject=message.subject, data=message.model_dump_json(), error="boom", deliveries=5
    )
    [row] = parked.list()
    assert (row["consumer"], row["error"], row["deliveries"]) == ("routing-policy", "boom", 5)
    applied: list[str] = []
    assert parked.replay(row["id"], {"routing-policy": lambda m: applied.append(m.msg_id)}) is True
    assert parked.replay(row["id"], {"routing-policy": lambda m: applied.append(m.msg_id)}) is False
    assert applied == ["intake:1"] and parked.list() == []
    assert len(parked.list(include_replayed=True)) == 1


def test_unknown_case_id_is_not_found(intake: Intake) -> None:
    from shared.errors import NotFound

    with pytest.raises(NotFound):
        intake.get_complaint(uuid4())


def test_group_commit_fails_only_the_command_whose_save_is_refused(intake: Intake) -> None:
    first = receive(intake, key="dup")

    async def file_concurrently() -> list[object]:
        # Given five commands waiting together, one of them repeating an idempotency key
        complaints = [
            intake.open_complaint(record(), actor=CLERK, idempotency_key=key) for key in ("a", "b", "dup", "c", "d")
        ]
        return await asyncio.gather(*(intake.group_commit.save(c) for c in complaints), return_exceptions=True)

    outcomes = asyncio.run(file_concurrently())
    # Then only the repeat is refused, and the other four are stored
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "NoneType", "IntegrityError", "NoneType", "NoneType"]
    assert event_types(intake) == ["ComplaintReceived", "AcknowledgementDue"] * 5
    assert intake.get_complaint(first.case_id).case_number == first.case_number


def test_repeated_idempotency_key_over_the_shared_path_returns_the_first_receipt(intake: Intake) -> None:
    first = receive(intake, key="same")
    again = asyncio.run(intake.receive_complaint_shared(record(), actor=CLERK, idempotency_key="same"))
    assert (again.case_id, again.case_number, again.created) == (first.case_id, first.case_number, False)
    assert event_types(intake) == RECEIVED


def test_policy_applies_a_batch_in_one_transaction_and_refuses_a_batch_with_a_repeat(
    intake: Intake, settings: Settings
) -> None:
    receive(intake, order_id="A")
    receive(intake, order_id="B")
    published = [m for _, m in intake.messages(intake.recorder.select_notifications(start=1, limit=10))]
    routing = Routing(settings, ManualClock())
    try:
        # When a fetched batch (two complaints and their acknowledgements) is applied at once
        routing.handle_batch(published)
        # Then each complaint is triaged once, and each message is tracked: a redelivery is a no-op
        assert event_types(routing) == TRIAGE_EVENTS * 2
        assert [routing.handle(m) for m in published if m.type == "ComplaintReceived"] == [False, False]
        # And a batch holding an applied message fails whole (the consumer then goes message by message)
        with pytest.raises(IntegrityError):
            routing.handle_batch(published[:1])
        assert event_types(routing) == TRIAGE_EVENTS * 2
    finally:
        routing.close()


def test_group_commit_splits_what_waits_into_transactions_of_at_most_max_bytes(intake: Intake) -> None:
    intake.group_commit.max_bytes = 30_000
    saves: list[int] = []
    save = intake.save

    def counting_save(*objs: Any, **kwargs: Any) -> Any:
        saves.append(len(objs))
        return save(*objs, **kwargs)

    intake.save = counting_save  # type: ignore[method-assign]

    async def file_concurrently() -> None:
        long = "手镯断了。" * 2_000  # about 10,000 characters: some 30 kB stored per complaint, sealed too
        complaints = [intake.open_complaint(record(description=long), actor=CLERK) for _ in range(6)]
        await asyncio.gather(*(intake.group_commit.save(c) for c in complaints))

    asyncio.run(file_concurrently())
    # Then all six are stored, in more than one transaction (one would hold some 180 kB)
    assert event_types(intake) == RECEIVED * 6
    assert len(saves) > 1 and sum(saves) == 12
