"""Running services: their relays and consumers as asyncio tasks, their routers on one HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from shared.audit.api import router as audit_router
from shared.audit.auditor import Auditor
from shared.bus import Bus, Consumer, Relay, Subscription, sleep_unless
from shared.eventstore import ServiceApplication
from shared.http import BodyLimit, CorrelationId, install_error_handlers
from shared.logs import safe_error
from shared.parked import ParkedStore
from shared.settings import Settings

log = structlog.get_logger()


@dataclass
class Service:
    """One service as deployed: its Application, HTTP router and durable subscriptions."""

    app: ServiceApplication
    router: APIRouter
    subscriptions: list[Subscription] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    views: Any = None
    # Read models by name (feedback's projections), for the API.
    read_models: dict[str, Any] = field(default_factory=dict)
    # Background work beside the relay and consumers (e.g. routing's timer worker): each runs until ``stop``.
    loops: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.parked = ParkedStore(self.app.side, self.app.clock)
        if self.app.reactions:
            self.subscriptions.insert(
                0,
                Subscription(
                    durable=f"{self.app.name}-policy",
                    subjects=self.app.consumes,
                    handle=self.app.handle,
                    handle_batch=self.app.handle_batch,
                ),
            )
        for subscription in self.subscriptions:
            subscription.service = subscription.service or self.app.name

    @property
    def name(self) -> str:
        return self.app.name

    @property
    def handlers(self) -> dict[str, Callable[..., Any]]:
        return {s.durable: s.handle for s in self.subscriptions}

    def store_reachable(self) -> bool:
        try:
            self.app.side.execute("SELECT 1 AS ok")
        except Exception:  # noqa: BLE001 - health reports, it does not raise
            return False
        return True

    def shutdown(self) -> None:
        for closer in self.closers:
            closer()
        self.app.close()


async def work(services: list[Service], bus: Bus) -> None:
    """Relay and consume for ``services`` until SIGINT or SIGTERM, then close the bus and stores."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_workers(services, bus, stop)
    finally:
        await bus.close()
        for service in services:
            service.shutdown()


async def run_workers(services: list[Service], bus: Bus, stop: asyncio.Event) -> None:
    """Connect to NATS (waiting as long as it takes), then relay and consume until ``stop``."""
    relays = [Relay(service.app, bus) for service in services]
    tasks: list[asyncio.Task[None]] = []
    try:
        if await bus.connect(stop):
            log.info("workers.started", services=[s.name for s in services])
            tasks += [asyncio.create_task(relay.run(stop)) for relay in relays]
            for service in services:
                for subscription in service.subscriptions:
                    tasks.append(asyncio.create_task(Consumer(bus, subscription, service.parked).run(stop)))
                tasks += [asyncio.create_task(loop(stop)) for loop in service.loops]
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def checkpoint_periodically(auditor: Auditor, interval: float, stop: asyncio.Event) -> None:
    """Sign a checkpoint of every chain every ``interval`` seconds until ``stop``."""
    while not stop.is_set():
        await sleep_unless(stop, interval)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(auditor.checkpoint)
        except Exception as error:  # noqa: BLE001 - the next interval tries again
            log.warning("checkpoint.failed", error=safe_error(error))


def every(interval: float, step: Callable[[], Any], name: str) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A loop running ``step`` in a worker thread every ``interval`` seconds until ``stop``; a failure is logged
    and the next round tries again."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(step)
            except Exception as error:  # noqa: BLE001 - the next round tries again
                log.warning(f"{name}.failed", error=safe_error(error))
            await sleep_unless(stop, interval)

    return loop


def create_http_app(
    services: list[Service],
    settings: Settings,
    *,
    working: Collection[str] | None = None,
    checks: dict[str, Callable[[], bool]] | None = None,
) -> FastAPI:
    """One FastAPI app serving every given service's API, /health and /docs.

    ``working`` names the services whose relays and consumers run in this process (default: all);
    ``checks`` are further named health checks, e.g. that a worker process is alive.
    """
    bus = Bus(settings)
    workers = [s for s in services if working is None or s.name in working]
    checks = checks or {}
    auditor = Auditor({s.name: s.app for s in services}, settings, services[0].app.clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(checkpoint_periodically(auditor, settings.checkpoint_interval_seconds, stop)),
            # With no workers here it only connects: /health reports NATS from every process.
            asyncio.create_task(run_workers(workers, bus, stop)),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await bus.close()
            for service in services:
                service.shutdown()

    names = ", ".join(s.name for s in services)
    http = FastAPI(title="Ombud", description=f"Complaint handling: {names}", version="0.1.0", lifespan=lifespan)
    http.state.services = {s.name: s for s in services}
    http.state.bus = bus
    http.state.auditor = auditor
    http.state.settings = settings
    install_error_handlers(http)
    http.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={r"/api/cases/[^/]+/evidence": settings.evidence_max_bytes + BodyLimit.MULTIPART_OVERHEAD},
    )
    http.add_middleware(CorrelationId)

    @http.get("/health", tags=["operations"])
    def health() -> JSONResponse:
        """200 when every store and NATS answer; 503 naming what is down."""
        down = [f"store:{s.name}" for s in services if not s.store_reachable()]
        if not bus.connected:
            down.append("nats")
        down += [name for name, check in checks.items() if not check()]
        status = 503 if down else 200
        return JSONResponse(status_code=status, content={"status": "down" if down else "ok", "down": down})

    for service in services:
        http.include_router(service.router)
    http.include_router(parked_router())
    http.include_router(audit_router)
    return http


def parked_router() -> APIRouter:
    """Parked (dead-letter) messages of the services in this process: list and replay."""
    router = APIRouter(prefix="/api/parked", tags=["operations"])

    @router.get("")
    def list_parked(request: Request) -> dict[str, Any]:
        return {
            "parked": [
                {"service": name, **row}
                for name, service in request.app.state.services.items()
                for row in service.parked.list()
            ]
        }

    @router.post("/{service}/{parked_id}/replay")
    def replay_parked(service: str, parked_id: int, request: Request) -> JSONResponse:
        found = request.app.state.services.get(service)
        if found is None:
            return JSONResponse(status_code=404, content={"detail": f"no service {service!r} here"})
        if not found.parked.replay(parked_id, found.handlers):
            return JSONResponse(status_code=404, content={"detail": f"no parked message {parked_id} to replay"})
        return JSONResponse(status_code=200, content={"replayed": parked_id})

    return router
