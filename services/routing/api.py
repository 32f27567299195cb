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


@router.get("/api/routing/cases/{case_id}/triage")
def get_triage(case_id: UUID, routing: RoutingApp) -> dict[str, Any]:
    """Category and sub-category, confidence, matched terms, severity and reasons, owner, flags (404 until triaged)."""
    return triage_view(routing.get_triage(case_id))


@router.post("/api/routing/cases/{case_id}/category")
def override_category(
    case_id: UUID, body: CategoryOverride, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Correct the category with a reason (409 if it is already that)."""
    return triage_view(routing.override_category(case_id, actor, body.category, body.subcategory, body.reason))


@router.post("/api/routing/cases/{case_id}/severity")
def change_severity(case_id: UUID, body: SeverityChange, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Raise the severity, or lower it as a manager (403 otherwise); open clocks are re-planned."""
    return triage_view(routing.change_severity(case_id, actor, body.severity, body.reason))


@router.post("/api/routing/cases/{case_id}/validity")
def decide_validity(case_id: UUID, body: ValidityDecision, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Decide whether the complaint is well-founded; not well-founded (with a reason) closes it as rejected."""
    return triage_view(routing.decide_validity(case_id, actor, body.well_founded, body.reason))


@router.post("/api/routing/cases/{case_id}/appeal")
def appeal(case_id: UUID, body: Why, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Record the customer's appeal against a rejection: the case reopens (409 unless rejected)."""
    return triage_view(routing.appeal(case_id, actor, body.reason))


@router.post("/api/routing/cases/{case_id}/responsibility")
def determine_responsibility(
    case_id: UUID, body: Responsibility, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Who is responsible: store, merchant, supplier, logistics or customer misunderstanding."""
    return triage_view(routing.determine_responsibility(case_id, actor, body.primary, body.secondary, body.reason))


@router.post("/api/routing/cases/{case_id}/assignment")
def assign_case(case_id: UUID, body: Assignment, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """Assign to a member of a team, or transfer to another team (its least busy member without an assignee)."""
    return triage_view(routing.assign_case(case_id, actor, body.team, body.assignee, body.reason))


@router.post("/api/routing/cases/{case_id}/supporting-teams")
def add_supporting_team(
    case_id: UUID, body: SupportingTeam, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Bring another team in beside the lead team."""
    return triage_view(routing.add_supporting_team(case_id, actor, body.team, body.reason))


@router.post("/api/routing/cases/{case_id}/merchant-response")
def record_merchant_response(case_id: UUID, body: Note, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """The mall merchant answered; its response clock stops (409 if none is awaited)."""
    return triage_view(routing.record_merchant_response(case_id, actor, body.note))


@router.post("/api/routing/cases/{case_id}/awaiting-customer")
def await_customer(case_id: UUID, body: Why, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """The case waits on the customer: every clock that pauses for them stops counting."""
    return triage_view(routing.await_customer(case_id, actor, body.reason))


@router.post("/api/routing/cases/{case_id}/customer-response")
def customer_responded(case_id: UUID, actor: RequestActor, routing: RoutingApp) -> dict[str, Any]:
    """The customer answered: paused clocks resume with the time they had left."""
    return triage_view(routing.customer_responded(case_id, actor))


@router.post("/api/routing/cases/{case_id}/emergency")
def declare_emergency(
    case_id: UUID, body: EmergencyDeclaration, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Start the emergency protocol by hand (critical cases start it at triage)."""
    return triage_view(routing.declare_emergency(case_id, actor, body.reason))


@router.post("/api/routing/cases/{case_id}/emergency/tasks/{task}")
def record_emergency_step(
    case_id: UUID, task: str, body: EmergencyStep, actor: RequestActor, routing: RoutingApp
) -> dict[str, Any]:
    """Record a step on an emergency task; ``done`` completes it."""
    return triage_view(routing.record_emergency_step(case_id, actor, task, body.note, body.done))


@router.get("/api/cases/{case_id}/clocks", tags=["cases"])
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


@router.get("/api/routing/queues/{queue}")
def team_queue(
    queue: str, routing: RoutingApp, principal: CurrentPrincipal, access: CurrentAccess, page: PageOf
) -> dict[str, Any]:
    """A team's work queue (e.g. ``store_service@SH-001``, ``hq_desk``), nearest deadline first; 404 outside
    the caller's reach."""
    access.require_queue(principal, queue)
    total, cases = routing.tables.work_queue(queue=queue, **asdict(page))
    return {"queue": queue, "state": page.state, "total": total, "offset": page.offset, "cases": cases}


@router.get("/api/routing/people/{staff_id}/queue")
def person_queue(
    staff_id: str, routing: RoutingApp, principal: CurrentPrincipal, access: CurrentAccess, page: PageOf
) -> dict[str, Any]:
    """The cases a person leads, nearest deadline first: one's own, or a person's within the caller's reach."""
    access.require_person(principal, staff_id)
    total, cases = routing.tables.work_queue(assignee=staff_id, **asdict(page))
    return {"assignee": staff_id, "state": page.state, "total": total, "offset": page.offset, "cases": cases}
