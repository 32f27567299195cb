"""Routing's HTTP API: a case's triage and the decisions staff take on it, its clocks, and the work queues."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.routing.application import Routing
from services.routing.domain import Party, Triage
from shared.access.guard import CurrentAccess, CurrentPrincipal
from shared.bounds import Offset, limit_query
from shared.http import RequestActor, service_part
from shared.textinput import line, text
from shared.vocabulary import Category, Severity

RoutingApp = Annotated[Routing, Depends(service_part("routing"))]
router = APIRouter(tags=["routing"])
Reason = Annotated[text(2000, min_length=1), Field(description="why (kept on the event)")]


class CategoryOverride(BaseModel):
    category: Category
    subcategory: line(64) | None = None
    reason: Reason


class SeverityChange(BaseModel):
    severity: Severity
    reason: Reason


class ValidityDecision(BaseModel):
    well_founded: bool
    reason: text(2000) | None = Field(default=None, description="required when not well-founded")


class Why(BaseModel):
    reason: Reason


class Responsibility(BaseModel):
    primary: Party
    secondary: list[Party] = []
    reason: Reason


class Assignment(BaseModel):
    team: line(64, min_length=1)
    assignee: line(64) | None = Field(default=None, description="a member of the team; omitted: least busy")
    reason: Reason


class SupportingTeam(BaseModel):
    team: line(64, min_length=1)
    reason: Reason


class Note(BaseModel):
    note: text(2000, min_length=1)


class EmergencyDeclaration(BaseModel):
    reason: Reason


class EmergencyStep(BaseModel):
    note: text(2000, min_length=1)
    done: bool = False


class ResponsibleParties(BaseModel):
    """Who is responsible: the primary party, any secondary ones, and why."""

    primary: str
    secondary: list[str]
    reason: str


class CaseOwner(BaseModel):
    """The team's queue that owns the case, its member (None if the team has nobody), the tier, since when."""

    team: str
    queue: str
    assignee: str | None
    tier: str
    since: str | None


class EmergencyTask(BaseModel):
    """One task of the emergency checklist: its owner and deadline, whether done, how many steps were recorded."""

    task: str
    title: str
    queue: str
    owner: str | None
    due_at: str
    done: bool
    steps: int


class TriagePublic(BaseModel):
    """What routing decided about a case, with the evidence and reasons behind it."""

    case_id: str
    case_number: str
    state: str
    category: str
    subcategory: str | None
    confidence: str = Field(description="the classifier's confidence, a decimal as text, e.g. \"0.85\"")
    matched_terms: list[str]
    severity: str
    severity_reasons: list[str]
    well_founded: bool | None
    responsibility: ResponsibleParties | None
    owner: CaseOwner | None
    supporting: list[str]
    awaiting_customer: bool
    flags: list[str]
    emergency_tasks: list[EmergencyTask]


class CaseClock(BaseModel):
    """One clock (时效) of a case at the time of asking; instants are ISO 8601 text."""

    clock: str
    mode: str
    state: str
    started_at: str
    due_at: str | None
    due_at_local: str | None = Field(description="the due time in the chain's time zone")
    budget_seconds: int
    elapsed_seconds: int
    remaining_seconds: int
    paused_seconds: int
    stopped_at: str | None
    met: bool | None = Field(description="whether it stopped in time; None while it runs")


class CaseClocks(BaseModel):
    case_id: str
    clocks: list[CaseClock]


class QueuedCase(BaseModel):
    """A case in a work queue: who leads or supports it, its state and nearest deadline."""

    case_id: str
    case_number: str
    queue: str
    role: str = Field(description="lead or supporting")
    team: str
    assignee: str | None
    tier: str | None
    severity: str
    category: str
    state: str
    flags: list[str]
    next_due_at: str | None
    assigned_at: str | None


class TeamQueue(BaseModel):
    queue: str
    state: str
    total: int
    offset: int
    cases: list[QueuedCase]


class PersonQueue(BaseModel):
    assignee: str
    state: str
    total: int
    offset: int
    cases: list[QueuedCase]


def triage_view(triage: Triage) -> dict[str, Any]:
    """What routing decided about a case, with the evidence and reasons behind it."""
    owner = triage.owner
    return {
        "case_id": str(triage.case_id),
        "case_number": triage.intake.case_number,
        "state": triage.state.value,
        "category": triage.category,
        "subcategory": triage.subcategory,
        "confidence": str(triage.confidence),
        "matched_terms": triage.matched_terms,
        "severity": triage.severity,
        "severity_reasons": triage.severity_reasons,
        "well_founded": triage.well_founded,
        "responsibility": triage.responsibility,
        "owner": None if owner is None else owner.model_dump(mode="json"),
        "supporting": triage.supporting,
        "awaiting_customer": triage.awaiting_customer,
        "flags": sorted(triage.flags),
        "emergency_tasks": list(triage.emergency_tasks.values()),
    }


@router.get("/api/routing/cases/{case_id}/triage", response_model=TriagePublic)
def get_triage(case_id: UUID, routing: RoutingApp) -> dict[str, Any]:
    """Category and sub-category, confidence, matched terms, severity and reasons, owner, flags (404 until triaged)."""
    return triage_view(routing.get_triage(case_id))


@router.post("/api/routing/cases/{case_id}/category", response_model=TriagePublic)
def override_category(
    case_id: UUID, body: CategoryOverride, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Correct the category with a reason (409 if it is already that)."""
    return triage_view(routing.override_category(case_id, actor, body.category, body.subcategory, body.reason))


@router.post("/api/routing/cases/{case_id}/severity", response_model=TriagePublic)
def change_severity(case_id: UUID, body: SeverityChange, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Raise the severity, or lower it as a manager (403 otherwise); open clocks are re-planned."""
    return triage_view(routing.change_severity(case_id, actor, body.severity, body.reason))


@router.post("/api/routing/cases/{case_id}/validity", response_model=TriagePublic)
def decide_validity(case_id: UUID, body: ValidityDecision, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Decide whether the complaint is well-founded; not well-founded (with a reason) closes it as rejected."""
    return triage_view(routing.decide_validity(case_id, actor, body.well_founded, body.reason))


@router.post("/api/routing/cases/{case_id}/appeal", response_model=TriagePublic)
def appeal(case_id: UUID, body: Why, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Record the customer's appeal against a rejection: the case reopens (409 unless rejected)."""
    return triage_view(routing.appeal(case_id, actor, body.reason))


@router.post("/api/routing/cases/{case_id}/responsibility", response_model=TriagePublic)
def determine_responsibility(
    case_id: UUID, body: Responsibility, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Who is responsible: store, merchant, supplier, logistics or customer misunderstanding."""
    return triage_view(routing.determine_responsibility(case_id, actor, body.primary, body.secondary, body.reason))


@router.post("/api/routing/cases/{case_id}/assignment", response_model=TriagePublic)
def assign_case(case_id: UUID, body: Assignment, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Assign to a member of a team, or transfer to another team (its least busy member without an assignee)."""
    return triage_view(routing.assign_case(case_id, actor, body.team, body.assignee, body.reason))


@router.post("/api/routing/cases/{case_id}/supporting-teams", response_model=TriagePublic)
def add_supporting_team(
    case_id: UUID, body: SupportingTeam, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Bring another team in beside the lead team."""
    return triage_view(routing.add_supporting_team(case_id, actor, body.team, body.reason))


@router.post("/api/routing/cases/{case_id}/merchant-response", response_model=TriagePublic)
def record_merchant_response(case_id: UUID, body: Note, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """The mall merchant answered; its response clock stops (409 if none is awaited)."""
    return triage_view(routing.record_merchant_response(case_id, actor, body.note))


@router.post("/api/routing/cases/{case_id}/awaiting-customer", response_model=TriagePublic)
def await_customer(case_id: UUID, body: Why, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """The case waits on the customer: every clock that pauses for them stops counting."""
    return triage_view(routing.await_customer(case_id, actor, body.reason))


@router.post("/api/routing/cases/{case_id}/customer-response", response_model=TriagePublic)
def customer_responded(case_id: UUID, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """The customer answered: paused clocks resume with the time they had left."""
    return triage_view(routing.customer_responded(case_id, actor))


@router.post("/api/routing/cases/{case_id}/emergency", response_model=TriagePublic)
def declare_emergency(
    case_id: UUID, body: EmergencyDeclaration, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Start the emergency protocol by hand (critical cases start it at triage)."""
    return triage_view(routing.declare_emergency(case_id, actor, body.reason))


@router.post("/api/routing/cases/{case_id}/emergency/tasks/{task}", response_model=TriagePublic)
def record_emergency_step(
    case_id: UUID, task: str, body: EmergencyStep, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Record a step on an emergency task; ``done`` completes it."""
    return triage_view(routing.record_emergency_step(case_id, actor, task, body.note, body.done))


@router.get("/api/cases/{case_id}/clocks", tags=["cases"], response_model=CaseClocks)
def get_clocks(case_id: UUID, routing: RoutingApp) -> dict[str, Any]:
    """Every clock of the case: due time (UTC and the chain's zone), elapsed, remaining, paused time and state."""
    return {"case_id": str(case_id), "clocks": routing.clocks(case_id)}


Page = limit_query(500)
QueueState = Annotated[str, Query(pattern="^(open|rejected|withdrawn|closed)$")]


@dataclass
class QueuePage:
    """Which cases of a queue and which page of them (query parameters)."""

    state: QueueState = "open"
    limit: Page = 50
    offset: Offset = 0


PageOf = Annotated[QueuePage, Depends()]


@router.get("/api/routing/queues/{queue}", response_model=TeamQueue)
def team_queue(
    queue: str, routing: RoutingApp, principal: CurrentPrincipal, access: CurrentAccess, page: PageOf
) -> dict[str, Any]:
    """A team's work queue (e.g. ``store_service@SH-001``, ``hq_desk``), nearest deadline first; 404 outside
    the caller's reach."""
    access.require_queue(principal, queue)
    total, cases = routing.tables.work_queue(queue=queue, **asdict(page))
    return {"queue": queue, "state": page.state, "total": total, "offset": page.offset, "cases": cases}


@router.get("/api/routing/people/{staff_id}/queue", response_model=PersonQueue)
def person_queue(
    staff_id: str, routing: RoutingApp, principal: CurrentPrincipal, access: CurrentAccess, page: PageOf
) -> dict[str, Any]:
    """The cases a person leads, nearest deadline first: one's own, or a person's within the caller's reach."""
    access.require_person(principal, staff_id)
    total, cases = routing.tables.work_queue(assignee=staff_id, **asdict(page))
    return {"assignee": staff_id, "state": page.state, "total": total, "offset": page.offset, "cases": cases}
