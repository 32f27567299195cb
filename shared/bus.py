"""NATS JetStream: the connection, the stream, the outbox relay and durable pull consumers.

* ``Bus`` keeps one connection that reconnects forever and creates the stream idempotently; it connects as
  one service's NATS user (``shared.natsauth``), so a process running several services has a bus for each.
* ``Relay`` tails a service's notification log and publishes every event with
  ``Nats-Msg-Id: <service>:<notification id>``; its position is saved in the service's store
  only after JetStream acknowledged the batch, so a crash republishes (and JetStream drops the
  duplicates) rather than losing anything.
* ``Consumer`` fetches from a durable pull consumer, hands each message to a handler that saves
  its effect with a tracking record, acks after the commit, naks with back-off on failure, and
  parks the message (with the error) when the last delivery fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats
import structlog
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from shared.contracts import EventMessage
from shared.logs import safe_error
from shared.natsauth import MONITOR, connect_options, user_for
from shared.parked import ParkedStore
from shared.settings import Settings

log = structlog.get_logger()


class Bus:
    """One NATS connection with JetStream, as ``service``'s user (None: an HTTP-only process, which only
    connects to report health); reconnects on its own."""

    def __init__(self, settings: Settings, service: str | None = None) -> None:
        self.settings = settings
        self.service = service
        self.user = user_for(settings, service)
        self.nc: Any = None
        self.js: Any = None

    @property
    def connected(self) -> bool:
        return bool(self.nc and self.nc.is_connected)

    async def connect(self, stop: asyncio.Event) -> bool:
        """Connect (retrying until ``stop``) and make sure the stream exists."""
        delay = 0.2
        while not stop.is_set():
            try:
                self.nc = await nats.connect(
                    self.settings.nats_url,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    drain_timeout=2,
                    allow_reconnect=True,
                    error_cb=_quiet,
                    disconnected_cb=_disconnected,
                    reconnected_cb=_reconnected,
                    **connect_options(self.settings, self.service),
                )
                self.js = self.nc.jetstream(timeout=5)
                if self.user != MONITOR:
                    await self.ensure_stream()
                return True
            except Exception as error:  # noqa: BLE001 - keep trying until NATS answers
                log.warning("nats.unreachable", user=self.user, error=safe_error(error), retry_in=delay)
                if self.nc:
                    with contextlib.suppress(Exception):
                        await self.nc.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 5.0)
        return False

    async def ensure_stream(self) -> None:
        """Create the stream, or update it to the configured shape; safe to run at every start."""
        config = StreamConfig(
            name=self.settings.stream_name,
            subjects=["ombud.>"],
            storage=StorageType.FILE,
            duplicate_window=self.settings.duplicate_window_seconds,
            num_replicas=self.settings.stream_replicas,
        )
        try:
            await self.js.stream_info(self.settings.stream_name)
            await self.js.update_stream(config)
        except NotFoundError:
            await self.js.add_stream(config)

    async def close(self) -> None:
        if self.nc and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()


async def _quiet(error: Exception) -> None:
    # A refused subject means a permission table out of step with the code, or a service doing what it should not.
    if "permissions violation" in str(error).lower() or "authorization" in str(error).lower():
        log.error("nats.refused", error=safe_error(error))
    else:
        log.debug("nats.error", error=safe_error(error))


async def _disconnected() -> None:
    log.warning("nats.disconnected")


async def _reconnected() -> None:
    log.info("nats.reconnected")


class Relay:
    """Publishes a service's stored events to JetStream, in order, from a durable position."""

    def __init__(self, app: Any, bus: Bus) -> None:
        self.app = app
        self.bus = bus
        self.table = app.side.table("relay_position")
        app.side.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
        self.wake = asyncio.Event()

    @property
    def position(self) -> int:
        rows = self.app.side.execute(f"SELECT position FROM {self.table} WHERE name = ?", ("nats",))
        return int(rows[0]["position"]) if rows else 0

    def _save_position(self, position: int) -> None:
        self.app.side.execute(
            f"INSERT INTO {self.table} (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            ("nats", position),
        )

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.app.on_saved(lambda: loop.call_soon_threadsafe(self.wake.set))
        position = await asyncio.to_thread(lambda: self.position)
        delay = 0.2
        while not stop.is_set():
            try:
                position, sent = await self.pump(position)
                delay = 0.2
            except Exception as error:  # noqa: BLE001 - NATS down: events wait in the store
                log.warning("relay.publish_failed", service=self.app.name, error=safe_error(error), retry_in=delay)
                await sleep_unless(stop, delay)
                delay = min(delay * 2, 5.0)
                continue
            if not sent:
                self.wake.clear()
                await sleep_unless(stop, self.bus.settings.relay_poll_seconds, self.wake)

    async def pump(self, position: int) -> tuple[int, int]:
        """Publish the next batch after ``position``; returns the new position and how many were read."""
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications,
            start=position,
            limit=self.bus.settings.relay_batch,
            inclusive_of_start=False,
        )
        if not notifications:
            return position, 0
        messages = await asyncio.to_thread(self.app.messages, notifications)
        futures = []
        for _, message in messages:
            if message is None:
                continue  # internal event without a public contract
            futures.append(
                await self.bus.js.publish_async(
                    message.subject,
                    message.model_dump_json().encode(),
                    headers={"Nats-Msg-Id": message.msg_id},
                )
            )
        if futures:
            try:
                await asyncio.wait_for(asyncio.gather(*futures), timeout=5.0)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        new_position = notifications[-1].id
        await asyncio.to_thread(self._save_position, new_position)
        return new_position, len(notifications)


@dataclass
class Subscription:
    """A durable pull consumer: which subjects, and the handler that applies a message once."""

    durable: str
    subjects: list[str]
    handle: Callable[[EventMessage], Any]
    service: str | None = None
    # Optional: applies a whole fetched batch in one transaction; on any error the consumer falls
    # back to ``handle`` one message at a time, so one bad message cannot hold up the others.
    handle_batch: Callable[[list[EventMessage]], Any] | None = None


class Consumer:
    """Runs one durable pull consumer until stopped."""

    def __init__(self, bus: Bus, subscription: Subscription, parked: ParkedStore) -> None:
        self.bus = bus
        self.subscription = subscription
        self.parked = parked
        self.settings = bus.settings

    def config(self) -> ConsumerConfig:
        subjects = self.subscription.subjects
        return ConsumerConfig(
            durable_name=self.subscription.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
            max_deliver=self.settings.max_deliver,
            # Back-off is ours: a failed message is nak'd with the next delay of the settings;
            # ack_wait only governs redelivery after a worker died mid-batch.
            ack_wait=self.settings.ack_wait_seconds,
            max_ack_pending=self.settings.fetch_batch * 5,
        )

    async def run(self, stop: asyncio.Event) -> None:
        durable = self.subscription.durable
        sub = None
        try:
            while not stop.is_set():
                try:
                    if sub is None:
                        await self.bus.js.add_consumer(self.settings.stream_name, self.config())
                        sub = await self.bus.js.pull_subscribe_bind(durable, stream=self.settings.stream_name)
                    try:
                        batch = await sub.fetch(self.settings.fetch_batch, timeout=self.settings.fetch_wait_seconds)
                    except (TimeoutError, NatsTimeoutError):
                        continue
                    await self.process(batch)
                except Exception as error:  # noqa: BLE001 - NATS down or consumer gone: retry
                    log.warning("consumer.fetch_failed", consumer=durable, error=safe_error(error))
                    sub = None
                    await sleep_unless(stop, 1.0)
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def process(self, batch: list[Any]) -> None:
        """Apply a fetched batch in one worker-thread hop, then ack each success and nak or park each failure."""
        failures = await asyncio.to_thread(self._apply_all, batch)
        for msg in batch:
            deliveries = msg.metadata.num_delivered
            failure = failures.get(id(msg))
            if failure is None:
                await msg.ack()
            elif failure[0] or deliveries >= self.settings.max_deliver:
                await self._park(msg, failure[1], deliveries)
            else:
                delay = self.settings.backoff_seconds[min(deliveries, len(self.settings.backoff_seconds)) - 1]
                log.warning("consumer.retry", consumer=self.subscription.durable, error=failure[1], delay=delay)
                await msg.nak(delay=delay)

    def _apply_all(self, batch: list[Any]) -> dict[int, tuple[bool, str]]:
        """Run the handler on each message in order; failures by message: (poison at once?, reason)."""
        failures: dict[int, tuple[bool, str]] = {}
        parsed: list[tuple[Any, EventMessage]] = []
        for msg in batch:
            try:
                parsed.append((msg, EventMessage.model_validate_json(msg.data)))
            except ValidationError as error:
                failures[id(msg)] = (True, f"malformed message: {safe_error(error)}")
        if self.subscription.handle_batch and len(parsed) > 1:
            try:
                self.subscription.handle_batch([message for _, message in parsed])
                return failures
            except Exception as error:  # noqa: BLE001 - find the culprit message by message
                log.warning("consumer.batch_failed", consumer=self.subscription.durable, error=safe_error(error))
        for msg, message in parsed:
            structlog.contextvars.bind_contextvars(
                service=self.subscription.service,
                case_id=str(message.envelope.case_id),
                correlation_id=str(message.envelope.correlation_id),
            )
            try:
                self.subscription.handle(message)
            except Exception as error:  # noqa: BLE001 - any failure is retried, then parked
                failures[id(msg)] = (False, safe_error(error))
            finally:
                structlog.contextvars.unbind_contextvars("service", "case_id", "correlation_id")
        return failures

    async def _park(self, msg: Any, reason: str, deliveries: int) -> None:
        await asyncio.to_thread(
            self.parked.park,
            consumer=self.subscription.durable,
            subject=msg.subject,
            data=msg.data.decode("utf-8", errors="replace"),
            error=reason,
            deliveries=deliveries,
        )
        await msg.term()
        log.error("consumer.parked", consumer=self.subscription.durable, subject=msg.subject, error=reason[:200])


async def sleep_unless(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Sleep up to ``seconds``, less if ``stop`` (or ``wake``) is set meanwhile."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in waiters:
        with contextlib.suppress(asyncio.CancelledError):
            await task
