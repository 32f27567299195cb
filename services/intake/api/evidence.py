"""Intake's HTTP API for evidence: upload a photo, video, receipt or PDF to a case; list and download them.

The files go to the ``EvidenceStore`` (content-addressed, under ``<data_dir>/evidence``); the case records
each as ``EvidenceAttached`` (hash, type, size, file name, note; the uploader in the envelope). The store
is built from ``app.state.settings`` on first use and kept in ``app.state.evidence_store``, one per app,
so ``Intake`` itself needs no file system and other callers (the SMTP listener) can build their own with
``EvidenceStore.from_settings``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from services.intake.api.common import IntakeApp
from services.intake.application import Intake
from services.intake.domain import Complaint
from services.intake.evidence import ALLOWED_MEDIA_TYPES, EvidenceStore, EvidenceTooLarge, store_and_attach
from shared.contracts import Actor
from shared.errors import InvalidTransition, NotFound
from shared.http import RequestActor, request_actor
from shared.textinput import text

router = APIRouter(prefix="/api", tags=["intake"])


# async: runs on the event loop, so the store is created once per app without a lock.
async def evidence_store(request: Request) -> EvidenceStore:
    """The app's evidence store, built from its settings on first use."""
    state = request.app.state
    if not hasattr(state, "evidence_store"):
        state.evidence_store = EvidenceStore.from_settings(state.settings)
    store: EvidenceStore = state.evidence_store
    return store


Evidence = Annotated[EvidenceStore, Depends(evidence_store)]


class EvidenceUploaded(BaseModel):
    sha256: str
    media_type: str
    size: int
    attached: bool


class EvidenceItem(BaseModel):
    sha256: str
    media_type: str
    size: int
    filename: str | None
    note: str | None
    uploaded_by: Actor
    uploaded_at: datetime


class EvidenceList(BaseModel):
    evidence: list[EvidenceItem]


@router.post(
    "/cases/{case_id}/evidence",
    status_code=201,
    response_model=EvidenceUploaded,
    responses={
        401: {"description": "no X-Ombud-User / X-Ombud-Role"},
        404: {"description": "unknown case"},
        409: {"description": "the case was withdrawn"},
        413: {"description": "the file is larger than OMBUD_EVIDENCE_MAX_BYTES"},
        422: {"description": f"the file's content is none of {', '.join(ALLOWED_MEDIA_TYPES)}"},
    },
)
def upload_evidence(
    case_id: UUID,
    file: UploadFile,
    intake: IntakeApp,
    store: Evidence,
    actor: RequestActor,
    request: Request,
    note: Annotated[text(2_000) | None, Form()] = None,
) -> Any:
    """Attach a photo, video, receipt or PDF to a case (multipart: ``file``, optional ``note``).

    The type is judged by the file's content, not its name or Content-Type. ``attached`` is false when the
    case already has this very content (nothing new is recorded). A refused request stores nothing.
    """
    # Refuse before storing: a rejected upload must leave no file behind. The aggregate checks again when
    # the event is saved; a case withdrawn in between leaves an unreferenced file, which is harmless.
    complaint = intake.get_complaint(case_id)
    if complaint.withdrawn:
        raise InvalidTransition(f"case {complaint.case_number} was withdrawn")
    try:
        stored, attached = store_and_attach(
            intake, store, case_id, file.file, file.filename,
            actor=actor, note=note, correlation_id=UUID(request.state.correlation_id),
        )  # fmt: skip
    except EvidenceTooLarge as error:
        return JSONResponse(status_code=413, content={"detail": [{"field": error.field, "message": error.message}]})
    return EvidenceUploaded(sha256=stored.sha256, media_type=stored.media_type, size=stored.size, attached=attached)


@router.get("/cases/{case_id}/evidence", response_model=EvidenceList)
def list_evidence(case_id: UUID, intake: IntakeApp) -> Any:
    """The evidence attached to a case, oldest first: hash, type, size, file name, note, who uploaded it and when."""
    return EvidenceList(
        evidence=[
            EvidenceItem(
                sha256=event.sha256,
                media_type=event.media_type,
                size=event.size,
                filename=event.filename,
                note=event.note,
                uploaded_by=Actor.model_validate(event.envelope["actor"]),
                uploaded_at=event.timestamp,
            )
            for event in attached_evidence(intake, case_id)
        ]
    )


@router.get(
    "/cases/{case_id}/evidence/{sha256}",
    response_class=Response,
    dependencies=[Depends(request_actor)],
    responses={
        200: {"description": "the file, with its media type"},
        401: {"description": "no X-Ombud-User / X-Ombud-Role"},
        404: {"description": "unknown case, or this file is not attached to it"},
        409: {"description": "the customer was erased: the file can no longer be read"},
    },
)
def download_evidence(case_id: UUID, sha256: str, intake: IntakeApp, store: Evidence) -> Any:
    """One attached file's bytes, with the media type sniffed at upload (404 unless attached to this case).

    Needs the acting user: evidence shows customers' receipts and faces, unmasked.
    """
    found = next((event for event in attached_evidence(intake, case_id) if event.sha256 == sha256), None)
    if found is None:
        raise NotFound(f"case {case_id} has no evidence {sha256}")
    content = store.open(sha256, intake.evidence_key(case_id))
    filename = quote(found.filename or sha256)
    return Response(
        content,
        media_type=found.media_type,
        headers={
            # A download, never rendered here: a PDF or SVG with script must not run in Ombud's origin.
            "Content-Disposition": f"attachment; filename*=utf-8''{filename}",
            # Personal data: no shared caches; and the browser must not second-guess the sniffed type.
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def attached_evidence(intake: Intake, case_id: UUID) -> list[Any]:
    """The case's ``EvidenceAttached`` events in order (404 for an unknown case)."""
    events = list(intake.events.get(case_id))
    if not events or not isinstance(events[0], Complaint.ComplaintReceived):
        raise NotFound(f"no complaint {case_id}")
    return [event for event in events if isinstance(event, Complaint.EvidenceAttached)]
