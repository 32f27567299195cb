"""Relay and consumers on a real NATS JetStream: Msg-Id dedupe, durable position, redelivery, parking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import nats
import pytest

from services.intake.application import Intake
from shared.bus import Bus, Consumer, Relay, Subscription
from shared.clock import ManualClock
from shared.contracts import Actor, EventMessage
from shared.masterdata import MasterData
from shared.natsauth import ADMIN, connect_options
from shared.parked import ParkedStore
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import record

CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE)


@pytest.fixture
def store() -> str:
    return "sqlite"  # the bus mechanics do not depend on the store; both stores run in e2e


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str) -> Settings:
    # The bus mechanics under test use a consumer of no service's: as the admin user, which may do anything.
    return make_settings(
        nats_url=nats_url, stream_name=stream_name, backoff_seconds=[0.05] * 4, max_deliver=3, nats_user=ADMIN
    )


@pytest.fixture
def intake(settings: Settings) -> Intake:
    app = Intake(settings, ManualClock(), MasterData.load(settings.master_data_dir))
    yield app
    app.close()


def file(intake: Intake, n: int) -> None:
    for i in range(n):
        intake.receive_complaint(
            record(
                channel="web",
                store_id="SH-001",
                customer={"name": "x", "email": f"c{i}@example.com"},
                description="质量问题",
            ),
            actor=CLERK,
        )


async def stream_messages(settings: Settings) -> list[Any]:
    nc = await nats.connect(settings.nats_url, **connect_options(settings, ADMIN))
    js = nc.jetstream()
    info = await js.stream_info(settings.stream_name)
    msgs = [await js.get_msg(settings.stream_name, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    await nc.close()
    return msgs


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_relay_publishes_each_event_once_with_msg_id_and_resumes_from_its_position(
    intake: Intake, settings: Settings
) -> None:
    async def scenario() -> None:
        file(intake, 3)
        bus = Bus(settings)
        assert await bus.connect(asyncio.Event())
        relay = Relay(intake, bus)
        # each complaint is two events: ComplaintReceived and AcknowledgementDue
        assert await relay.pump(0) == (6, 6)
        # a relay that crashed before saving its position republishes: JetStream drops the duplicates
        assert await relay.pump(0) == (6, 6)
        file(intake, 2)
        fresh = Relay(intake, bus)  # a restarted relay starts from the saved position
        assert fresh.position == 6
        assert await fresh.pump(fresh.position) == (10, 4)
        await bus.close()

    run(scenario())
    msgs = run(stream_messages(settings))
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == [f"intake:{i}" for i in range(1, 11)]
    assert {m.subject for m in msgs} == {"ombud.intake.ComplaintReceived", "ombud.intake.AcknowledgementDue"}
    assert all("@example.com" not in m.data.decode() for m in msgs)


def run_consumer(
    settings: Settings, handle: Callable[[EventMessage], Any], parked: ParkedStore, until: Callable[[], bool]
) -> None:
    async def scenario() -> None:
        bus = Bus(settings)
        stop = asyncio.Event()
        assert await bus.connect(stop)
        consumer = Consumer(bus, Subscription("test-consumer", ["ombud.intake.ComplaintReceived"], handle), parked)
        task = asyncio.create_task(consumer.run(stop))
        for _ in range(300):
            if until():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        await bus.close()

    run(scenario())


def publish_all(intake: Intake, settings: Settings) -> None:
    async def scenario() -> None:
        bus = Bus(settings)
        assert await bus.connect(asyncio.Event())
        await Relay(intake, bus).pump(0)
        await bus.close()

    run(scenario())


def test_a_failing_handler_is_retried_and_its_effect_applied_once(intake: Intake, settings: Settings) -> None:
    file(intake, 2)
    publish_all(intake, settings)
    calls: list[str] = []
    applied: set[str] = set()

    def flaky(message: EventMessage) -> bool:
        calls.append(message.msg_id)
        if calls.count(message.msg_id) == 1:
            raise RuntimeError("database briefly unavailable")
        if message.msg_id in applied:
            return False
        applied.add(message.msg_id)
        return True

    parked = ParkedStore(intake.side, intake.clock)
    run_consumer(settings, flaky, parked, until=lambda: len(applied) == 2)
    # (a complaint is notifications 1 and 2: ComplaintReceived, then AcknowledgementDue)
    assert applied == {"intake:1", "intake:3"}
    assert sorted(calls) == ["intake:1", "intake:1", "intake:3", "intake:3"]
    assert parked.list() == []


def test_poison_message_is_parked_with_its_error_after_max_deliver(intake: Intake, settings: Settings) -> None:
    file(intake, 2)
    publish_all(intake, settings)
    calls: list[str] = []

    def poisoned(message: EventMessage) -> bool:
        calls.append(message.msg_id)
        if message.msg_id == "intake:1":
            raise ValueError("cannot triage this")
        return True

    parked = ParkedStore(intake.side, intake.clock)
    run_consumer(settings, poisoned, parked, until=lambda: len(parked.list()) == 1 and "intake:3" in calls)
    [row] = parked.list()
    assert row["subject"] == "ombud.intake.ComplaintReceived"
    assert row["deliveries"] == settings.max_deliver
    assert "ValueError: cannot triage this" in row["error"]
    assert calls.count("intake:1") == settings.max_deliver and calls.count("intake:3") == 1
    # fixed, it replays
    assert parked.replay(row["id"], {"test-consumer": lambda m: calls.append("replayed " + m.msg_id)})
    assert calls[-1] == "replayed intake:1"
