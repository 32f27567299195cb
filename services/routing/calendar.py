"""The chain's business calendar: which days and hours count when a clock runs in working time. Pure.

Working days come from ``chinese_calendar`` (public holidays off, 调休 makeup days on), minus the chain's own
closures from ``config/calendar.yaml``. Arithmetic is done in the chain's zone; every result is in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
from pydantic import BaseModel, Field, field_validator, model_validator

# No real closure runs this long; reaching it means the calendar has no working day at all.
_MAX_DAYS_WITHOUT_WORK = 3660


class ClockMode(StrEnum):
    """How a clock counts time: every hour (``wall``) or only the chain's working hours (``working``)."""

    WALL = "wall"
    WORKING = "working"


class CalendarRangeError(ValueError):
    """A date the holiday library has no data for, on a calendar configured to refuse guessing."""


class WorkingHours(BaseModel):
    """One working window per working day, in the chain's local time."""

    start: time
    end: time

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working_hours.start must be before working_hours.end (no overnight windows)")
        return self


class Closure(BaseModel):
    """A day the whole chain is closed (e.g. stock-taking); the reason is for people reading the config."""

    date: date
    reason: str = Field(min_length=1)


class CalendarConfig(BaseModel):
    """``config/calendar.yaml``.

    ``beyond_library`` decides what happens on a date the installed ``chinesecalendar`` has no data for (it covers
    only the years published so far): ``weekdays`` counts Monday–Friday as working days, ``error`` raises
    ``CalendarRangeError``. ``extra_working_days`` and ``closures`` let operations enter a newly announced
    schedule (调休 days, holidays) before the library is upgraded.
    """

    zone: str = "Asia/Shanghai"
    working_hours: WorkingHours
    closures: list[Closure] = Field(default_factory=list)
    extra_working_days: list[date] = Field(default_factory=list)
    beyond_library: Literal["weekdays", "error"] = "weekdays"

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return at


class BusinessCalendar:
    """Working days and hours of one chain, with addition and difference of working time."""

    def __init__(
        self,
        zone: ZoneInfo | str,
        working_hours: WorkingHours,
        closures: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        beyond_library: Literal["weekdays", "error"] = "weekdays",
    ) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.working_hours = working_hours
        self.closures = frozenset(closures)
        self.extra_working_days = frozenset(extra_working_days)
        self.beyond_library = beyond_library

    @classmethod
    def from_config(cls, config: CalendarConfig) -> BusinessCalendar:
        """Build the calendar ``config/calendar.yaml`` describes."""
        return cls(
            zone=config.zone,
            working_hours=config.working_hours,
            closures=(c.date for c in config.closures),
            extra_working_days=config.extra_working_days,
            beyond_library=config.beyond_library,
        )

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` has working hours: closures first, then entered 调休 days, then the library."""
        if day in self.closures:
            return False
        if day in self.extra_working_days:
            return True
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError as exc:
            if self.beyond_library == "error":
                raise CalendarRangeError(
                    f"chinesecalendar has no holiday data for {day.isoformat()}; upgrade it, or enter the days in "
                    "config/calendar.yaml, or set beyond_library: weekdays"
                ) from exc
            return day.weekday() < 5

    def add(self, start: datetime, duration: timedelta, mode: ClockMode) -> datetime:
        """``start`` plus ``duration`` counted in ``mode``, in UTC."""
        if mode is ClockMode.WALL:
            if duration < timedelta(0):
                raise ValueError("duration must not be negative")
            return _aware(start, "start").astimezone(UTC) + duration
        return self.add_working_time(start, duration)

    def between(self, a: datetime, b: datetime, mode: ClockMode) -> timedelta:
        """Time from ``a`` to ``b`` counted in ``mode`` (negative when ``b`` is before ``a``)."""
        if mode is ClockMode.WALL:
            return _aware(b, "b") - _aware(a, "a")
        return self.working_time_between(a, b)

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which ``duration`` of working time has passed since ``start``, in UTC.

        Nights, non-working days and closures are skipped; a duration that fills a day exactly ends at that day's
        closing time, not at the next opening.
        """
        start = _aware(start, "start").astimezone(UTC)
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        if duration == timedelta(0):
            return start
        remaining = duration
        day = start.astimezone(self.zone).date()
        days_off = 0
        while days_off <= _MAX_DAYS_WITHOUT_WORK:
            window = self._window(day)
            days_off = days_off + 1 if window is None else 0
            if window is not None:
                begin = max(window[0], start)
                if begin < window[1]:
                    if remaining <= window[1] - begin:
                        return begin + remaining
                    remaining -= window[1] - begin
            day += timedelta(days=1)
        raise ValueError("the calendar has no working days ahead; check closures in config/calendar.yaml")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        a = _aware(a, "a").astimezone(UTC)
        b = _aware(b, "b").astimezone(UTC)
        if b < a:
            return -self.working_time_between(b, a)
        total = timedelta(0)
        day = a.astimezone(self.zone).date()
        last = b.astimezone(self.zone).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                overlap = min(window[1], b) - max(window[0], a)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working window of ``day`` in UTC, or None on a day off."""
        if not self.is_working_day(day):
            return None
        opens = datetime.combine(day, self.working_hours.start, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.working_hours.end, tzinfo=self.zone).astimezone(UTC)
        return opens, closes
