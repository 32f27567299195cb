"""Case clocks (时效): their configuration and a pure state value. No reading of the time: every instant is a
parameter, and working time is measured with the ``BusinessCalendar`` passed in.

A clock keeps the working (or wall) time it has used in finished run segments plus the start of the current one,
so a pause keeps the remaining time exactly and a re-plan (new duration) keeps what was used and paused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, model_validator

from services.routing.calendar import BusinessCalendar, ClockMode
from shared.vocabulary import Severity


class ClockName(StrEnum):
    """The named clocks a case carries (DOMAIN.md "Deadlines"); ``regulator`` only on a 12315 transfer,
    ``merchant_response`` only while a mall merchant is chased, ``return_review`` and ``refund`` with a return."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    RETURN_REVIEW = "return_review"
    FOLLOW_UP = "follow_up"
    REGULATOR = "regulator"
    MERCHANT_RESPONSE = "merchant_response"
    REFUND = "refund"


class ClockState(StrEnum):
    """What a clock shows at an instant; ``warned_75``/``warned_90`` name the first and second warning thresholds."""

    RUNNING = "running"
    PAUSED = "paused"
    WARNED_75 = "warned_75"
    WARNED_90 = "warned_90"
    BREACHED = "breached"
    STOPPED = "stopped"


class TimerKind(StrEnum):
    """What a timer announces when it fires."""

    WARN_75 = "warn_75"
    WARN_90 = "warn_90"
    BREACH = "breach"


def _check_warn_at(value: tuple[float, float]) -> tuple[float, float]:
    first, second = value
    if not 0 < first < second < 1:
        raise ValueError("warn_at needs two fractions with 0 < first < second < 1")
    return value


# Two thresholds, because the states name exactly a first (75 %) and a second (90 %) warning.
WarnAt = Annotated[tuple[float, float], AfterValidator(_check_warn_at)]


class ClockDefinition(BaseModel):
    """One named clock in ``config/clocks.yaml``.

    Relative clocks give ``durations`` per severity, or one ``duration`` for every severity. The regulator clock
    gives neither: its deadline is the absolute one the 12315 transfer carries.
    """

    name: ClockName
    mode: ClockMode = ClockMode.WALL
    duration: timedelta | None = None
    durations: dict[Severity, timedelta] | None = None
    warn_at: WarnAt = (0.75, 0.90)
    pauses_while_awaiting_customer: bool = True

    @model_validator(mode="after")
    def _durations_fit_the_clock(self) -> ClockDefinition:
        given = (self.duration is not None) + (self.durations is not None)
        if self.name is ClockName.REGULATOR:
            if given:
                raise ValueError("the regulator clock takes its deadline from the transfer; give no duration")
            if self.pauses_while_awaiting_customer:
                raise ValueError("the regulator's deadline does not pause for the customer")
            return self
        if given != 1:
            raise ValueError(f"clock {self.name}: give exactly one of duration or durations")
        if self.durations is not None and set(self.durations) != set(Severity):
            raise ValueError(f"clock {self.name}: durations must name every severity")
        values = list(self.durations.values()) if self.durations is not None else [self.duration]
        if any(d is None or d <= timedelta(0) for d in values):
            raise ValueError(f"clock {self.name}: durations must be positive")
        return self

    def duration_for(self, severity: Severity) -> timedelta:
        """The duration this clock runs for a case of ``severity``."""
        if self.durations is not None:
            return self.durations[severity]
        if self.duration is None:
            raise ValueError(f"clock {self.name} has no duration: its deadline comes from the transfer")
        return self.duration


class ClockPolicy(BaseModel):
    """``config/clocks.yaml``: every named clock, once."""

    clocks: list[ClockDefinition]

    @model_validator(mode="after")
    def _each_clock_once(self) -> ClockPolicy:
        names = [c.name for c in self.clocks]
        if sorted(names) != sorted(ClockName):
            raise ValueError(f"clocks must define each of {[n.value for n in ClockName]} exactly once")
        return self

    def definition(self, name: ClockName) -> ClockDefinition:
        """The definition of clock ``name``."""
        return next(c for c in self.clocks if c.name is name)

    def start(self, name: ClockName, severity: Severity, at: datetime) -> Clock:
        """Start clock ``name`` for a case of ``severity`` at ``at``."""
        d = self.definition(name)
        return Clock.start(
            name, at, d.duration_for(severity), d.mode, warn_at=d.warn_at, pausable=d.pauses_while_awaiting_customer
        )

    def start_regulator(self, at: datetime, deadline: datetime) -> Clock:
        """Start the regulator's clock at ``at`` with the absolute ``deadline`` of the 12315 transfer."""
        d = self.definition(ClockName.REGULATOR)
        return Clock.start_absolute(ClockName.REGULATOR, at, deadline, d.mode, warn_at=d.warn_at)


class Timer(BaseModel):
    """An instant at which a clock's warning or breach fires; a durable timer worker persists these."""

    model_config = ConfigDict(frozen=True)

    clock: ClockName
    kind: TimerKind
    fires_at: AwareDatetime


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    return at.astimezone(UTC)


class Clock(BaseModel):
    """The state of one case clock; every transition returns a new value.

    ``used`` is the time (in ``mode``) consumed by finished run segments; ``running_since`` starts the current one.
    ``paused_total`` is the wall time spent waiting in finished pauses. An absolute clock (the regulator's) has a
    ``deadline`` instead of a duration and never pauses.
    """

    model_config = ConfigDict(frozen=True)

    name: ClockName
    mode: ClockMode
    started_at: AwareDatetime
    duration: timedelta | None = None
    deadline: AwareDatetime | None = None
    warn_at: WarnAt = (0.75, 0.90)
    pausable: bool = True
    used: timedelta = timedelta(0)
    running_since: AwareDatetime | None = None
    paused_since: AwareDatetime | None = None
    paused_total: timedelta = timedelta(0)
    stopped_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _duration_or_deadline(self) -> Clock:
        if (self.duration is None) == (self.deadline is None):
            raise ValueError(f"clock {self.name} needs either a duration or a deadline")
        return self

    @classmethod
    def start(
        cls,
        name: ClockName,
        at: datetime,
        duration: timedelta,
        mode: ClockMode,
        warn_at: WarnAt = (0.75, 0.90),
        pausable: bool = True,
    ) -> Clock:
        """A clock of ``duration`` (counted in ``mode``) running from ``at``."""
        if duration <= timedelta(0):
            raise ValueError("a clock needs a positive duration")
        at = _utc(at)
        return cls(
            name=name, mode=mode, started_at=at, duration=duration, warn_at=warn_at, pausable=pausable, running_since=at
        )

    @classmethod
    def start_absolute(
        cls, name: ClockName, at: datetime, deadline: datetime, mode: ClockMode, warn_at: WarnAt = (0.75, 0.90)
    ) -> Clock:
        """A clock running from ``at`` to a fixed ``deadline``; warnings fall at fractions of that span in ``mode``."""
        at, deadline = _utc(at), _utc(deadline)
        if deadline <= at:
            raise ValueError("the deadline must be after the start")
        return cls(
            name=name, mode=mode, started_at=at, deadline=deadline, warn_at=warn_at, pausable=False, running_since=at
        )

    # Transitions

    def pause(self, at: datetime, calendar: BusinessCalendar) -> Clock:
        """Stop counting at ``at`` (waiting on the customer); the time used so far is kept exactly."""
        at = self._not_before_last_change(at)
        if not self.pausable:
            raise ValueError(f"clock {self.name} does not pause")
        if self.running_since is None:
            raise ValueError(f"clock {self.name} is not running")
        used = self.used + calendar.between(self.running_since, at, self.mode)
        return self.model_copy(update={"used": used, "running_since": None, "paused_since": at})

    def resume(self, at: datetime) -> Clock:
        """Count again from ``at``; the pause is added to ``paused_total``."""
        at = self._not_before_last_change(at)
        if self.paused_since is None:
            raise ValueError(f"clock {self.name} is not paused")
        paused_total = self.paused_total + (at - self.paused_since)
        return self.model_copy(update={"paused_total": paused_total, "paused_since": None, "running_since": at})

    def replan(self, duration: timedelta) -> Clock:
        """A new duration (e.g. severity raised); time used and time paused stay as they are."""
        if self.deadline is not None:
            raise ValueError(f"clock {self.name} has an absolute deadline")
        if self.stopped_at is not None:
            raise ValueError(f"clock {self.name} is stopped")
        if duration <= timedelta(0):
            raise ValueError("a clock needs a positive duration")
        return self.model_copy(update={"duration": duration})

    def stop(self, at: datetime, calendar: BusinessCalendar) -> Clock:
        """The awaited step happened at ``at``: the clock stops for good with its final used time."""
        at = self._not_before_last_change(at)
        if self.stopped_at is not None:
            raise ValueError(f"clock {self.name} is already stopped")
        update: dict[str, object] = {"stopped_at": at, "running_since": None}
        if self.running_since is not None:
            update["used"] = self.used + calendar.between(self.running_since, at, self.mode)
        if self.paused_since is not None:
            update["paused_total"] = self.paused_total + (at - self.paused_since)
            update["paused_since"] = None
        return self.model_copy(update=update)

    # Readings

    def budget(self, calendar: BusinessCalendar) -> timedelta:
        """The total time this clock allows, in ``mode``."""
        if self.deadline is not None:
            return calendar.between(self.started_at, self.deadline, self.mode)
        assert self.duration is not None
        return self.duration

    def elapsed(self, now: datetime, calendar: BusinessCalendar) -> timedelta:
        """Time used up to ``now`` in ``mode``, pauses excluded."""
        now = _utc(now)
        if self.running_since is None:
            return self.used
        return self.used + max(calendar.between(self.running_since, now, self.mode), timedelta(0))

    def remaining(self, now: datetime, calendar: BusinessCalendar) -> timedelta:
        """Time left at ``now`` in ``mode``; negative once breached."""
        return self.budget(calendar) - self.elapsed(now, calendar)

    def paused(self, now: datetime) -> timedelta:
        """Wall time spent waiting on the customer up to ``now``."""
        if self.paused_since is None:
            return self.paused_total
        return self.paused_total + max(_utc(now) - self.paused_since, timedelta(0))

    def due_at(self, calendar: BusinessCalendar) -> datetime | None:
        """When the clock breaches if it keeps running; None while paused or stopped (no due time then)."""
        if self.deadline is not None:
            return None if self.stopped_at is not None else self.deadline
        if self.running_since is None:
            return None
        return self._instant_of(self.budget(calendar), calendar)

    def state(self, now: datetime, calendar: BusinessCalendar) -> ClockState:
        """The clock at ``now``: stopped, then breached, then paused, then the highest warning reached, else running.

        A threshold counts as reached at its exact instant, so ``state`` agrees with the timers of ``next_timers``.
        """
        if self.stopped_at is not None:
            return ClockState.STOPPED
        used, budget = self.elapsed(now, calendar), self.budget(calendar)
        # An absolute deadline breaches at that instant, even outside working hours where no more time is used.
        breached = (_utc(now) >= self.deadline) if self.deadline is not None else (used >= budget)
        if breached:
            return ClockState.BREACHED
        if self.running_since is None:
            return ClockState.PAUSED
        if used >= budget * self.warn_at[1]:
            return ClockState.WARNED_90
        if used >= budget * self.warn_at[0]:
            return ClockState.WARNED_75
        return ClockState.RUNNING

    def met(self, calendar: BusinessCalendar) -> bool:
        """For a stopped clock: whether the step came before the breach."""
        if self.stopped_at is None:
            raise ValueError(f"clock {self.name} is still open")
        if self.deadline is not None:
            return self.stopped_at < self.deadline
        return self.used < self.budget(calendar)

    def timers(self, calendar: BusinessCalendar) -> list[Timer]:
        """Both warnings and the breach of a running clock, in firing order; none while paused or stopped.

        A threshold the clock has already reached is given at the start of the current run segment: it is due.
        """
        if self.running_since is None or self.stopped_at is not None:
            return []
        budget = self.budget(calendar)
        timers = [
            Timer(clock=self.name, kind=kind, fires_at=self._instant_of(budget * fraction, calendar))
            for kind, fraction in ((TimerKind.WARN_75, self.warn_at[0]), (TimerKind.WARN_90, self.warn_at[1]))
        ]
        # The transfer's deadline is the breach, even if it falls outside working hours.
        breach = self.deadline if self.deadline is not None else self._instant_of(budget, calendar)
        return [*timers, Timer(clock=self.name, kind=TimerKind.BREACH, fires_at=breach)]

    def next_timers(self, now: datetime, calendar: BusinessCalendar) -> list[Timer]:
        """The warnings and breach still ahead at ``now``, in firing order; none while paused or stopped.

        A threshold already reached (for example because a re-plan shortened the clock) is not a timer: ``state``
        shows it, and whoever re-planned reacts to it at once.
        """
        timers = self.timers(calendar)
        if not timers:
            return []
        used, budget = self.elapsed(now, calendar), self.budget(calendar)
        thresholds = {TimerKind.WARN_75: budget * self.warn_at[0], TimerKind.WARN_90: budget * self.warn_at[1]}
        ahead = [t for t in timers[:2] if used < thresholds[t.kind]]
        breach_ahead = (_utc(now) < self.deadline) if self.deadline is not None else used < budget
        return ahead + timers[2:] if breach_ahead else ahead

    def _instant_of(self, threshold: timedelta, calendar: BusinessCalendar) -> datetime:
        """When the running clock's used time reaches ``threshold``."""
        assert self.running_since is not None
        return calendar.add(self.running_since, max(threshold - self.used, timedelta(0)), self.mode)

    def _not_before_last_change(self, at: datetime) -> datetime:
        at = _utc(at)
        last = max(t for t in (self.started_at, self.running_since, self.paused_since) if t is not None)
        if at < last:
            raise ValueError(f"clock {self.name}: {at.isoformat()} is before its last change at {last.isoformat()}")
        return at
