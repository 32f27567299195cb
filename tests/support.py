"""Helpers shared by integration and end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from services.intake.domain import ComplaintRecord
from shared.eventstore import ServiceApplication


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
