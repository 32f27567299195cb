"""The ``Triage`` aggregate: routing's decisions about one case — what it is, how serious, whether it stands, who
is responsible, who owns it, and its clocks (时效). Pure: instants, the calendar and policies come in as arguments.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.routing.calendar import BusinessCalendar
from services.routing.classification import Classification
from services.routing.clocks import Clock, ClockName, ClockPolicy, ClockState, TimerKind
from services.routing.domain.assignment import Tier
from services.routing.domain.severity import SeverityAssessment
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Category, Role, Severity

# Who may lower a severity (raising is open to all staff).
MANAGERS = frozenset({Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.ADMIN})
_RANK = {Severity.GENERAL: 0, Severity.URGENT: 1, Severity.CRITICAL: 2}
# Which state a timer of each kind announces, and the states at or past it.
_REACHED = {
    TimerKind.WARN_75: {ClockState.WARNED_75, ClockState.WARNED_90, ClockState.BREACHED},
    TimerKind.WARN_90: {ClockState.WARNED_90, ClockState.BREACHED},
    TimerKind.BREACH: {ClockState.BREACHED},
}


class Party(StrEnum):
    """Who is responsible (DOMAIN.md step 2)."""

    STORE = "store"
    MERCHANT = "merchant"
    SUPPLIER = "supplier"
    LOGISTICS = "logistics"
    CUSTOMER_MISUNDERSTANDING = "customer_misunderstanding"


class CaseState(StrEnum):
    OPEN = "open"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class Intake(BaseModel):
    """What routing keeps of the received complaint (no personal data)."""

    case_number: str
    store_id: str
    region: str | None
    channel: str
    merchant_id: str | None
    language: str
    received_at: datetime


class Owner(BaseModel):
    """Who a case goes to: a team's queue, a member of it (None if the team has nobody) and the tier."""

    team: str
    queue: str
    assignee: str | None
    tier: Tier
    since: datetime | None = None


def _required(field: str, text: str | None) -> str:
    if text is None or not text.strip():
        raise InvalidValue(field, "is required and must not be blank")
    return text.strip()


class Triage(CaseAggregate):
    """Routing's decisions about one case."""

    class ComplaintTriaged(CaseAggregate.Created):
        category: str
        subcategory: str | None
        confidence: Decimal
        matched_terms: list[str]
        severity: str
        severity_reasons: list[str]
        intake: dict[str, Any]

    def __init__(
        self,
        envelope: dict[str, Any],
        category: str,
        subcategory: str | None,
        confidence: Decimal,
        matched_terms: list[str],
        severity: str,
        severity_reasons: list[str],
        intake: dict[str, Any],
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.category = category
        self.subcategory = subcategory
        self.confidence = confidence
        self.matched_terms = matched_terms
        self.severity = severity
        self.severity_reasons = severity_reasons
        self.intake = Intake.model_validate(intake)
        self.state = CaseState.OPEN
        self.well_founded: bool | None = None
        self.responsibility: dict[str, Any] | None = None
        self.owner: Owner | None = None
        self.supporting: list[str] = []
        self.clocks: dict[ClockName, Clock] = {}
        # Warnings and breaches already announced, per clock; cleared when the clock is (re)planned.
        self.signalled: set[tuple[ClockName, TimerKind]] = set()
        self.awaiting_customer = False
        self.merchant_chased = False
        self.flags: set[str] = set()
        self.emergency_tasks: dict[str, dict[str, Any]] = {}

    @classmethod
    def triage(
        cls,
        id: UUID,
        ctx: EventContext,
        intake: Intake,
        classification: Classification,
        severity: SeverityAssessment,
    ) -> Triage:
        """Record the first triage of a case."""
        return cls._start(
            cls.ComplaintTriaged,
            id,
            ctx,
            category=classification.category.value,
            subcategory=classification.subcategory,
            confidence=classification.confidence,
            matched_terms=classification.matched_terms,
            severity=severity.severity.value,
            severity_reasons=severity.reasons,
            intake=intake.model_dump(mode="json"),
        )

    # --- classification ---------------------------------------------------------------------------------------

    class CategoryOverridden(CaseAggregate.Event):
        category: str
        subcategory: str | None
        previous_category: str
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.category, aggregate.subcategory = self.category, self.subcategory

    def override_category(self, ctx: EventContext, category: Category, subcategory: str | None, reason: str) -> None:
        """Staff correct the classification; the reason is kept beside the original evidence."""
        reason = _required("reason", reason)
        self._must_be_open()
        if (category.value, subcategory) == (self.category, self.subcategory):
            raise InvalidTransition(f"the case is already {category.value}/{subcategory}")
        self._record(
            self.CategoryOverridden,
            ctx,
            category=category.value,
            subcategory=subcategory,
            previous_category=self.category,
            reason=reason,
        )

    class SeverityChanged(CaseAggregate.Event):
        severity: str
        previous_severity: str
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.severity = self.severity

    def change_severity(
        self, ctx: EventContext, severity: Severity, reason: str, policy: ClockPolicy, calendar: BusinessCalendar
    ) -> None:
        """Raise (any staff) or lower (a manager) the severity; open clocks are re-planned for it, keeping time used."""
        reason = _required("reason", reason)
        self._must_be_open()
        current = Severity(self.severity)
        if severity is current:
            raise InvalidTransition(f"the case is already {severity.value}")
        if _RANK[severity] < _RANK[current] and ctx.actor.role not in MANAGERS:
            raise Forbidden(f"lowering a severity needs a manager ({', '.join(sorted(MANAGERS))})")
        self._record(self.SeverityChanged, ctx, severity=severity.value, previous_severity=current.value, reason=reason)
        for name, clock in list(self.clocks.items()):
            if clock.stopped_at is None and clock.deadline is None:
                duration = policy.definition(name).duration_for(severity)
                if duration != clock.duration:
                    self._clock(self.ClockReplanned, ctx, clock.replan(duration), reason=f"severity {severity.value}")

    # --- validity and responsibility --------------------------------------------------------------------------

    class ValidityDecided(CaseAggregate.Event):
        well_founded: bool
        reason: str | None
        case_number: str
        language: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.well_founded = self.well_founded
            if not self.well_founded:
                aggregate.state = CaseState.REJECTED

    def decide_validity(
        self, ctx: EventContext, well_founded: bool, reason: str | None, calendar: BusinessCalendar
    ) -> None:
        """Decide whether the complaint is well-founded (投诉是否成立). Not well-founded needs a reason and closes
        the case as rejected: its clocks stop and the customer is owed a polite explanation."""
        self._must_be_open()
        if not well_founded:
            reason = _required("reason", reason)
        if self.well_founded is well_founded:
            raise InvalidTransition(f"the complaint is already decided {'well-founded' if well_founded else 'not'}")
        self._record(
            self.ValidityDecided,
            ctx,
            well_founded=well_founded,
            reason=reason,
            case_number=self.intake.case_number,
            language=self.intake.language,
        )
        if not well_founded:
            self._stop_open_clocks(ctx, "rejected", calendar)

    class AppealLodged(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.state = CaseState.OPEN
            aggregate.well_founded = None
            aggregate.awaiting_customer = False

    def appeal(self, ctx: EventContext, reason: str, policy: ClockPolicy) -> None:
        """The customer appeals a rejection: the case reopens and its resolve clock starts again."""
        reason = _required("reason", reason)
        if self.state is not CaseState.REJECTED:
            raise InvalidTransition("only a rejected complaint can be appealed")
        self._record(self.AppealLodged, ctx, reason=reason)
        resolve = policy.start(ClockName.RESOLVE, Severity(self.severity), ctx.recorded_at)
        self._clock(self.ClockStarted, ctx, resolve, reason="appeal")

    class ResponsibilityDetermined(CaseAggregate.Event):
        primary: str
        secondary: list[str]
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.responsibility = {"primary": self.primary, "secondary": self.secondary, "reason": self.reason}

    def determine_responsibility(self, ctx: EventContext, primary: Party, secondary: list[Party], reason: str) -> None:
        """One primary responsible party (the root cause) and optional secondary ones, with the reason."""
        reason = _required("reason", reason)
        if primary in secondary:
            raise InvalidValue("secondary", f"{primary.value} is already the primary party")
        self._record(
            self.ResponsibilityDetermined,
            ctx,
            primary=primary.value,
            secondary=sorted({p.value for p in secondary}),
            reason=reason,
        )

    # --- ownership ----------------------------------------------------------------------------------------------

    class CaseAssigned(CaseAggregate.Event):
        team: str
        queue: str
        assignee: str | None
        tier: str
        rule: str | None
        supporting: list[str]
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.owner = Owner(
                team=self.team, queue=self.queue, assignee=self.assignee, tier=Tier(self.tier), since=self.timestamp
            )
            aggregate.supporting = sorted({*aggregate.supporting, *self.supporting})

    class CaseTransferred(CaseAggregate.Event):
        from_queue: str
        team: str
        queue: str
        assignee: str | None
        tier: str
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.owner = Owner(
                team=self.team, queue=self.queue, assignee=self.assignee, tier=Tier(self.tier), since=self.timestamp
            )

    def assign(
        self, ctx: EventContext, owner: Owner, reason: str, rule: str | None = None, supporting: list[str] = ()
    ) -> None:
        """Give the case to ``owner``: by a rule at triage, or by hand (a different member, or another team's
        queue, which is a transfer) with a reason."""
        reason = _required("reason", reason)
        self._must_be_open()
        if self.owner is not None and (owner.queue, owner.assignee) == (self.owner.queue, self.owner.assignee):
            raise InvalidTransition(f"the case is already with {owner.assignee or owner.queue}")
        if self.owner is not None and owner.queue != self.owner.queue:
            self._record(self.CaseTransferred, ctx, from_queue=self.owner.queue, reason=reason, **_owner_fields(owner))
            return
        self._record(
            self.CaseAssigned, ctx, rule=rule, supporting=sorted(supporting), reason=reason, **_owner_fields(owner)
        )

    class SupportingTeamAdded(CaseAggregate.Event):
        queue: str
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.supporting = sorted({*aggregate.supporting, self.queue})

    def add_supporting_team(self, ctx: EventContext, queue: str, reason: str) -> None:
        """Another team works on the case too (multi-department coordination); the lead stays."""
        reason = _required("reason", reason)
        self._must_be_open()
        if queue in self.supporting or (self.owner is not None and self.owner.queue == queue):
            raise InvalidTransition(f"{queue} already works on the case")
        self._record(self.SupportingTeamAdded, ctx, queue=queue, reason=reason)

    class MerchantChased(CaseAggregate.Event):
        merchant_id: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.merchant_chased = True

    def chase_merchant(self, ctx: EventContext, policy: ClockPolicy) -> None:
        """The mall asks its merchant to respond, on the merchant's own deadline."""
        merchant = self.intake.merchant_id
        if merchant is None:
            raise InvalidTransition("the case is not about a mall merchant")
        if self.merchant_chased and self._open(ClockName.MERCHANT_RESPONSE):
            raise InvalidTransition(f"merchant {merchant} is already being chased")
        self._record(self.MerchantChased, ctx, merchant_id=merchant)
        clock = policy.start(ClockName.MERCHANT_RESPONSE, Severity(self.severity), ctx.recorded_at)
        self._clock(self.ClockStarted, ctx, clock, reason="merchant chased")

    class MerchantResponded(CaseAggregate.Event):
        note: str

    def record_merchant_response(self, ctx: EventContext, note: str, calendar: BusinessCalendar) -> None:
        """The merchant answered; its response clock stops."""
        note = _required("note", note)
        if not self._open(ClockName.MERCHANT_RESPONSE):
            raise InvalidTransition("no merchant response is awaited")
        self._record(self.MerchantResponded, ctx, note=note)
        self.stop_clock(ctx, ClockName.MERCHANT_RESPONSE, "merchant responded", calendar)

    class CaseEscalated(CaseAggregate.Event):
        from_tier: str
        team: str
        queue: str
        assignee: str | None
        tier: str
        clock: str | None
        reason: str
        notify: list[str]

        def apply(self, aggregate: Triage) -> None:
            aggregate.owner = Owner(
                team=self.team, queue=self.queue, assignee=self.assignee, tier=Tier(self.tier), since=self.timestamp
            )
            aggregate.flags.add("escalated")

    def escalate(self, ctx: EventContext, owner: Owner, clock: ClockName | None, reason: str | None = None) -> None:
        """Move the case one tier up after ``clock`` breached (or for ``reason``, e.g. the customer refused twice);
        the new and the previous owner are notified."""
        if clock is None and not reason:
            raise InvalidValue("reason", "an escalation without a breached clock needs a reason")
        if self.owner is None or owner.tier is not self.owner.tier.above():
            raise InvalidTransition(f"escalation goes one tier up from {self.owner.tier if self.owner else 'nobody'}")
        notify = sorted({a for a in (owner.assignee, self.owner.assignee) if a})
        self._record(
            self.CaseEscalated,
            ctx,
            from_tier=self.owner.tier.value,
            clock=clock.value if clock else None,
            reason=reason or f"{clock.value if clock else ''} breached",
            notify=notify,
            **_owner_fields(owner),
        )

    # --- clocks -------------------------------------------------------------------------------------------------

    class ClockStarted(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate._set_clock(self.clock, replanned=True)

    class ClockPaused(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate._set_clock(self.clock)

    class ClockResumed(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate._set_clock(self.clock)

    class ClockReplanned(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate._set_clock(self.clock, replanned=True)

    class ClockStopped(CaseAggregate.Event):
        clock: dict[str, Any]
        reason: str
        met: bool

        def apply(self, aggregate: Triage) -> None:
            aggregate._set_clock(self.clock)

    def start_clocks(self, ctx: EventContext, policy: ClockPolicy, regulator_due_at: datetime | None) -> None:
        """At triage: acknowledge and resolve run from receipt; a 12315 transfer adds the regulator's deadline."""
        received, severity = self.intake.received_at, Severity(self.severity)
        for name in (ClockName.ACKNOWLEDGE, ClockName.RESOLVE):
            self._clock(self.ClockStarted, ctx, policy.start(name, severity, received), reason="received")
        if regulator_due_at is not None and regulator_due_at > received:
            self._clock(self.ClockStarted, ctx, policy.start_regulator(received, regulator_due_at), reason="12315")

    def start_clock(
        self, ctx: EventContext, name: ClockName, reason: str, policy: ClockPolicy, at: datetime | None = None
    ) -> None:
        """Start clock ``name`` at ``at`` (default now) for the case's severity (again, if it ran before), e.g. a
        return's review, or the refund from when the goods came back."""
        start = policy.start(name, Severity(self.severity), at or ctx.recorded_at)
        self._clock(self.ClockStarted, ctx, start, reason=reason)

    def stop_clock(self, ctx: EventContext, name: ClockName, reason: str, calendar: BusinessCalendar) -> bool:
        """The step ``name`` waits for happened: stop it, recording whether it was met. False if it was not open."""
        if not self._open(name):
            return False
        stopped = self.clocks[name].stop(ctx.recorded_at, calendar)
        self._clock(self.ClockStopped, ctx, stopped, reason=reason, met=stopped.met(calendar))
        return True

    class AwaitingCustomer(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.awaiting_customer = True

    class CustomerResponded(CaseAggregate.Event):
        def apply(self, aggregate: Triage) -> None:
            aggregate.awaiting_customer = False

    def await_customer(self, ctx: EventContext, reason: str, calendar: BusinessCalendar) -> None:
        """The case waits on the customer: every clock that pauses for them stops counting, keeping its time."""
        reason = _required("reason", reason)
        self._must_be_open()
        if self.awaiting_customer:
            raise InvalidTransition("the case is already waiting on the customer")
        self._record(self.AwaitingCustomer, ctx, reason=reason)
        for clock in list(self.clocks.values()):
            if clock.pausable and clock.running_since is not None and clock.stopped_at is None:
                self._clock(self.ClockPaused, ctx, clock.pause(ctx.recorded_at, calendar), reason=reason)

    def customer_responded(self, ctx: EventContext) -> None:
        """The customer answered: paused clocks count again from now."""
        if not self.awaiting_customer:
            raise InvalidTransition("the case is not waiting on the customer")
        self._record(self.CustomerResponded, ctx)
        for clock in list(self.clocks.values()):
            if clock.paused_since is not None:
                self._clock(self.ClockResumed, ctx, clock.resume(ctx.recorded_at), reason="customer responded")

    class ClockWarned(CaseAggregate.Event):
        clock: str
        threshold: str
        due_at: str | None

        def apply(self, aggregate: Triage) -> None:
            aggregate.signalled.add((ClockName(self.clock), TimerKind(f"warn_{self.threshold}")))

    class SlaBreached(CaseAggregate.Event):
        clock: str
        due_at: str | None

        def apply(self, aggregate: Triage) -> None:
            aggregate.signalled.add((ClockName(self.clock), TimerKind.BREACH))
            aggregate.flags.add("sla_breached")

    def fire(self, ctx: EventContext, name: ClockName, kind: TimerKind, calendar: BusinessCalendar) -> bool:
        """A timer fell due at ``ctx.recorded_at``: announce the warning or breach if the clock really reached it
        and it was not announced yet. A stale timer (clock paused, re-planned or stopped since) records nothing."""
        clock = self.clocks.get(name)
        if clock is None or (name, kind) in self.signalled:
            return False
        if clock.state(ctx.recorded_at, calendar) not in _REACHED[kind]:
            return False
        due = clock.due_at(calendar)
        due_at = due.isoformat() if due else None
        if kind is TimerKind.BREACH:
            self._record(self.SlaBreached, ctx, clock=name.value, due_at=due_at)
        else:
            self._record(
                self.ClockWarned, ctx, clock=name.value, threshold=kind.value.removeprefix("warn_"), due_at=due_at
            )
        return True

    def pending_timers(self, calendar: BusinessCalendar) -> list[tuple[ClockName, TimerKind, datetime]]:
        """Every warning and breach not yet announced on a running clock, with when it falls (or fell) due."""
        return [
            (timer.clock, timer.kind, timer.fires_at)
            for clock in self.clocks.values()
            for timer in clock.timers(calendar)
            if (timer.clock, timer.kind) not in self.signalled
        ]

    def next_due_at(self, calendar: BusinessCalendar) -> datetime | None:
        """The nearest due time of the running clocks (what work queues sort by)."""
        dues = [d for d in (c.due_at(calendar) for c in self.clocks.values()) if d is not None]
        return min(dues, default=None)

    # --- emergency protocol -------------------------------------------------------------------------------------

    class EmergencyDeclared(CaseAggregate.Event):
        reason: str
        crisis_queue: str
        notify: list[str]
        tasks: list[dict[str, Any]]

        def apply(self, aggregate: Triage) -> None:
            aggregate.flags.add("emergency")
            aggregate.emergency_tasks = {t["task"]: {**t, "done": False, "steps": 0} for t in self.tasks}

    def declare_emergency(
        self, ctx: EventContext, reason: str, crisis_queue: str, notify: list[str], tasks: list[dict[str, Any]]
    ) -> None:
        """Start the emergency protocol (突发事件应急预案): notify the crisis team; the checklist becomes tasks."""
        reason = _required("reason", reason)
        if "emergency" in self.flags:
            raise InvalidTransition("the emergency protocol is already running for this case")
        self._record(
            self.EmergencyDeclared, ctx, reason=reason, crisis_queue=crisis_queue, notify=sorted(notify), tasks=tasks
        )

    class EmergencyStepRecorded(CaseAggregate.Event):
        task: str
        note: str
        done: bool

        def apply(self, aggregate: Triage) -> None:
            task = aggregate.emergency_tasks[self.task]
            task["steps"] += 1
            task["done"] = task["done"] or self.done

    def record_emergency_step(self, ctx: EventContext, task: str, note: str, done: bool) -> None:
        """Record a step taken on an emergency task (every step is kept); ``done`` completes the task."""
        note = _required("note", note)
        if not self.emergency_tasks:
            raise InvalidTransition("no emergency was declared for this case")
        if task not in self.emergency_tasks:
            raise InvalidValue("task", f"unknown task {task!r}", allowed=sorted(self.emergency_tasks))
        if self.emergency_tasks[task]["done"]:
            raise InvalidTransition(f"task {task} is already done")
        self._record(self.EmergencyStepRecorded, ctx, task=task, note=note, done=done)

    # --- the end of routing's part ------------------------------------------------------------------------------

    class TriageClosed(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.state = CaseState.WITHDRAWN if self.reason == "withdrawn" else CaseState.CLOSED

    def close_withdrawn(self, ctx: EventContext, calendar: BusinessCalendar) -> None:
        """The customer withdrew the complaint: every clock stops."""
        if self.state is CaseState.WITHDRAWN:
            return
        self._record(self.TriageClosed, ctx, reason="withdrawn")
        self._stop_open_clocks(ctx, "withdrawn", calendar)

    def close(self, ctx: EventContext, reason: str, calendar: BusinessCalendar) -> None:
        """The case was closed after its follow-up: every clock stops and it leaves the work queues."""
        if self.state is not CaseState.OPEN:
            return
        self._record(self.TriageClosed, ctx, reason=reason)
        self._stop_open_clocks(ctx, reason, calendar)

    class TriageReopened(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Triage) -> None:
            aggregate.state = CaseState.OPEN

    def reopen(self, ctx: EventContext, reason: str, policy: ClockPolicy, calendar: BusinessCalendar) -> None:
        """The case goes back to its owner (a low follow-up score, or a manager): the follow-up stops and the
        resolve clock starts again."""
        if self.state not in (CaseState.OPEN, CaseState.CLOSED):
            raise InvalidTransition(f"a {self.state.value} case cannot be reopened")
        self._record(self.TriageReopened, ctx, reason=_required("reason", reason))
        self.stop_clock(ctx, ClockName.FOLLOW_UP, "reopened", calendar)
        self.start_clock(ctx, ClockName.RESOLVE, "reopened", policy)

    # --- helpers ------------------------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state is CaseState.OPEN

    def _must_be_open(self) -> None:
        if self.state is not CaseState.OPEN:
            raise InvalidTransition(f"the case is {self.state.value}")

    def _open(self, name: ClockName) -> bool:
        clock = self.clocks.get(name)
        return clock is not None and clock.stopped_at is None

    def _stop_open_clocks(self, ctx: EventContext, reason: str, calendar: BusinessCalendar) -> None:
        for name in list(self.clocks):
            self.stop_clock(ctx, name, reason, calendar)

    def _clock(self, event_class: type[Any], ctx: EventContext, clock: Clock, **payload: Any) -> None:
        self._record(event_class, ctx, clock=clock.model_dump(mode="json"), **payload)

    def _set_clock(self, data: dict[str, Any], replanned: bool = False) -> None:
        clock = Clock.model_validate(data)
        self.clocks[clock.name] = clock
        if replanned:
            self.signalled = {s for s in self.signalled if s[0] is not clock.name}


def _owner_fields(owner: Owner) -> dict[str, Any]:
    return {"team": owner.team, "queue": owner.queue, "assignee": owner.assignee, "tier": owner.tier.value}
