"""The composition root: builds each service from settings and runs them, alone or together."""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from services.feedback import api as feedback_api
from services.feedback.application import Feedback
from services.feedback.projections import CaseViews
from services.intake import api as intake_api
from services.intake.application import Intake
from services.resolution import api as resolution_api
from services.resolution.application import ResolutionService
from services.routing import api as routing_api
from services.routing.application import Routing
from shared.bus import Subscription
from shared.clock import Clock, SystemClock
from shared.logs import configure_logging
from shared.masterdata import MasterData
from shared.runtime import Service, create_http_app
from shared.settings import Settings

SERVICES = ("intake", "routing", "resolution", "feedback")


def build_service(name: str, settings: Settings, clock: Clock) -> Service:
    """One service with its store, router and subscriptions."""
    if name == "intake":
        return Service(Intake(settings, clock, MasterData.load(settings.master_data_dir)), intake_api.router)
    if name == "routing":
        return Service(Routing(settings, clock), routing_api.router)
    if name == "resolution":
        return Service(ResolutionService(settings, clock), resolution_api.router)
    if name == "feedback":
        views = CaseViews(settings)
        return Service(
            Feedback(settings, clock),
            feedback_api.router,
            subscriptions=[Subscription(durable="feedback-views", subjects=["ombud.>"], handle=views.handle)],
            closers=[views.close],
            views=views,
        )
    raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")


def build_http(
    names: Sequence[str], settings: Settings, clock: Clock | None = None, *, workers: bool = True
) -> FastAPI:
    """The HTTP app serving the named services (their relays and consumers run in its lifespan)."""
    clock = clock or SystemClock()
    return create_http_app([build_service(n, settings, clock) for n in names], settings, workers=workers)


def serve(names: Sequence[str], settings: Settings) -> None:
    """Run the named services in this process until Ctrl-C / SIGTERM."""
    configure_logging(settings.log_level, service=",".join(names))
    if not settings.nats_url:
        raise SystemExit("OMBUD_NATS_URL is required to run a service alone (ombud up starts its own NATS)")
    app = build_http(names, settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
