"""A case's resolution: investigation, proposals and approvals, the customer's answer, execution."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.resolution.api.common import ResolutionApp
from services.resolution.api.models import (
    CompensationSuggestion,
    ProposalAnswered,
    ResolutionOffered,
    ResolutionPublic,
)
from services.resolution.domain import Resolution
from services.resolution.domain.compensation import RemedyLine, RootCause
from services.resolution.domain.resolution import EvidenceKind, Measure, TaskKind
from shared.bounds import Instant
from shared.http import RequestActor
from shared.textinput import line, text

router = APIRouter(prefix="/api/resolution/cases/{case_id}", tags=["resolution"])
public = APIRouter(prefix="/api/public/cases/{case_id}", tags=["customer"])
Text = text(4000, min_length=1)
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$", description="a file stored with POST /api/cases/{id}/evidence")]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, description="CNY, e.g. \"199.00\"")]


class Plan(BaseModel):
    plan: Text
    authenticity_dispute: bool = False


class Task(BaseModel):
    kind: TaskKind
    owner: Annotated[line(64, min_length=1), Field(description="the specialist's staff id")]
    description: Text
    due_at: Instant


class TaskResult(BaseModel):
    result: Text
    report_sha256: Sha256 | None = None


class Evidence(BaseModel):
    kind: EvidenceKind
    description: Text
    sha256: Sha256 | None = None


class Interview(BaseModel):
    interviewee: Annotated[line(64, min_length=1), Field(description="a staff id, or a role such as witness")]
    summary: Text


class Findings(BaseModel):
    findings: Text
    root_cause: RootCause


class Reason(BaseModel):
    reason: Text


class Proposal(BaseModel):
    remedies: list[RemedyLine] = Field(min_length=1, max_length=20)
    direct_loss: Money = Decimal("0.00")
    inconvenience: bool = False


class Answer(BaseModel):
    token: str = Field(min_length=1, max_length=64)
    answer: Literal["accept", "refuse", "counter"]
    reason: text(2000) | None = Field(default=None, description="required to refuse")
    counter: text(2000) | None = Field(default=None, description="required to counter")
    amount: Money | None = None


class Execution(BaseModel):
    reference: line(128) | None = Field(default=None, description="refund number, shipment, coupon code")
    evidence_sha256: Sha256 | None = None
    note: text(2000) | None = None


class Accountability(BaseModel):
    staff_id: line(64, min_length=1)
    measure: Measure
    note: Text


def resolution_view(resolution: Resolution) -> dict[str, Any]:
    """The resolution as staff see it: stage, investigation, proposals with their approvals, execution."""
    return {
        "case_id": str(resolution.case_id),
        "category": resolution.category,
        "subcategory": resolution.subcategory,
        "severity": resolution.severity,
        "stage": resolution.stage.value,
        "authenticity_dispute": resolution.authenticity_dispute,
        "appraised": resolution.appraised,
        "tasks": list(resolution.tasks.values()),
        "root_cause": resolution.root_cause,
        "fraud_established": resolution.fraud_established,
        "proposals": [
            {**p, "total": str(p["total"]), "tier_value": _money(p.get("tier_value"))} for p in resolution.proposals
        ],
        "refusals": resolution.refusals,
        "execution": resolution.execution,
        "accountability": resolution.accountability,
    }


@router.get("", response_model=ResolutionPublic)
def get_resolution(case_id: UUID, resolution: ResolutionApp) -> dict[str, Any]:
    """The case's resolution (404 until the case is triaged)."""
    return resolution_view(resolution.get_resolution(case_id))


@router.post("/investigation", response_model=ResolutionPublic)
def plan_investigation(case_id: UUID, body: Plan, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Write the investigation plan; `authenticity_dispute` gates remedies behind an appraisal report."""
    return resolution_view(resolution.plan_investigation(case_id, actor, body.plan, body.authenticity_dispute))


@router.post("/tasks", response_model=ResolutionPublic)
def assign_task(case_id: UUID, body: Task, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """A task for a specialist with an owner and a deadline."""
    return resolution_view(
        resolution.assign_task(case_id, actor, body.kind, body.owner, body.description, body.due_at)
    )


@router.post("/tasks/{task_id}/result", response_model=ResolutionPublic)
def complete_task(
    case_id: UUID, task_id: str, body: TaskResult, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """A task's result; an appraisal with its report file clears the appraisal gate."""
    return resolution_view(resolution.complete_task(case_id, actor, task_id, body.result, body.report_sha256))


@router.post("/evidence", response_model=ResolutionPublic)
def record_evidence(case_id: UUID, body: Evidence, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """An evidence item: CCTV, sales record, test or appraisal report (the file itself is uploaded to the case)."""
    return resolution_view(resolution.record_evidence(case_id, actor, body.kind, body.description, body.sha256))


@router.post("/interviews", response_model=ResolutionPublic)
def record_interview(
    case_id: UUID, body: Interview, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """A staff or witness interview."""
    return resolution_view(resolution.record_interview(case_id, actor, body.interviewee, body.summary))


@router.post("/findings", response_model=ResolutionPublic)
def record_findings(case_id: UUID, body: Findings, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Findings and root cause (design, production, material, operation, staff_conduct, logistics, customer_misuse)."""
    return resolution_view(resolution.record_findings(case_id, actor, body.findings, body.root_cause))


@router.post("/fraud", response_model=ResolutionPublic)
def establish_fraud(case_id: UUID, body: Reason, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """HQ or legal establish fraud (403 for other roles): CPL art. 55 then applies."""
    return resolution_view(resolution.establish_fraud(case_id, actor, body.reason))


@router.get("/compensation-suggestion", response_model=CompensationSuggestion)
def suggest_compensation(
    case_id: UUID,
    resolution: ResolutionApp,
    direct_loss: Annotated[Decimal, Query(ge=0, max_digits=12, decimal_places=2)] = Decimal("0.00"),
    inconvenience: bool = False,
) -> dict[str, Any]:
    """What the chain's standards suggest: the basis, remedies and total (a person decides)."""
    return resolution.suggest_compensation(case_id, direct_loss, inconvenience).model_dump(mode="json")


@router.post("/proposals", response_model=ResolutionPublic)
def propose(case_id: UUID, body: Proposal, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Propose remedies; beyond the proposer's tier the proposal awaits approval at the tier it needs."""
    return resolution_view(
        resolution.propose(case_id, actor, body.remedies, body.direct_loss, body.inconvenience)
    )


@router.post("/proposals/current/approval", response_model=ResolutionPublic)
def approve_proposal(case_id: UUID, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Approve the open proposal (409 for the proposer, 403 below the tier above the proposer's)."""
    return resolution_view(resolution.approve_proposal(case_id, actor))


@router.post("/proposals/current/rejection", response_model=ResolutionPublic)
def reject_proposal(case_id: UUID, body: Reason, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Turn the open proposal down with a reason."""
    return resolution_view(resolution.reject_proposal(case_id, actor, body.reason))


@router.post("/proposals/current/offer", response_model=ResolutionOffered)
def offer_proposal(case_id: UUID, actor: RequestActor, resolution: ResolutionApp) -> dict[str, Any]:
    """Put the approved proposal to the customer. The customer gets a link of their own to answer it by their
    contact channel (GET /api/cases/{id}/messages shows its delivery); no token is shown to staff, so only the
    customer can answer as the customer."""
    found = resolution.offer_proposal(case_id, actor)
    return {**resolution_view(found), "answer_path": f"/api/public/cases/{case_id}/answer"}


@router.post("/remedies/{index}/execution", response_model=ResolutionPublic)
def execute_remedy(
    case_id: UUID, index: int, body: Execution, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """One accepted remedy carried out, with its reference and evidence; the last one resolves the case."""
    return resolution_view(
        resolution.execute_remedy(case_id, actor, index, body.reference, body.evidence_sha256, body.note)
    )


@router.post("/accountability", response_model=ResolutionPublic)
def record_accountability(
    case_id: UUID, body: Accountability, actor: RequestActor, resolution: ResolutionApp
) -> dict[str, Any]:
    """The measure taken against the staff member at fault (处罚直接责任者)."""
    return resolution_view(resolution.record_accountability(case_id, actor, body.staff_id, body.measure, body.note))


@public.post("/answer", response_model=ProposalAnswered)
def answer_proposal(case_id: UUID, body: Answer, resolution: ResolutionApp) -> dict[str, Any]:
    """For the customer, with the token from their link (no login): accept, refuse with a reason, or counter."""
    found = resolution.answer_proposal(case_id, body.token, body.answer, body.reason, body.counter, body.amount)
    current = found.proposals[-1]
    return {"case_id": str(case_id), "proposal": current["proposal"], "state": current["state"]}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
