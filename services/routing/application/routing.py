"""Routing's Application: triages received complaints, owns the case's assignment and clocks, fires due timers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError

from services.routing.application.tables import RoutingTables
from services.routing.calendar import BusinessCalendar, CalendarConfig
from services.routing.clocks import ClockName, ClockPolicy, TimerKind
from services.routing.domain import (
    CaseFacts,
    Intake,
    Load,
    Owner,
    Party,
    RoutingConfig,
    SeverityRules,
    Taxonomy,
    Triage,
    assess_severity,
    choose_member,
    classify,
    members_of,
    queue_of,
)
from shared.access.policy import CaseScope
from shared.clock import Clock
from shared.configfiles import load_config
from shared.contracts import (
    AcknowledgementPrepared,
    Actor,
    CaseClosed,
    CaseReopened,
    ComplaintReceived,
    ComplaintWithdrawn,
    CustomerRefused,
    EventMessage,
)
from shared.contracts.returns import ReturnGoodsReceived, ReturnInspected
from shared.errors import InvalidValue, NotFound
from shared.eventstore import EventContext, ServiceApplication, aggregate_id
from shared.logs import safe_error
from shared.masterdata import MasterData
from shared.settings import Settings
from shared.vocabulary import Category, Severity

log = structlog.get_logger()


class Routing(ServiceApplication):
    """Classifies complaints, assesses severity, assigns owners and keeps every case clock."""

    name = "routing"
    reactions = {
        "ComplaintReceived": "triage_complaint",
        "AcknowledgementPrepared": "stop_acknowledge_clock",
        "ComplaintWithdrawn": "close_withdrawn",
        "ProposalOffered": "wait_on_customer",
        "CustomerAccepted": "customer_answered",
        "CustomerCountered": "customer_answered",
        "CustomerRefused": "customer_answered",
        "CaseResolved": "start_follow_up",
        "CaseClosed": "close_case",
        "CaseReopened": "reopen_case",
        "ReturnRequested": "start_return_review",
        "ReturnReviewed": "stop_return_review",
        "ReturnGoodsReceived": "start_refund_clock",
        "ReturnInspected": "stop_refund_clock",
        "ReturnRefunded": "stop_refund_clock",
        "ExchangeShipped": "stop_refund_clock",
        "RepairCompleted": "stop_refund_clock",
    }

    def __init__(self, settings: Settings, clock: Clock, master_data: MasterData | None = None) -> None:
        super().__init__(settings, clock)
        config = settings.config_dir
        self.taxonomy = load_config(config / "taxonomy.yaml", Taxonomy)
        self.severity_rules = load_config(config / "severity.yaml", SeverityRules)
        self.clock_policy = load_config(config / "clocks.yaml", ClockPolicy)
        self.calendar = BusinessCalendar.from_config(load_config(config / "calendar.yaml", CalendarConfig))
        self.routing = load_config(config / "routing.yaml", RoutingConfig)
        self.master = master_data or MasterData.load(settings.master_data_dir)
        self.tables = RoutingTables(self.side)

    # --- policies ---------------------------------------------------------------------------------------------

    def triage_complaint(self, message: EventMessage, complaint: ComplaintReceived) -> Iterator[Any]:
        """Policy: classify, assess severity, start the clocks, assign by the rules; critical starts the emergency."""
        text = " ".join(filter(None, [complaint.description, complaint.demand]))
        classification = classify(text, self.taxonomy)
        severity = assess_severity(text, complaint.channel.value, complaint.amount_paid, self.severity_rules)
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        store = self.master.stores.get(complaint.store_id)
        intake = Intake(
            case_number=complaint.case_number,
            store_id=complaint.store_id,
            region=store.region if store else None,
            channel=complaint.channel.value,
            merchant_id=complaint.merchant_id,
            language=complaint.language,
            received_at=message.envelope.recorded_at,
        )
        triage = Triage.triage(aggregate_id(ctx.case_id, self.name), ctx, intake, classification, severity)
        regulator_due = complaint.channel_details.get("regulator_due_at")
        triage.start_clocks(ctx, self.clock_policy, datetime.fromisoformat(regulator_due) if regulator_due else None)
        facts = CaseFacts(
            store=complaint.store_id,
            region=intake.region,
            business=store.business if store else None,
            store_kind=store.kind if store else None,
            category=classification.category,
            subcategory=classification.subcategory,
            severity=severity.severity,
            has_merchant=complaint.merchant_id is not None,
        )
        rule = self.routing.rule_for(facts)
        owner = self._owner(triage, rule.lead, rule.skill)
        supporting = [self._queue(triage, team) for team in rule.supporting]
        triage.assign(ctx, owner, reason=f"rule {rule.name}", rule=rule.name, supporting=supporting)
        if complaint.merchant_id is not None:
            triage.chase_merchant(ctx, self.clock_policy)
        if severity.severity is Severity.CRITICAL:
            self._declare_emergency(triage, ctx, "critical: " + "; ".join(severity.reasons))
        yield triage
        yield from self.tables.writes_for(triage, self.calendar)

    def stop_acknowledge_clock(self, message: EventMessage, _: AcknowledgementPrepared) -> Iterator[Any]:
        """Policy: the customer was acknowledged, so the acknowledge clock stops (met or not)."""
        yield from self._react(
            message, lambda t, ctx: t.stop_clock(ctx, ClockName.ACKNOWLEDGE, "acknowledged", self.calendar)
        )

    def close_withdrawn(self, message: EventMessage, _: ComplaintWithdrawn) -> Iterator[Any]:
        """Policy: a withdrawn complaint's clocks stop and it leaves the work queues."""
        yield from self._react(message, lambda t, ctx: t.close_withdrawn(ctx, self.calendar))

    def wait_on_customer(self, message: EventMessage, _: Any) -> Iterator[Any]:
        """Policy: a proposal was put to the customer, so the clocks that wait for them pause."""

        def react(triage: Triage, ctx: EventContext) -> None:
            if triage.is_open and not triage.awaiting_customer:
                triage.await_customer(ctx, "proposal offered", self.calendar)

        yield from self._react(message, react)

    def customer_answered(self, message: EventMessage, answer: Any) -> Iterator[Any]:
        """Policy: the customer answered the proposal: clocks resume; a second refusal escalates one tier."""

        def react(triage: Triage, ctx: EventContext) -> None:
            if triage.awaiting_customer:
                triage.customer_responded(ctx)
            if isinstance(answer, CustomerRefused) and answer.refusals >= 2:
                self._escalate(triage, ctx, None, f"the customer refused {answer.refusals} proposals")

        yield from self._react(message, react)

    def start_follow_up(self, message: EventMessage, _: Any) -> Iterator[Any]:
        """Policy: the case is resolved: its resolve clock stops (met or not), the follow-up clock starts."""

        def react(triage: Triage, ctx: EventContext) -> None:
            triage.stop_clock(ctx, ClockName.RESOLVE, "resolved", self.calendar)
            triage.start_clock(ctx, ClockName.FOLLOW_UP, "resolved", self.clock_policy)

        yield from self._react(message, react)

    def close_case(self, message: EventMessage, closed: CaseClosed) -> Iterator[Any]:
        """Policy: the case is closed after its follow-up; its clocks stop and it leaves the queues."""
        yield from self._react(message, lambda t, ctx: t.close(ctx, f"closed: {closed.outcome}", self.calendar))

    def reopen_case(self, message: EventMessage, reopened: CaseReopened) -> Iterator[Any]:
        """Policy: a reopened case goes back to its owner with its resolve clock started again."""
        yield from self._react(message, lambda t, ctx: t.reopen(ctx, reopened.reason, self.clock_policy, self.calendar))

    def start_return_review(self, message: EventMessage, _: Any) -> Iterator[Any]:
        """Policy: a return or exchange request must be reviewed within its clock (24 h by default)."""
        yield from self._react(
            message, lambda t, ctx: t.start_clock(ctx, ClockName.RETURN_REVIEW, "return requested", self.clock_policy)
        )

    def stop_return_review(self, message: EventMessage, _: Any) -> Iterator[Any]:
        """Policy: the request was reviewed."""
        yield from self._react(
            message, lambda t, ctx: t.stop_clock(ctx, ClockName.RETURN_REVIEW, "return reviewed", self.calendar)
        )

    def start_refund_clock(self, message: EventMessage, goods: ReturnGoodsReceived) -> Iterator[Any]:
        """Policy: returned goods arrived; the refund (or exchange, repair) is due within 7 days of their receipt."""
        yield from self._react(
            message,
            lambda t, ctx: t.start_clock(ctx, ClockName.REFUND, "goods received", self.clock_policy, goods.received_at),
        )

    def stop_refund_clock(self, message: EventMessage, step: Any) -> Iterator[Any]:
        """Policy: the refund was paid, the exchange shipped or the repair completed, or the goods failed inspection."""
        if isinstance(step, ReturnInspected) and step.result != "failed":
            return
        yield from self._react(message, lambda t, ctx: t.stop_clock(ctx, ClockName.REFUND, message.type, self.calendar))

    def _react(self, message: EventMessage, react: Callable[[Triage, EventContext], Any]) -> Iterator[Any]:
        # A reaction on an existing triage: saved (with its timers and queue rows) only if it recorded something.
        triage = self._triage(message.envelope.case_id)
        react(triage, self.context(triage.case_id, Actor.system(self.name), cause=message))
        if triage.pending_events:
            yield triage
            yield from self.tables.writes_for(triage, self.calendar)

    # --- commands -----------------------------------------------------------------------------------------------

    def override_category(
        self, case_id: UUID, actor: Actor, category: Category, subcategory: str | None, reason: str
    ) -> Triage:
        """Staff correct the category (and sub-category), with a reason."""
        return self._command(case_id, actor, lambda t, ctx: t.override_category(ctx, category, subcategory, reason))

    def change_severity(self, case_id: UUID, actor: Actor, severity: Severity, reason: str) -> Triage:
        """Raise (anyone) or lower (a manager) the severity; clocks are re-planned, critical starts the emergency."""

        def decide(triage: Triage, ctx: EventContext) -> None:
            triage.change_severity(ctx, severity, reason, self.clock_policy, self.calendar)
            if severity is Severity.CRITICAL and "emergency" not in triage.flags:
                self._declare_emergency(triage, ctx, f"raised to critical: {reason}")

        return self._command(case_id, actor, decide)

    def decide_validity(self, case_id: UUID, actor: Actor, well_founded: bool, reason: str | None) -> Triage:
        """Decide whether the complaint is well-founded; not well-founded closes it as rejected."""
        return self._command(case_id, actor, lambda t, ctx: t.decide_validity(ctx, well_founded, reason, self.calendar))

    def appeal(self, case_id: UUID, actor: Actor, reason: str) -> Triage:
        """Record the customer's appeal against a rejection: the case reopens."""
        return self._command(case_id, actor, lambda t, ctx: t.appeal(ctx, reason, self.clock_policy))

    def determine_responsibility(
        self, case_id: UUID, actor: Actor, primary: Party, secondary: list[Party], reason: str
    ) -> Triage:
        """Record who is responsible: one primary party and optional secondary ones."""
        return self._command(case_id, actor, lambda t, ctx: t.determine_responsibility(ctx, primary, secondary, reason))

    def assign_case(self, case_id: UUID, actor: Actor, team: str, assignee: str | None, reason: str) -> Triage:
        """Assign by hand, or transfer to another team; without an assignee the team's least busy member."""
        self._known_team(team)

        def decide(triage: Triage, ctx: EventContext) -> None:
            triage.assign(ctx, self._owner(triage, team, chosen=assignee), reason)

        return self._command(case_id, actor, decide)

    def add_supporting_team(self, case_id: UUID, actor: Actor, team: str, reason: str) -> Triage:
        """Bring another team in to work on the case beside the lead team."""
        self._known_team(team)
        return self._command(case_id, actor, lambda t, ctx: t.add_supporting_team(ctx, self._queue(t, team), reason))

    def record_merchant_response(self, case_id: UUID, actor: Actor, note: str) -> Triage:
        """The mall merchant answered; its response clock stops."""
        return self._command(case_id, actor, lambda t, ctx: t.record_merchant_response(ctx, note, self.calendar))

    def await_customer(self, case_id: UUID, actor: Actor, reason: str) -> Triage:
        """The case now waits on the customer: clocks pause."""
        return self._command(case_id, actor, lambda t, ctx: t.await_customer(ctx, reason, self.calendar))

    def customer_responded(self, case_id: UUID, actor: Actor) -> Triage:
        """The customer answered: paused clocks resume."""
        return self._command(case_id, actor, lambda t, ctx: t.customer_responded(ctx))

    def declare_emergency(self, case_id: UUID, actor: Actor, reason: str) -> Triage:
        """Start the emergency protocol by hand (it starts by itself for critical cases)."""
        return self._command(case_id, actor, lambda t, ctx: self._declare_emergency(t, ctx, reason))

    def record_emergency_step(self, case_id: UUID, actor: Actor, task: str, note: str, done: bool) -> Triage:
        """Record a step on one of the emergency checklist's tasks."""
        return self._command(case_id, actor, lambda t, ctx: t.record_emergency_step(ctx, task, note, done))

    # --- reads --------------------------------------------------------------------------------------------------

    def clocks(self, case_id: UUID, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every clock of the case at ``now``: due time (UTC and the chain's zone), elapsed, paused, remaining, state."""
        triage = self._triage(case_id)
        now = now or self.clock.now()
        zone = self.calendar.zone
        views = []
        for clock in triage.clocks.values():
            due = clock.due_at(self.calendar)
            views.append(
                {
                    "clock": clock.name.value,
                    "mode": clock.mode.value,
                    "state": clock.state(now, self.calendar).value,
                    "started_at": clock.started_at.isoformat(),
                    "due_at": due.isoformat() if due else None,
                    "due_at_local": due.astimezone(zone).isoformat() if due else None,
                    "budget_seconds": int(clock.budget(self.calendar).total_seconds()),
                    "elapsed_seconds": int(clock.elapsed(now, self.calendar).total_seconds()),
                    "remaining_seconds": int(clock.remaining(now, self.calendar).total_seconds()),
                    "paused_seconds": int(clock.paused(now).total_seconds()),
                    "stopped_at": clock.stopped_at.isoformat() if clock.stopped_at else None,
                    "met": clock.met(self.calendar) if clock.stopped_at else None,
                }
            )
        return views

    def case_scope(self, case_id: UUID) -> CaseScope | None:
        """Where the case belongs (its store and merchant), for the access check; None before its triage."""
        found = self.find(aggregate_id(case_id, self.name))
        return CaseScope(found.store_id, found.merchant_id) if isinstance(found, Triage) else None

    def get_triage(self, case_id: UUID) -> Triage:
        """The case's triage (404 until routing has triaged it)."""
        return self._triage(case_id)

    # --- timers -------------------------------------------------------------------------------------------------

    def fire_due_timers(self, limit: int = 2000, batch: int = 200) -> int:
        """Fire every timer due now (at most ``limit``): warnings, breaches and the escalations they cause.

        Cases are saved ``batch`` at a time, each save rewriting their timers, so a crash leaves the unfired ones
        due; a case changed meanwhile by a command is retried alone. Returns how many events were recorded.
        """
        now = self.clock.now()
        due: dict[str, list[tuple[ClockName, TimerKind]]] = {}
        for row in self.tables.due(now, limit):
            due.setdefault(row["case_id"], []).append((ClockName(row["clock"]), TimerKind(row["kind"])))
        cases = list(due.items())
        recorded = 0
        for start in range(0, len(cases), batch):
            chunk = cases[start : start + batch]
            try:
                recorded += self._fire(chunk)
            except IntegrityError:
                for one in chunk:
                    try:
                        recorded += self._fire([one])
                    except IntegrityError as error:
                        log.warning("timers.conflict", case_id=one[0], error=safe_error(error))
        return recorded

    def _fire(self, cases: list[tuple[str, list[tuple[ClockName, TimerKind]]]]) -> int:
        with self.unit_of_work():
            triages, writes, recorded = [], [], 0
            for case_id, timers in cases:
                triage = self._triage(UUID(case_id))
                ctx = self.context(triage.case_id, Actor.system(self.name))
                before = len(triage.pending_events)
                for clock, kind in timers:
                    if triage.fire(ctx, clock, kind, self.calendar) and kind is TimerKind.BREACH:
                        self._escalate(triage, ctx, clock, None)
                recorded += len(triage.pending_events) - before
                triages.append(triage)
                writes += self.tables.writes_for(triage, self.calendar)
            self.save(*triages, side_writes=writes)
            return recorded

    def _escalate(self, triage: Triage, ctx: EventContext, clock: ClockName | None, reason: str | None) -> None:
        if not triage.is_open or triage.owner is None:
            return
        tier = triage.owner.tier.above()
        if tier is None:
            return  # already at HQ: the breach (or refusal) itself is recorded
        triage.escalate(ctx, self._owner(triage, self.routing.escalation[tier]), clock, reason)

    # --- helpers ------------------------------------------------------------------------------------------------

    def _triage(self, case_id: UUID) -> Triage:
        triage = self.find(aggregate_id(case_id, self.name))
        if not isinstance(triage, Triage):
            raise NotFound(f"routing has not triaged case {case_id}")
        return triage

    def _command(self, case_id: UUID, actor: Actor, decide: Callable[[Triage, EventContext], None]) -> Triage:
        # Load, decide, save with the case's timers and queue rows; a concurrent save makes us decide again.
        def attempt() -> Triage:
            with self.unit_of_work():
                triage = self._triage(case_id)
                decide(triage, self.context(case_id, actor))
                self.save(triage, side_writes=self.tables.writes_for(triage, self.calendar))
                return triage

        return self.retrying(attempt)

    def _known_team(self, team: str) -> None:
        if team not in {t.id for t in self.routing.teams}:
            raise InvalidValue("team", f"unknown team {team!r}", allowed=sorted(t.id for t in self.routing.teams))

    def _queue(self, triage: Triage, team_id: str) -> str:
        return queue_of(self.routing.team(team_id), triage.intake.store_id, triage.intake.region)

    def _owner(
        self, triage: Triage, team_id: str, skill: str | None = None, chosen: str | None = None, reserve: bool = True
    ) -> Owner:
        """The owner in ``team_id``'s queue for this case: ``chosen`` if a member, else the least busy member.

        ``reserve`` counts the case against the member until the save commits (not for emergency tasks)."""
        team = self.routing.team(team_id)
        store, region = triage.intake.store_id, triage.intake.region
        members = [
            m.staff_id for m in members_of(team, store, region, self.master.staff.values(), self.routing.skills, skill)
        ]
        queue = queue_of(team, store, region)
        if chosen is not None and chosen not in members:
            raise InvalidValue("assignee", f"{chosen!r} does not work queue {queue}", allowed=sorted(members))
        # Assignments of this unit of work not committed yet count too, so one batch does not give every case to the
        # same member.
        pending: dict[str, Load] = getattr(self.unit, "pending", {})
        loads = self.tables.loads(members)
        for member, extra in pending.items():
            if member in members:
                base = loads.get(member, Load())
                loads[member] = Load(
                    open_cases=base.open_cases + extra.open_cases, last_assigned_at=extra.last_assigned_at
                )
        assignee = chosen or choose_member(members, loads)
        if assignee is not None and reserve:
            before = pending.get(assignee, Load())
            pending[assignee] = Load(open_cases=before.open_cases + 1, last_assigned_at=self.clock.now())
            self.unit.pending = pending
        return Owner(team=team.id, queue=queue, assignee=assignee, tier=team.tier)

    def _declare_emergency(self, triage: Triage, ctx: EventContext, reason: str) -> None:
        protocol = self.routing.emergency
        crisis = self.routing.team(protocol.crisis_team)
        store, region = triage.intake.store_id, triage.intake.region
        notify = [
            m.staff_id for m in members_of(crisis, store, region, self.master.staff.values(), self.routing.skills)
        ]
        tasks = []
        for item in protocol.checklist:
            owner = self._owner(triage, item.team, reserve=False)
            tasks.append(
                {
                    "task": item.task,
                    "title": item.title,
                    "queue": owner.queue,
                    "owner": owner.assignee,
                    "due_at": (ctx.recorded_at + item.due_in).isoformat(),
                }
            )
        triage.declare_emergency(ctx, reason, queue_of(crisis, store, region), notify, tasks)
