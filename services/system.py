"""The composition root: builds each service from settings and runs them, alone or together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence

import uvicorn
from fastapi import FastAPI

from services.feedback import api as feedback_api
from services.feedback.application import Feedback
from services.feedback.projections import CaseViews, ReadModels, Statistics
from services.feedback.rebuild import rebuild_outdated
from services.intake import api as intake_api
from services.intake.application import Intake
from services.intake.mailbox import Mailbox
from services.resolution import api as resolution_api
from services.resolution.application import ResolutionService
from services.routing import api as routing_api
from services.routing.application import Routing
from shared.bus import Subscription
from shared.clock import Clock, SystemClock
from shared.logs import configure_logging
from shared.masterdata import MasterData
from shared.runtime import Service, create_http_app, every, work
from shared.secrets import require_secrets
from shared.settings import Settings

SERVICES = ("intake", "routing", "resolution", "feedback")


def build_service(name: str, settings: Settings, clock: Clock) -> Service:
    """One service with its store, router and subscriptions."""
    if name == "intake":
        intake = Intake(settings, clock, MasterData.load(settings.master_data_dir))
        # Prepared customer messages are sent from the deliveries table, so ones due while down go out at start.
        deliver = every(settings.delivery_poll_seconds, intake.deliver_due, "delivery")
        service = Service(intake, intake_api.router, loops=[deliver], locate=intake.case_scope)
        if settings.smtp_port > 0:
            # Inbound e-mail files complaints into this intake; it stops (and finishes filing) before the store closes.
            service.closers.append(Mailbox(intake, settings).start().stop)
        return service
    if name == "routing":
        routing = Routing(settings, clock)
        # Due clock timers fire from the store's timers table, so ones that fell due while down fire at start.
        return Service(
            routing,
            routing_api.router,
            loops=[every(settings.timer_poll_seconds, routing.fire_due_timers, "timers")],
            locate=routing.case_scope,
        )
    if name == "resolution":
        resolution = ResolutionService(settings, clock)
        return Service(resolution, resolution_api.router, locate=resolution.case_scope)
    if name == "feedback":
        models = ReadModels(settings)
        feedback = Feedback(settings, clock)
        statistics = models[Statistics.name]
        return Service(
            feedback,
            feedback_api.router,
            subscriptions=[
                Subscription(
                    durable="feedback-views",
                    subjects=["ombud.>"],
                    handle=models.handle,
                    handle_batch=models.handle_batch,
                )
            ],
            closers=[models.close],
            views=models[CaseViews.name],
            locate=models[CaseViews.name].case_scope,
            read_models=models.by_name,
            loops=[
                # Due survey attempts (and closings without an answer) go out from the store's followups table.
                every(settings.timer_poll_seconds, feedback.send_due_surveys, "followups"),
                # High-frequency warnings become events, once per value and day.
                every(
                    settings.warning_check_seconds,
                    lambda: feedback.record_warnings(statistics.warnings(clock.now())),
                    "warnings",
                ),
            ],
        )
    raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")


def build_http(
    names: Sequence[str],
    settings: Settings,
    clock: Clock | None = None,
    *,
    working: Collection[str] | None = None,
    checks: dict[str, Callable[[], bool]] | None = None,
) -> FastAPI:
    """The HTTP app serving the named services; the relays and consumers of ``working`` (default all)
    run in its lifespan."""
    clock = clock or SystemClock()
    services = [build_service(n, settings, clock) for n in names]
    return create_http_app(services, settings, working=working, checks=checks)


def serve(
    names: Sequence[str],
    settings: Settings,
    *,
    working: Collection[str] | None = None,
    checks: dict[str, Callable[[], bool]] | None = None,
) -> None:
    """Serve the named services' HTTP APIs in this process until Ctrl-C / SIGTERM."""
    configure_logging(settings.log_level, service=",".join(working or names))
    if not settings.nats_url:
        raise SystemExit("OMBUD_NATS_URL is required to run a service alone (ombud up starts its own NATS)")
    require_secrets(settings)
    if "feedback" in (names if working is None else working):
        rebuild_outdated(settings)  # before its consumer feeds them
    app = build_http(names, settings, working=working, checks=checks)
    # The peer address is the TCP peer: X-Forwarded-For is read only from OMBUD_TRUSTED_PROXIES, by
    # shared/clientaddr.py (uvicorn's own proxy_headers would believe 127.0.0.1, i.e. any local process).
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False, proxy_headers=False
    )


def serve_workers(names: Sequence[str], settings: Settings) -> None:
    """Run only the named services' relays and consumers (no HTTP) until SIGINT / SIGTERM."""
    configure_logging(settings.log_level, service=",".join(names))
    require_secrets(settings)
    if "feedback" in names:
        rebuild_outdated(settings)  # before its consumer feeds them
    clock = SystemClock()
    asyncio.run(work([build_service(n, settings, clock) for n in names], settings))
