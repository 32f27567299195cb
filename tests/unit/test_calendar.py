"""BusinessCalendar: Given a calendar (09:00–18:00 in Asia/Shanghai) / When time is added or measured / Then the
instant or duration, in UTC. Holiday data is the installed chinesecalendar's; each scenario first checks that the
library says what the scenario assumes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from pydantic import ValidationError

from services.routing.calendar import (
    BusinessCalendar,
    CalendarConfig,
    CalendarRangeError,
    ClockMode,
    WorkingHours,
)
from shared.configfiles import load_config
from shared.settings import REPO_ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE_TO_SIX = WorkingHours(start=time(9), end=time(18))


def sh(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, year: int = 2026) -> datetime:
    """An instant given in Shanghai local time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def calendar() -> BusinessCalendar:
    return BusinessCalendar(SHANGHAI, NINE_TO_SIX)


class TestTheLibraryData:
    """Preconditions: the 2026 schedule the scenarios below rely on, as the installed library has it."""

    def test_national_day_2026_is_october_1_to_7_and_october_10_is_a_makeup_saturday(self) -> None:
        assert all(chinese_calendar.is_holiday(date(2026, 10, d)) for d in range(1, 8))
        assert chinese_calendar.is_workday(date(2026, 10, 8))
        assert date(2026, 10, 10).weekday() == 5 and chinese_calendar.is_workday(date(2026, 10, 10))
        assert chinese_calendar.is_holiday(date(2026, 10, 11))


class TestWorkingDays:
    def test_national_day_is_off_and_the_day_after_is_on(self, calendar: BusinessCalendar) -> None:
        assert not any(calendar.is_working_day(date(2026, 10, d)) for d in range(1, 8))
        assert calendar.is_working_day(date(2026, 10, 8))

    def test_a_makeup_saturday_is_a_working_day_but_an_ordinary_saturday_is_not(
        self, calendar: BusinessCalendar
    ) -> None:
        assert calendar.is_working_day(date(2026, 10, 10))
        assert not calendar.is_working_day(date(2026, 10, 17))

    def test_a_chain_closure_is_off_even_on_a_weekday(self) -> None:
        # Given a stock-taking day on Thursday 26 November 2026
        cal = BusinessCalendar(SHANGHAI, NINE_TO_SIX, closures=[date(2026, 11, 26)])
        # Then
        assert not cal.is_working_day(date(2026, 11, 26))
        assert cal.is_working_day(date(2026, 11, 27))

    def test_an_entered_makeup_day_is_on(self) -> None:
        cal = BusinessCalendar(SHANGHAI, NINE_TO_SIX, extra_working_days=[date(2026, 11, 28)])
        assert cal.is_working_day(date(2026, 11, 28))

    def test_beyond_the_library_the_fallback_is_monday_to_friday(self, calendar: BusinessCalendar) -> None:
        # Given a year the installed library has no data for
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(2099, 1, 5))
        # Then weekdays count, the weekend does not
        assert calendar.is_working_day(date(2099, 1, 5))  # Monday
        assert not calendar.is_working_day(date(2099, 1, 3))  # Saturday

    def test_beyond_the_library_a_strict_calendar_refuses(self) -> None:
        cal = BusinessCalendar(SHANGHAI, NINE_TO_SIX, beyond_library="error")
        with pytest.raises(CalendarRangeError, match="2099-01-05"):
            cal.is_working_day(date(2099, 1, 5))


class TestAddWorkingTime:
    def test_across_the_national_day_holiday(self, calendar: BusinessCalendar) -> None:
        # Given Wednesday 30 September 17:00, one working hour before closing
        # When two working hours are added
        due = calendar.add_working_time(sh(9, 30, 17), timedelta(hours=2))
        # Then the holiday week is skipped: Thursday 8 October 10:00, in UTC
        assert due == sh(10, 8, 10)
        assert due.tzinfo is UTC

    def test_onto_the_makeup_saturday_and_over_the_sunday(self, calendar: BusinessCalendar) -> None:
        assert calendar.add_working_time(sh(10, 9, 17), timedelta(hours=2)) == sh(10, 10, 10)
        assert calendar.add_working_time(sh(10, 10, 17), timedelta(hours=2)) == sh(10, 12, 10)

    def test_over_a_chain_closure(self) -> None:
        # Given Wednesday 25 November 17:00 and a closure on Thursday 26
        cal = BusinessCalendar(SHANGHAI, NINE_TO_SIX, closures=[date(2026, 11, 26)])
        # When / Then two working hours end on Friday at 10:00
        assert cal.add_working_time(sh(11, 25, 17), timedelta(hours=2)) == sh(11, 27, 10)

    @pytest.mark.parametrize(
        ("start", "duration", "due"),
        [
            (sh(11, 25, 7), timedelta(hours=1), sh(11, 25, 10)),  # before opening: counts from 09:00
            (sh(11, 25, 20), timedelta(hours=1), sh(11, 26, 10)),  # after closing: next morning
            (sh(11, 28, 12), timedelta(hours=1), sh(11, 30, 10)),  # on a Saturday: Monday
            (sh(10, 3, 12), timedelta(hours=9), sh(10, 8, 18)),  # a full day from a holiday ends at closing
            (sh(11, 25, 9), timedelta(hours=9), sh(11, 25, 18)),  # filling a day ends at closing, not next opening
            (sh(11, 25, 12), timedelta(0), sh(11, 25, 12)),
        ],
    )
    def test_edges_of_the_working_day(
        self, calendar: BusinessCalendar, start: datetime, duration: timedelta, due: datetime
    ) -> None:
        assert calendar.add_working_time(start, duration) == due

    def test_refuses_naive_instants_and_negative_durations(self, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            calendar.add_working_time(datetime(2026, 11, 25, 9), timedelta(hours=1))
        with pytest.raises(ValueError, match="negative"):
            calendar.add_working_time(sh(11, 25, 9), timedelta(hours=-1))

    def test_a_calendar_without_working_days_fails_instead_of_looping(self) -> None:
        closed = [date(2026, 12, 1) + timedelta(days=i) for i in range(4000)]
        cal = BusinessCalendar(SHANGHAI, NINE_TO_SIX, closures=closed)
        with pytest.raises(ValueError, match="no working days"):
            cal.add_working_time(sh(12, 1, 9), timedelta(hours=1))


class TestWorkingTimeBetween:
    def test_across_the_national_day_holiday(self, calendar: BusinessCalendar) -> None:
        assert calendar.working_time_between(sh(9, 30, 17), sh(10, 8, 10)) == timedelta(hours=2)

    def test_a_whole_holiday_week_has_no_working_time(self, calendar: BusinessCalendar) -> None:
        assert calendar.working_time_between(sh(9, 30, 18), sh(10, 8, 9)) == timedelta(0)

    def test_the_makeup_saturday_counts_a_full_day(self, calendar: BusinessCalendar) -> None:
        assert calendar.working_time_between(sh(10, 10), sh(10, 12)) == timedelta(hours=9)

    def test_is_negative_backwards(self, calendar: BusinessCalendar) -> None:
        assert calendar.working_time_between(sh(10, 8, 10), sh(9, 30, 17)) == -timedelta(hours=2)

    def test_any_zone_on_the_inputs_gives_the_same_answer(self, calendar: BusinessCalendar) -> None:
        assert calendar.working_time_between(sh(9, 30, 17).astimezone(UTC), sh(10, 8, 10)) == timedelta(hours=2)


STARTS = [
    sh(9, 30, 17, 30),
    sh(10, 1, 12),  # on the holiday
    sh(10, 9, 17, 59, 59),
    sh(10, 10, 8),  # makeup Saturday before opening
    sh(11, 25, 18),  # exactly at closing
    sh(12, 30, 16, 15, 7),  # before the year-end closure, into the fallback year
]
DURATIONS = [
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(hours=1),
    timedelta(hours=8, minutes=59, seconds=59),
    timedelta(hours=9),
    timedelta(hours=24),
    timedelta(days=3),
    timedelta(days=7),
    timedelta(seconds=123_457, microseconds=89),
]


class TestAddAndBetweenAgree:
    @pytest.mark.parametrize("start", STARTS)
    @pytest.mark.parametrize("duration", DURATIONS)
    def test_between_a_and_a_plus_d_is_d(self, start: datetime, duration: timedelta) -> None:
        # Given the shipped calendar (with its closure)
        cal = BusinessCalendar.from_config(load_config(REPO_ROOT / "config" / "calendar.yaml", CalendarConfig))
        # When / Then
        due = cal.add_working_time(start, duration)
        assert cal.working_time_between(start, due) == duration
        # and no earlier instant would do: one microsecond less is short of the duration
        if duration:
            assert cal.working_time_between(start, due - timedelta(microseconds=1)) < duration

    @pytest.mark.parametrize("start", STARTS)
    def test_add_is_monotonic(self, calendar: BusinessCalendar, start: datetime) -> None:
        dues = [calendar.add_working_time(start, d) for d in sorted(DURATIONS)]
        assert dues == sorted(dues)

    def test_adding_the_measured_time_lands_on_the_end_inside_working_hours(self, calendar: BusinessCalendar) -> None:
        a, b = sh(9, 30, 10, 11, 12), sh(10, 10, 15, 16, 17)
        assert calendar.add_working_time(a, calendar.working_time_between(a, b)) == b


class TestModes:
    def test_wall_mode_counts_every_hour_even_on_holidays(self, calendar: BusinessCalendar) -> None:
        assert calendar.add(sh(9, 30, 17), timedelta(hours=24), ClockMode.WALL) == sh(10, 1, 17)
        assert calendar.between(sh(9, 30, 17), sh(10, 8, 10), ClockMode.WALL) == timedelta(days=7, hours=17)

    def test_working_mode_delegates_to_working_time(self, calendar: BusinessCalendar) -> None:
        # 1 h on 30 Sep, 9 h on 8 and 9 Oct, the last 5 h on the makeup Saturday
        assert calendar.add(sh(9, 30, 17), timedelta(hours=24), ClockMode.WORKING) == sh(10, 10, 14)
        assert calendar.between(sh(9, 30, 17), sh(10, 8, 10), ClockMode.WORKING) == timedelta(hours=2)

    def test_wall_mode_refuses_negative_durations(self, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="negative"):
            calendar.add(sh(9, 30, 17), timedelta(hours=-1), ClockMode.WALL)


class TestConfig:
    def test_the_shipped_calendar_loads_with_its_closure(self) -> None:
        config = load_config(REPO_ROOT / "config" / "calendar.yaml", CalendarConfig)
        cal = BusinessCalendar.from_config(config)
        assert config.working_hours == NINE_TO_SIX
        assert config.closures and not cal.is_working_day(config.closures[0].date)

    def test_working_hours_must_open_before_they_close(self) -> None:
        with pytest.raises(ValidationError, match="before"):
            CalendarConfig.model_validate({"working_hours": {"start": "18:00", "end": "09:00"}})

    def test_an_unknown_zone_is_named(self) -> None:
        with pytest.raises(ValidationError, match="Mars/Olympus"):
            CalendarConfig.model_validate({"zone": "Mars/Olympus", "working_hours": {"start": "09:00", "end": "18:00"}})
