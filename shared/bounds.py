"""Numbers, instants and days from outside: the annotated types that keep them in a range the code can use.

Without them, ``offset=2**63`` overflows the database driver and an instant in year 1 or 9999 overflows
as soon as a time zone or a window is applied to it; both ended as HTTP 500. Here they are refused with
422 naming the field, before any handler runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

# A complaint system has nothing to say about instants outside this span (and none of them overflow).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
OFFSET_MAX = 1_000_000  # deeper pages are a search or an export, not a list
LIMIT_MAX = 500


def sane_instant(value: datetime) -> datetime:
    """``value`` if it lies between 2000-01-01 and 2100-01-01 (UTC); a naive one is judged as UTC."""
    # The year check comes first: comparing year 1 at +05:00 with another instant overflows.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST.year <= value.year < LATEST.year or not EARLIEST <= aware < LATEST:
        raise PydanticCustomError(
            "instant_range", "must lie between {earliest} and {latest}",
            {"earliest": EARLIEST.date().isoformat(), "latest": LATEST.date().isoformat()},
        )  # fmt: skip
    return value


def sane_day(value: date) -> date:
    """``value`` if it lies between 2000-01-01 and 2100-01-01 (adding a return window to it cannot overflow)."""
    if not EARLIEST.date() <= value < LATEST.date():
        raise PydanticCustomError(
            "date_range", "must lie between {earliest} and {latest}",
            {"earliest": EARLIEST.date().isoformat(), "latest": LATEST.date().isoformat()},
        )  # fmt: skip
    return value


# An instant with its time zone, in range (request bodies and query parameters alike).
Instant = Annotated[AwareDatetime, AfterValidator(sane_instant)]
# In range, time zone checked by the model itself (its message says which example to follow).
AnyInstant = Annotated[datetime, AfterValidator(sane_instant)]
Day = Annotated[date, AfterValidator(sane_day)]

Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="rows to skip")]
# A database row id in a path: SQLite and PostgreSQL integers are 64-bit signed, a larger one overflowed the driver.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a row id")]


def limit_query(maximum: int = LIMIT_MAX) -> object:
    """A ``limit`` query parameter of 1 to ``maximum`` rows (never more than ``LIMIT_MAX``)."""
    return Annotated[int, Query(ge=1, le=min(maximum, LIMIT_MAX), description="rows per page")]
