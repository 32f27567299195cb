"""Running services: their relays and consumers as asyncio tasks, their routers on one HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.access.api import router as access_router
from shared.access.guard import Access, CaseLocator, authorize
from shared.access.store import IdentityStore
from shared.audit.api import router as audit_router
from shared.audit.auditor import Auditor
from shared.bounds import RowId
from shared.bus import Bus, Consumer, Relay, Subscription, sleep_unless
from shared.eventstore import ServiceApplication
from shared.http import ERROR_RESPONSES, BodyLimit, CorrelationId, install_error_handlers
from shared.logs import safe_error
from shared.natsauth import MONITOR
from shared.parked import ParkedStore
from shared.settings import Settings
from shared.webguard import install_web_guard

log = structlog.get_logger()


class Health(BaseModel):
    status: Literal["ok", "down"]
    down: list[str]


class ParkedMessage(BaseModel):
    """A message a consumer gave up on (dead letter): which service and consumer, why, when; not its data."""

    service: str
    id: int
    consumer: str
    subject: str
    error: str
    deliveries: int
    parked_at: str
    replayed_at: str | None


class ParkedMessages(BaseModel):
    parked: list[ParkedMessage]


class Replayed(BaseModel):
    replayed: int


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
    # Where one of its cases (or things about a case, like a return request) belongs, for the access check.
    locate: CaseLocator | None = None

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


def buses_for(services: list[Service], settings: Settings) -> dict[str, Bus]:
    """One bus per service, each connected as that service's NATS user (shared/natsauth.py); a process that runs
    no service's workers gets one bus, as ``monitor``, to report whether NATS answers."""
    return {s.name: Bus(settings, s.name) for s in services} or {MONITOR: Bus(settings)}


async def work(services: list[Service], settings: Settings) -> None:
    """Relay and consume for ``services`` until SIGINT or SIGTERM, then close the buses and stores."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    buses = buses_for(services, settings)
    try:
        await run_workers(services, buses, stop)
    finally:
        await asyncio.gather(*(bus.close() for bus in buses.values()))
        for service in services:
            service.shutdown()


async def run_workers(services: list[Service], buses: dict[str, Bus], stop: asyncio.Event) -> None:
    """Connect every bus to NATS (waiting as long as it takes), then relay and consume until ``stop``."""
    tasks: list[asyncio.Task[None]] = []
    try:
        if all(await asyncio.gather(*(bus.connect(stop) for bus in buses.values()))):
            log.info("workers.started", services=[s.name for s in services])
            for service in services:
                bus = buses[service.name]
                tasks.append(asyncio.create_task(Relay(service.app, bus).run(stop)))
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
    workers = [s for s in services if working is None or s.name in working]
    buses = buses_for(workers, settings)
    checks = checks or {}
    auditor = Auditor({s.name: s.app for s in services}, settings, services[0].app.clock)
    identity = IdentityStore(settings, services[0].app.clock)
    access = Access(settings, identity, [s.locate for s in services if s.locate is not None])

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(checkpoint_periodically(auditor, settings.checkpoint_interval_seconds, stop)),
            # With no workers here it only connects: /health reports NATS from every process.
            asyncio.create_task(run_workers(workers, buses, stop)),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await asyncio.gather(*(bus.close() for bus in buses.values()))
            for service in services:
                service.shutdown()
            identity.close()

    names = ", ".join(s.name for s in services)
    http = FastAPI(title="Ombud", description=f"Complaint handling: {names}", version="0.1.0", lifespan=lifespan,
        # One permission check on every route (shared.access.guard; config/permissions.yaml).
        dependencies=[Depends(authorize)],
        responses=ERROR_RESPONSES,
    )
    http.state.services = {s.name: s for s in services}
    http.state.buses = buses
    http.state.auditor = auditor
    http.state.settings = settings
    http.state.access = access
    install_error_handlers(http)
    http.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={r"/api/cases/[^/]+/evidence": settings.evidence_max_bytes + BodyLimit.MULTIPART_OVERHEAD},
    )
    http.add_middleware(CorrelationId)
    install_web_guard(http, settings)  # outermost: its headers are on every response, a 413 included

    @http.get("/health", tags=["operations"], response_model=Health, responses={503: {"model": Health}})
    def health() -> JSONResponse:
        """200 when every store and NATS answer; 503 naming what is down."""
        down = [f"store:{s.name}" for s in services if not s.store_reachable()]
        if not all(bus.connected for bus in buses.values()):
            down.append("nats")
        down += [name for name, check in checks.items() if not check()]
        status = 503 if down else 200
        return JSONResponse(status_code=status, content={"status": "down" if down else "ok", "down": down})

    for service in services:
        http.include_router(service.router)
    http.include_router(parked_router())
    http.include_router(audit_router)
    http.include_router(access_router)
    return http


def parked_router() -> APIRouter:
    """Parked (dead-letter) messages of the services in this process: list and replay."""
    router = APIRouter(prefix="/api/parked", tags=["operations"])

    @router.get("", response_model=ParkedMessages)
    def list_parked(request: Request) -> dict[str, Any]:
        return {
            "parked": [
                {"service": name, **row}
                for name, service in request.app.state.services.items()
                for row in service.parked.list()
            ]
        }

    @router.post("/{service}/{parked_id}/replay", response_model=Replayed)
    def replay_parked(service: str, parked_id: RowId, request: Request) -> JSONResponse:
        found = request.app.state.services.get(service)
        if found is None:
            return JSONResponse(status_code=404, content={"detail": f"no service {service!r} here"})
        if not found.parked.replay(parked_id, found.handlers):
            return JSONResponse(status_code=404, content={"detail": f"no parked message {parked_id} to replay"})
        return JSONResponse(status_code=200, content={"replayed": parked_id})

    return router
