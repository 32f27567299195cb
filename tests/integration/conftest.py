"""Fixtures shared by the integration tests: one service's settings on each store, and a clock to move."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.clock import ManualClock
from shared.settings import Settings
from tests.unit.helpers import NOW


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def clock() -> ManualClock:
    # Messages built by tests.unit.helpers.message are recorded at NOW (the receipt clocks start from).
    return ManualClock(start=NOW)
