"""Case clocks: Given a clock (from the shipped config or built directly) / When it starts, pauses, resumes, is
re-planned or stops at a given instant / Then its state, due time and timers. Time is always a parameter."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.routing.calendar import BusinessCalendar, ClockMode, WorkingHours
from services.routing.clocks import Clock, ClockName, ClockPolicy, ClockState, Timer, TimerKind
from shared.configfiles import load_config
from shared.settings import REPO_ROOT
from shared.vocabulary import Severity

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_config(REPO_ROOT / "config" / "clocks.yaml", ClockPolicy)
CAL = BusinessCalendar(SHANGHAI, WorkingHours(start=time(9), end=time(18)))
H = timedelta(hours=1)


def sh(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An instant given in Shanghai local time, 2026."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


def timers(clock: Clock, now: datetime) -> list[tuple[TimerKind, datetime]]:
    return [(t.kind, t.fires_at) for t in clock.next_timers(now, CAL)]


class TestShippedPolicy:
    @pytest.mark.parametrize(
        ("name", "severity", "duration"),
        [
            (ClockName.ACKNOWLEDGE, Severity.CRITICAL, H),
            (ClockName.ACKNOWLEDGE, Severity.URGENT, 4 * H),
            (ClockName.ACKNOWLEDGE, Severity.GENERAL, 24 * H),
            (ClockName.RESOLVE, Severity.CRITICAL, 24 * H),
            (ClockName.RESOLVE, Severity.URGENT, timedelta(days=3)),
            (ClockName.RESOLVE, Severity.GENERAL, timedelta(days=7)),
            (ClockName.RETURN_REVIEW, Severity.GENERAL, 24 * H),
            (ClockName.RETURN_REVIEW, Severity.CRITICAL, 24 * H),
            (ClockName.FOLLOW_UP, Severity.URGENT, timedelta(days=7)),
        ],
    )
    def test_durations_are_the_domain_defaults(self, name: ClockName, severity: Severity, duration: timedelta) -> None:
        assert POLICY.definition(name).duration_for(severity) == duration

    def test_every_clock_warns_at_75_and_90_percent_and_runs_in_calendar_hours(self) -> None:
        assert all(c.warn_at == (0.75, 0.90) and c.mode is ClockMode.WALL for c in POLICY.clocks)

    def test_only_the_regulator_clock_ignores_waiting_on_the_customer(self) -> None:
        assert [c.name for c in POLICY.clocks if not c.pauses_while_awaiting_customer] == [ClockName.REGULATOR]

    def test_the_regulator_clock_has_no_duration_of_its_own(self) -> None:
        with pytest.raises(ValueError, match="transfer"):
            POLICY.start(ClockName.REGULATOR, Severity.URGENT, sh(11, 25, 9))


def policy_with(**changes: Any) -> dict[str, Any]:
    """The shipped policy as data, with the acknowledge clock changed."""
    data = POLICY.model_dump(mode="json", exclude_none=True)
    data["clocks"][0].update(changes)
    return data


class TestPolicyValidation:
    @pytest.mark.parametrize(
        ("changes", "error"),
        [
            ({"durations": {"critical": "PT1H", "urgent": "PT4H"}}, "every severity"),
            ({"duration": "PT1H"}, "exactly one"),
            ({"durations": {"critical": "PT0S", "urgent": "PT4H", "general": "PT24H"}}, "positive"),
            ({"warn_at": [0.9, 0.75]}, "warn_at"),
            ({"warn_at": [0.75, 1.0]}, "warn_at"),
            ({"name": "resolve"}, "exactly once"),
        ],
    )
    def test_a_wrong_policy_fails_with_the_reason(self, changes: dict[str, Any], error: str) -> None:
        with pytest.raises(ValidationError, match=error):
            ClockPolicy.model_validate(policy_with(**changes))

    def test_the_regulator_clock_takes_no_duration(self) -> None:
        data = POLICY.model_dump(mode="json", exclude_none=True)
        data["clocks"][-1]["duration"] = "PT1H"
        with pytest.raises(ValidationError, match="transfer"):
            ClockPolicy.model_validate(data)


class TestRunningWallClock:
    """Given an urgent case acknowledged within 4 h, received on 25 November at 10:00."""

    clock = POLICY.start(ClockName.ACKNOWLEDGE, Severity.URGENT, sh(11, 25, 10))

    def test_due_in_four_hours(self) -> None:
        assert self.clock.due_at(CAL) == sh(11, 25, 14)
        assert self.clock.due_at(CAL).tzinfo is UTC  # type: ignore[union-attr]

    def test_timers_fire_at_75_and_90_percent_and_at_the_breach(self) -> None:
        assert timers(self.clock, sh(11, 25, 10)) == [
            (TimerKind.WARN_75, sh(11, 25, 13)),
            (TimerKind.WARN_90, sh(11, 25, 13, 36)),
            (TimerKind.BREACH, sh(11, 25, 14)),
        ]
        ahead = self.clock.next_timers(sh(11, 25, 10), CAL)
        assert all(isinstance(t, Timer) and t.clock is ClockName.ACKNOWLEDGE for t in ahead)

    @pytest.mark.parametrize(
        ("now", "state"),
        [
            (sh(11, 25, 10), ClockState.RUNNING),
            (sh(11, 25, 12, 59, 59), ClockState.RUNNING),
            (sh(11, 25, 13), ClockState.WARNED_75),
            (sh(11, 25, 13, 35, 59), ClockState.WARNED_75),
            (sh(11, 25, 13, 36), ClockState.WARNED_90),
            (sh(11, 25, 13, 59, 59), ClockState.WARNED_90),
            (sh(11, 25, 14), ClockState.BREACHED),
            (sh(11, 27, 14), ClockState.BREACHED),
        ],
    )
    def test_state_follows_the_thresholds(self, now: datetime, state: ClockState) -> None:
        assert self.clock.state(now, CAL) is state

    def test_fired_timers_are_no_longer_ahead(self) -> None:
        assert [k for k, _ in timers(self.clock, sh(11, 25, 13))] == [TimerKind.WARN_90, TimerKind.BREACH]
        assert timers(self.clock, sh(11, 25, 14)) == []

    def test_elapsed_and_remaining(self) -> None:
        assert self.clock.elapsed(sh(11, 25, 11, 30), CAL) == timedelta(hours=1, minutes=30)
        assert self.clock.remaining(sh(11, 25, 15), CAL) == -H


class TestPauseAndResume:
    """Given a general case to resolve within 7 days, received on 2 November at 08:00."""

    clock = POLICY.start(ClockName.RESOLVE, Severity.GENERAL, sh(11, 2, 8))

    def test_the_remaining_time_is_kept_to_the_second(self) -> None:
        # When the case waits on the customer after 2 d 3 h 17 min 41 s, for 5 days and 7 seconds
        paused = self.clock.pause(sh(11, 4, 11, 17, 41), CAL)
        resumed = paused.resume(sh(11, 9, 11, 17, 48))
        # Then nothing was used while paused, and the remaining time is exactly what was left
        left = timedelta(days=7) - timedelta(days=2, hours=3, minutes=17, seconds=41)
        assert paused.remaining(sh(11, 8), CAL) == left
        assert resumed.remaining(sh(11, 9, 11, 17, 48), CAL) == left
        assert resumed.due_at(CAL) == sh(11, 9, 11, 17, 48) + left
        assert resumed.paused(sh(11, 20)) == timedelta(days=5, seconds=7)

    def test_while_paused_it_has_no_due_time_and_no_timers(self) -> None:
        paused = self.clock.pause(sh(11, 3, 8), CAL)
        assert paused.state(sh(11, 30), CAL) is ClockState.PAUSED
        assert paused.due_at(CAL) is None
        assert paused.next_timers(sh(11, 4), CAL) == []
        assert paused.paused(sh(11, 4, 8)) == timedelta(days=1)

    def test_after_resuming_the_timers_are_shifted_by_the_pause(self) -> None:
        resumed = self.clock.pause(sh(11, 3, 8), CAL).resume(sh(11, 5, 8))
        assert timers(resumed, sh(11, 5, 8)) == [
            (TimerKind.WARN_75, sh(11, 2, 8) + timedelta(days=5.25) + timedelta(days=2)),
            (TimerKind.WARN_90, sh(11, 2, 8) + timedelta(days=6.3) + timedelta(days=2)),
            (TimerKind.BREACH, sh(11, 11, 8)),
        ]

    def test_a_warning_reached_before_the_pause_does_not_fire_again(self) -> None:
        # Given the clock paused after 6 days (past 75 %)
        resumed = self.clock.pause(sh(11, 8, 8), CAL).resume(sh(11, 10, 8))
        # Then only the 90 % warning and the breach are ahead
        assert [k for k, _ in timers(resumed, sh(11, 10, 8))] == [TimerKind.WARN_90, TimerKind.BREACH]
        assert resumed.state(sh(11, 10, 8), CAL) is ClockState.WARNED_75

    def test_a_breached_clock_stays_breached_while_paused(self) -> None:
        assert self.clock.pause(sh(11, 10), CAL).state(sh(11, 11), CAL) is ClockState.BREACHED

    def test_several_pauses_add_up(self) -> None:
        clock = self.clock.pause(sh(11, 2, 9), CAL).resume(sh(11, 2, 10))
        clock = clock.pause(sh(11, 2, 11), CAL).resume(sh(11, 2, 13))
        assert clock.paused(sh(11, 3)) == 3 * H
        assert clock.elapsed(sh(11, 2, 14), CAL) == 3 * H
        assert clock.due_at(CAL) == sh(11, 9, 11)

    @pytest.mark.parametrize(
        "transition",
        [
            lambda c: c.resume(sh(11, 3)),  # not paused
            lambda c: c.pause(sh(11, 3), CAL).pause(sh(11, 4), CAL),  # already paused
            lambda c: c.pause(sh(11, 1), CAL),  # before it started
            lambda c: c.pause(sh(11, 3), CAL).resume(sh(11, 2, 12)),  # resumed before the pause
            lambda c: c.pause(datetime(2026, 11, 3), CAL),  # naive instant
        ],
    )
    def test_impossible_transitions_are_refused(self, transition: Any) -> None:
        with pytest.raises(ValueError):
            transition(self.clock)


class TestWorkingTimeClock:
    """Given a 9-working-hour clock started Wednesday 30 September at 15:00, just before National Day."""

    clock = Clock.start(ClockName.RETURN_REVIEW, sh(9, 30, 15), 9 * H, ClockMode.WORKING)

    def test_due_after_the_holiday(self) -> None:
        # 3 h on 30 Sep, the other 6 h on 8 Oct
        assert self.clock.due_at(CAL) == sh(10, 8, 15)

    def test_timers_in_working_time(self) -> None:
        # 75 % = 6 h 45 min, 90 % = 8 h 06 min of working time
        assert timers(self.clock, sh(9, 30, 15)) == [
            (TimerKind.WARN_75, sh(10, 8, 12, 45)),
            (TimerKind.WARN_90, sh(10, 8, 14, 6)),
            (TimerKind.BREACH, sh(10, 8, 15)),
        ]

    def test_the_holiday_uses_no_time(self) -> None:
        assert self.clock.elapsed(sh(10, 7, 23), CAL) == 3 * H
        assert self.clock.state(sh(10, 7, 23), CAL) is ClockState.RUNNING

    def test_pause_and_resume_keep_the_working_time_left(self) -> None:
        # When paused at 17:00 on 30 Sep (2 h used) and resumed on Friday 9 Oct at 16:30
        resumed = self.clock.pause(sh(9, 30, 17), CAL).resume(sh(10, 9, 16, 30))
        # Then 7 working hours remain: 1.5 h on Friday, 5.5 h on the makeup Saturday
        assert resumed.remaining(sh(10, 9, 16, 30), CAL) == 7 * H
        assert resumed.due_at(CAL) == sh(10, 10, 14, 30)
        assert resumed.state(sh(10, 10, 14, 30), CAL) is ClockState.BREACHED

    def test_a_policy_can_run_a_clock_in_working_time(self) -> None:
        # Given acknowledge configured for working time; an urgent case (4 h) at 17:00 before National Day
        policy = ClockPolicy.model_validate(policy_with(mode="working"))
        clock = policy.start(ClockName.ACKNOWLEDGE, Severity.URGENT, sh(9, 30, 17))
        # Then 1 h counts on 30 Sep and 3 h on 8 Oct
        assert clock.due_at(CAL) == sh(10, 8, 12)

    def test_wall_and_working_modes_differ_on_the_same_start(self) -> None:
        wall = Clock.start(ClockName.RETURN_REVIEW, sh(9, 30, 15), 9 * H, ClockMode.WALL)
        assert wall.due_at(CAL) == sh(10, 1)
        assert wall.state(sh(10, 2), CAL) is ClockState.BREACHED
        assert self.clock.state(sh(10, 2), CAL) is ClockState.RUNNING


class TestReplan:
    """Given a general case (resolve in 7 days) received 2 November at 08:00, paused a day, raised to urgent."""

    clock = (
        POLICY.start(ClockName.RESOLVE, Severity.GENERAL, sh(11, 2, 8)).pause(sh(11, 3, 8), CAL).resume(sh(11, 4, 8))
    )

    def test_used_and_paused_time_are_kept(self) -> None:
        # When severity is raised to urgent on 4 November at 20:00
        urgent = self.clock.replan(POLICY.definition(ClockName.RESOLVE).duration_for(Severity.URGENT))
        # Then the 1.5 days used and the day paused still count: 1.5 days remain of 3
        now = sh(11, 4, 20)
        assert urgent.elapsed(now, CAL) == timedelta(days=1.5)
        assert urgent.paused(now) == timedelta(days=1)
        assert urgent.remaining(now, CAL) == timedelta(days=1.5)
        assert urgent.due_at(CAL) == sh(11, 6, 8)
        assert urgent.state(now, CAL) is ClockState.RUNNING
        assert timers(urgent, now) == [
            (TimerKind.WARN_75, sh(11, 5, 14)),
            (TimerKind.WARN_90, sh(11, 6, 0, 48)),
            (TimerKind.BREACH, sh(11, 6, 8)),
        ]

    def test_a_shorter_clock_can_be_past_its_warnings_at_once(self) -> None:
        # When raised to critical (24 h) with 1.5 days already used
        critical = self.clock.replan(24 * H)
        # Then it is breached at once and no timer is left to fire
        assert critical.state(sh(11, 4, 20), CAL) is ClockState.BREACHED
        assert critical.next_timers(sh(11, 4, 20), CAL) == []

    def test_a_paused_clock_can_be_replanned_and_stays_paused(self) -> None:
        paused = POLICY.start(ClockName.RESOLVE, Severity.GENERAL, sh(11, 2, 8)).pause(sh(11, 3, 8), CAL)
        replanned = paused.replan(timedelta(days=3))
        assert replanned.state(sh(11, 9), CAL) is ClockState.PAUSED
        assert replanned.resume(sh(11, 9)).due_at(CAL) == sh(11, 11)

    def test_a_working_time_clock_keeps_working_time_used(self) -> None:
        clock = Clock.start(ClockName.ACKNOWLEDGE, sh(9, 30, 15), 24 * H, ClockMode.WORKING)
        # 3 h used on 30 Sep; raised to a 4 h clock: 1 h left on 8 Oct
        assert clock.replan(4 * H).due_at(CAL) == sh(10, 8, 10)

    def test_replanning_needs_a_positive_duration(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            self.clock.replan(timedelta(0))


class TestStop:
    clock = POLICY.start(ClockName.ACKNOWLEDGE, Severity.CRITICAL, sh(11, 25, 10))

    def test_met_before_the_deadline(self) -> None:
        done = self.clock.stop(sh(11, 25, 10, 50), CAL)
        assert done.state(sh(11, 26), CAL) is ClockState.STOPPED
        assert done.met(CAL) and done.used == timedelta(minutes=50)
        assert done.next_timers(sh(11, 25, 10, 50), CAL) == [] and done.due_at(CAL) is None

    def test_missed_when_stopped_at_or_after_the_breach(self) -> None:
        assert not self.clock.stop(sh(11, 25, 11), CAL).met(CAL)

    def test_stopping_a_paused_clock_closes_the_pause(self) -> None:
        done = self.clock.pause(sh(11, 25, 10, 30), CAL).stop(sh(11, 25, 12), CAL)
        assert done.met(CAL) and done.paused(sh(11, 30)) == 90 * timedelta(minutes=1)

    def test_a_stopped_clock_takes_no_more_transitions(self) -> None:
        done = self.clock.stop(sh(11, 25, 10, 50), CAL)
        with pytest.raises(ValueError):
            done.stop(sh(11, 25, 11), CAL)
        with pytest.raises(ValueError):
            done.replan(4 * H)
        with pytest.raises(ValueError):
            done.pause(sh(11, 25, 11), CAL)

    def test_an_open_clock_has_no_outcome_yet(self) -> None:
        with pytest.raises(ValueError, match="open"):
            self.clock.met(CAL)


class TestRegulatorClock:
    """Given a 12315 transfer received 25 November 10:00 with the regulator's deadline 5 December 10:00."""

    clock = POLICY.start_regulator(sh(11, 25, 10), sh(12, 5, 10))

    def test_due_at_the_transfers_deadline(self) -> None:
        assert self.clock.due_at(CAL) == sh(12, 5, 10)

    def test_warnings_at_75_and_90_percent_of_the_span(self) -> None:
        assert timers(self.clock, sh(11, 25, 10)) == [
            (TimerKind.WARN_75, sh(12, 2, 22)),
            (TimerKind.WARN_90, sh(12, 4, 10)),
            (TimerKind.BREACH, sh(12, 5, 10)),
        ]
        assert self.clock.state(sh(12, 4, 10), CAL) is ClockState.WARNED_90
        assert self.clock.state(sh(12, 5, 10), CAL) is ClockState.BREACHED

    def test_it_does_not_pause_nor_replan(self) -> None:
        with pytest.raises(ValueError, match="does not pause"):
            self.clock.pause(sh(11, 26), CAL)
        with pytest.raises(ValueError, match="absolute"):
            self.clock.replan(H)

    def test_a_working_time_span_still_breaches_at_the_deadline_itself(self) -> None:
        # Given a deadline at 20:00, after closing: warnings in working time, breach at the deadline
        clock = Clock.start_absolute(ClockName.REGULATOR, sh(11, 25, 9), sh(11, 26, 20), ClockMode.WORKING)
        assert timers(clock, sh(11, 25, 9)) == [
            (TimerKind.WARN_75, sh(11, 26, 13, 30)),
            (TimerKind.WARN_90, sh(11, 26, 16, 12)),
            (TimerKind.BREACH, sh(11, 26, 20)),
        ]
        assert clock.state(sh(11, 26, 19), CAL) is ClockState.WARNED_90
        assert timers(clock, sh(11, 26, 19)) == [(TimerKind.BREACH, sh(11, 26, 20))]

    def test_the_deadline_must_be_after_the_start(self) -> None:
        with pytest.raises(ValueError, match="after the start"):
            POLICY.start_regulator(sh(11, 25, 10), sh(11, 25, 10))


class TestPersistence:
    def test_a_clock_survives_a_json_round_trip(self) -> None:
        # Given a clock that was paused, resumed and re-planned (as an event payload would carry it)
        clock = POLICY.start(ClockName.RESOLVE, Severity.GENERAL, sh(11, 2, 8)).pause(sh(11, 3, 8), CAL)
        clock = clock.resume(sh(11, 4, 8)).replan(timedelta(days=3))
        # When / Then
        again = Clock.model_validate_json(clock.model_dump_json())
        assert again == clock
        assert again.due_at(CAL) == clock.due_at(CAL)

    def test_a_clock_needs_a_duration_or_a_deadline(self) -> None:
        with pytest.raises(ValidationError, match="either a duration or a deadline"):
            Clock(name=ClockName.RESOLVE, mode=ClockMode.WALL, started_at=sh(11, 2, 8))
