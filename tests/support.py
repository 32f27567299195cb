"""Helpers shared by integration and end-to-end tests."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid5

from services.intake.domain import ComplaintRecord
from shared.clock import ManualClock
from shared.contracts import CONTRACTS, EventMessage
from shared.eventstore import CaseAggregate, ServiceApplication
from shared.settings import Settings

_TEST_KEY = Path(tempfile.gettempdir()) / f"ombud-test-auth-{os.getpid()}.pem"


def test_signing_key() -> Path:
    """This test session's token-signing key file (created once)."""
    from shared.access.tokens import new_signing_key

    if not _TEST_KEY.exists():
        _TEST_KEY.write_bytes(new_signing_key())
    return _TEST_KEY


# No identity at all, overriding a test client's default signed-in user.
ANONYMOUS = {"Authorization": ""}


def staff_headers(
    user: str,
    role: str,
    store: str | None = None,
    region: str | None = None,
    *,
    merchant: str | None = None,
    stores: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
) -> dict[str, str]:
    """``Authorization`` for a staff member, signed as Ombud's identity provider signs (the session's key)."""
    from shared.access.principal import Principal
    from shared.access.tokens import TokenIssuer

    principal = Principal(
        id=user,
        role=role,
        stores=stores or ((store,) if store else ()),
        regions=regions or ((region,) if region else ()),
        merchant=merchant,
    )
    token, _ = TokenIssuer(Settings(auth_key_file=test_signing_key())).issue(principal, ttl=6 * 3600)
    return {"Authorization": f"Bearer {token}"}


def complaint_body(i: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid complaint as a client would POST it."""
    body: dict[str, Any] = {
        "channel": "phone",
        "store_id": "SH-001",
        "customer": {"name": f"顾客{i}", "phone": f"138{i:08d}"},
        "description": "手镯戴了一周就断了，质量太差，要求退货",
        "amount_paid": "3980.00",
    }
    body.update(overrides)
    return body


def record(**overrides: Any) -> ComplaintRecord:
    """A valid complaint record as intake's commands take it (overrides replace top-level fields)."""
    return ComplaintRecord.model_validate(
        {
            "channel": "store",
            "store_id": "SH-001",
            "customer": {"name": "王芳", "phone": "13800138000"},
            "description": "手镯戴了一周就断了，质量太差",
            **overrides,
        }
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
        value = predicate()
    return value


def event_types(app: ServiceApplication) -> list[str]:
    """The type names of every event in a service's notification log, in order."""
    types, start = [], 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=1000)
        if not batch:
            return types
        types += [n.topic.rsplit(".", 1)[-1] for n in batch]
        start = batch[-1].id + 1


def originators(app: ServiceApplication, type_name: str) -> list[Any]:
    """The originator ids of every event of one type in a service's log."""
    ids, start = [], 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=1000)
        if not batch:
            return ids
        ids += [n.originator_id for n in batch if n.topic.endswith("." + type_name)]
        start = batch[-1].id + 1


# --- messages recorded in the stores -------------------------------------------------------------------------------


class Recorded:
    """Stand-ins for any service's events: one class per contract (made below, so their topics resolve like the
    services' own), each event the first of an aggregate of its own."""


for _name, _contract in CONTRACTS.items():
    _event = type(
        _name,
        (CaseAggregate.Event,),
        {
            "__annotations__": dict.fromkeys(_contract.model_fields, Any),
            "__module__": __name__,
            "__qualname__": f"Recorded.{_name}",
        },
    )
    setattr(Recorded, _name, _event)


def stored(settings: Settings, messages: list[EventMessage]) -> list[EventMessage]:
    """The messages recorded in their services' stores (each as a ``Recorded`` event, hash-chained and sealed as the
    services store theirs), as the relays then publish them: with the stores' notification ids."""
    apps: dict[str, ServiceApplication] = {}
    try:
        heads = {}
        for message in messages:
            if message.service not in apps:
                apps[message.service] = type("Store", (ServiceApplication,), {"name": message.service})(
                    settings, ManualClock()
                )
                heads[message.service] = apps[message.service].recorder.max_notification_id() or 0
            event = getattr(Recorded, message.type)(
                originator_id=uuid5(message.envelope.event_id, "recorded"),
                originator_version=1,
                timestamp=message.envelope.recorded_at,
                envelope=message.envelope.model_dump(mode="json"),
                **message.contract().model_dump(mode="json"),  # every field, defaults included
            )
            apps[message.service].save(event)
        published: list[EventMessage] = []
        for service, app in apps.items():
            notifications = app.recorder.select_notifications(start=heads[service], limit=len(messages) + 1,
                                                               inclusive_of_start=False)  # fmt: skip
            published += [m for _, m in app.messages(notifications) if m is not None]
        order = {message.envelope.event_id: i for i, message in enumerate(messages)}
        return sorted(published, key=lambda m: order[m.envelope.event_id])
    finally:
        for app in apps.values():
            app.close()


def guarded_app(settings: Settings) -> Any:
    """A bare FastAPI app with the served app's permission check, for routers tested on their own."""
    from fastapi import Depends, FastAPI

    from shared.access.guard import Access, authorize
    from shared.access.store import IdentityStore
    from shared.clock import SystemClock
    from shared.http import install_error_handlers

    app = FastAPI(dependencies=[Depends(authorize)])
    app.state.access = Access(settings, IdentityStore(settings, SystemClock()))
    install_error_handlers(app)
    return app
