"""The auditors' HTTP API: verify the stores or a case, sign checkpoints, export a case's history."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from shared.audit.auditor import Auditor
from shared.audit.bundle import verify_bundle
from shared.http import RequestActor

router = APIRouter(prefix="/api/audit", tags=["audit"])


async def auditor(request: Request) -> Auditor:
    """The process's auditor (who may use it is the permission policy's: config/permissions.yaml)."""
    return request.app.state.auditor


AuditorDep = Annotated[Auditor, Depends(auditor)]


class Finding(BaseModel):
    """One problem a verification found: in which service, stream, version or notification, and what."""

    service: str
    kind: str
    originator_id: str | None
    version: int | None
    notification_id: int | None
    detail: str


class NamedFinding(Finding):
    """A finding with where it is, in words."""

    where: str


class ServiceReport(BaseModel):
    """The verification of one service's store (or one case's part of it)."""

    service: str
    events: int
    streams: int
    sealed_to: int
    chain_hash: str
    seconds: float
    findings: list[Finding]
    ok: bool


class Verification(BaseModel):
    """Whether every chain holds; the first problem, and each service's report."""

    ok: bool
    case_id: str | None
    first: NamedFinding | None
    services: list[ServiceReport]


class ChainHead(BaseModel):
    notification_id: int
    chain_hash: str


class Checkpoint(BaseModel):
    """The heads of every service's log chain at an instant, signed (Ed25519, base64)."""

    format: str
    created_at: str
    heads: dict[str, ChainHead]
    key_id: str
    public_key: str
    signature: str


class BundledEvent(BaseModel):
    notification_id: int
    originator_id: str
    version: int
    topic: str
    state: str = Field(description="the stored event as text, as sealed")


class SealedLink(BaseModel):
    notification_id: int
    originator_id: str
    version: int
    event_hash: str
    chain_hash: str


class ServiceHistory(BaseModel):
    events: list[BundledEvent]
    links: list[SealedLink]


class CaseBundle(BaseModel):
    """A case's whole history from every service, its sealed links and the latest checkpoint, signed."""

    format: str
    case_id: str
    exported_at: str
    exported_by: dict[str, Any]
    checkpoint: Checkpoint | None
    services: dict[str, ServiceHistory]
    key_id: str
    public_key: str
    signature: str


class BundleCheck(BaseModel):
    """Whether a bundle holds against this deployment's key: events checked, covered by its links, findings."""

    ok: bool
    events: int
    covered: int
    findings: list[NamedFinding]


@router.get("/verify", response_model=Verification)
async def verify(auditor: AuditorDep, case_id: Annotated[UUID | None, Query()] = None) -> dict[str, Any]:
    """Recompute every chain (or one case's); each problem is named with where it is, the first one first."""
    reports = await asyncio.to_thread(auditor.verify, case_id)
    findings = [f for report in reports for f in report.findings]
    return {
        "ok": not findings,
        "case_id": str(case_id) if case_id else None,
        "first": {**findings[0].__dict__, "where": findings[0].where()} if findings else None,
        "services": [report.as_dict() for report in reports],
    }


@router.post("/checkpoints", status_code=201, response_model=Checkpoint)
async def create_checkpoint(auditor: AuditorDep) -> dict[str, Any]:
    """Sign the heads of all chains now (also done periodically)."""
    return await asyncio.to_thread(auditor.checkpoint)


@router.get("/checkpoints/latest", response_model=Checkpoint)
async def latest_checkpoint(auditor: AuditorDep) -> JSONResponse:
    """The newest signed checkpoint, or 404 before the first."""
    found = await asyncio.to_thread(auditor.latest_checkpoint)
    if found is None:
        return JSONResponse(status_code=404, content={"detail": "no checkpoint yet"})
    return JSONResponse(content=found)


@router.get(
    "/public-key",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-pem-file": {"schema": {"type": "string"}}}, "description": "PEM"}},
)
async def public_key(auditor: AuditorDep) -> PlainTextResponse:
    """The PEM public key that checkpoints and bundles are signed with."""
    return PlainTextResponse(auditor.signer.public_pem().decode(), media_type="application/x-pem-file")


@router.get("/cases/{case_id}/bundle", response_model=CaseBundle)
async def case_bundle(case_id: UUID, auditor: AuditorDep, actor: RequestActor) -> JSONResponse:
    """The case's complete history as a signed JSON bundle (verifiable offline with `ombud verify --bundle`)."""
    bundle = await asyncio.to_thread(auditor.bundle, case_id, actor)
    headers = {"Content-Disposition": f'attachment; filename="case-{case_id}.json"'}
    return JSONResponse(content=bundle, headers=headers)


@router.get("/cases/{case_id}/report", response_class=HTMLResponse)
async def case_report(case_id: UUID, auditor: AuditorDep, actor: RequestActor) -> HTMLResponse:
    """A readable report of the case's history and its verification, for regulators and courts."""
    bundle = await asyncio.to_thread(auditor.bundle, case_id, actor)
    return HTMLResponse(await asyncio.to_thread(auditor.report_html, bundle))


@router.post("/bundles/verify", response_model=BundleCheck)
async def check_bundle(auditor: AuditorDep, bundle: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Check an exported bundle against this deployment's signing key."""
    return await asyncio.to_thread(verify_bundle, bundle, auditor.signer.public_raw)
