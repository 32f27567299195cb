"""Fixtures shared by the integration tests: one service's settings on each store, and a clock to move."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from shared.clock import ManualClock
from shared.logs import configure_logging
from shared.settings import Settings
from tests.unit.helpers import NOW


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def clock() -> ManualClock:
    # Messages built by tests.unit.helpers.message are recorded at NOW (the receipt clocks start from).
    return ManualClock(start=NOW)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line of the test (debug level, the chattiest there is); the logging set-up is restored after."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)
