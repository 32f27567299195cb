"""Intake's HTTP API for bulk imports: a CSV file of complaints, checked row by row, filed once.

Files up to 1 MB (a few thousand rows); larger ones are imported with ``ombud import complaints FILE``,
which reads the same columns (services/intake/importer.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, UploadFile
from pydantic import BaseModel

from services.intake.api.common import IntakeApp
from services.intake.importer import import_complaints_async
from shared.access.guard import CurrentAccess, CurrentPrincipal
from shared.http import RequestActor

router = APIRouter(prefix="/api", tags=["intake"])
MAX_FILE_BYTES = 1_000_000


class RowProblem(BaseModel):
    row: int
    external_id: str | None
    field: str
    message: str


class ImportDone(BaseModel):
    rows: int
    imported: int
    already_imported: int
    failed: int
    errors: list[RowProblem]
    seconds: float


@router.post("/imports/complaints", response_model=ImportDone)
async def import_complaints(
    file: UploadFile, intake: IntakeApp, actor: RequestActor, principal: CurrentPrincipal, access: CurrentAccess
) -> Any:
    """Import complaints from a CSV file (multipart field ``file``, UTF-8, up to 1 MB): every row is checked,
    the good ones are filed under ``import:<external_id>`` (so sending the file again files nothing twice),
    and the report lists each bad row by line and column. The importing user is recorded as the receiver
    of rows that name no ``received_by_id``.

    401 without a token, 403 for a role that may not import (config/permissions.yaml), a row for a store
    outside the importer's reach is refused, 413 over 1 MB (use the CLI),
    422 for a file that is not UTF-8 CSV with known columns.
    """
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise HTTPException(413, f"the file exceeds {MAX_FILE_BYTES} bytes; import it with `ombud import complaints`")
    report = await import_complaints_async(intake, data, actor=actor, stores=access.stores_within(principal))
    return report.as_dict()
