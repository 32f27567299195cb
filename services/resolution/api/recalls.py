"""Resolution's recalls API: alerts raised by complaint clusters, campaigns, their affected customers and progress.

Every route needs ``X-Ombud-User``/``X-Ombud-Role`` (401 without); customers may not use them (403). Planning,
launching and closing a campaign and importing its customers need quality_analyst, hq or admin (403 otherwise).
An order list is sent as multipart (field ``file``, CSV UTF-8, up to the body limit; larger lists with
``ombud recall import CAMPAIGN_ID FILE``) or as JSON (a list of lines, or ``{"customers": [...]}``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from services.resolution.api.common import ResolutionApp
from services.resolution.api.models import (
    AlertPublic,
    AlertRow,
    CampaignProgress,
    CampaignPublic,
    CampaignReport,
    CampaignRow,
    NoticePublic,
    NoticeRow,
    RecallImportDone,
)
from services.resolution.domain.recall import CampaignPlan, ContactChannel, NoticeStatus, RecallRemedy
from shared.bounds import Offset, limit_query
from shared.contracts import Actor
from shared.errors import Forbidden, InvalidValue
from shared.http import RequestActor
from shared.textinput import text
from shared.vocabulary import Role

router = APIRouter(prefix="/api/recalls", tags=["recalls"])


async def staff(actor: RequestActor) -> Actor:
    """The acting staff member (customers may not read recalls)."""
    if actor.role in (Role.CUSTOMER,):
        raise Forbidden("customers may not use the recalls API")
    return actor


Staff = Annotated[Actor, Depends(staff)]


class CloseBody(BaseModel):
    reason: text(2000, min_length=1)


class NoticeUpdate(BaseModel):
    """``channel`` is needed for contacted; ``remedy`` (remedied) defaults to the campaign's."""

    channel: ContactChannel | None = None
    remedy: RecallRemedy | None = None
    note: text(2000) | None = None


# --- alerts -----------------------------------------------------------------------------------------------------


@router.get("/alerts", response_model=list[AlertRow])
def list_alerts(
    resolution: ResolutionApp, actor: Staff, status: Annotated[str | None, Query(pattern="^(open|campaign)$")] = None
) -> list[dict[str, Any]]:
    """Recall alerts, newest first: SKU, batch, reason (cluster | critical_incident), status, cases linked."""
    return resolution.list_alerts(status)


@router.get("/alerts/{alert_id}", response_model=AlertPublic, response_model_exclude_unset=True)
def get_alert(alert_id: UUID, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    """One alert with every linked case id and the campaign planned from it, if any."""
    return resolution.get_alert(alert_id)


# --- campaigns --------------------------------------------------------------------------------------------------


@router.post("/campaigns", status_code=201, response_model=CampaignPublic)
def plan_campaign(body: CampaignPlan, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    """Plan a recall: scope (sku, batches — empty for all — sold_from/sold_to), hazard, remedy (repair | replace |
    refund), announcement {zh, en}, optionally ``alert_id`` (the alert it answers)."""
    return resolution.plan_campaign(actor, body).view()


@router.get("/campaigns", response_model=list[CampaignRow])
def list_campaigns(
    resolution: ResolutionApp, actor: Staff,
    status: Annotated[str | None, Query(pattern="^(planned|active|closed)$")] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    return resolution.list_campaigns(status)


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
def get_campaign(campaign_id: UUID, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    return resolution.get_campaign(campaign_id).view()


@router.post("/campaigns/{campaign_id}/launch", response_model=CampaignPublic)
def launch_campaign(campaign_id: UUID, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    """Launch a planned campaign (409 otherwise): complaints about in-scope products join it from now on."""
    return resolution.launch_campaign(campaign_id, actor).view()


@router.post("/campaigns/{campaign_id}/close", response_model=CampaignPublic)
def close_campaign(campaign_id: UUID, body: CloseBody, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    return resolution.close_campaign(campaign_id, actor, body.reason).view()


@router.get("/campaigns/{campaign_id}/progress", response_model=CampaignProgress)
def campaign_progress(campaign_id: UUID, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    """Customers by status (issued, contacted, responded, remedied, unreachable), done and percent done."""
    return resolution.campaign_progress(campaign_id)


@router.get("/campaigns/{campaign_id}/report", response_model=CampaignReport)
def campaign_report(campaign_id: UUID, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    """The summary: the plan, dates, progress, remedies done, complaints joined, imports, whether complete."""
    return resolution.campaign_report(campaign_id)


@router.post("/campaigns/{campaign_id}/customers", response_model=RecallImportDone)
async def import_customers(campaign_id: UUID, request: Request, resolution: ResolutionApp, actor: Staff) -> Any:
    """Import affected customers: multipart ``file`` (CSV: order_id, sku, batch, sold_on, customer_name, phone,
    email, language) or JSON lines. One notice per order line, once (a re-import adds nothing twice); the report
    lists each bad line by line number and column. 409 unless the campaign is active."""
    source: Any
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidValue("file", "a CSV file is required (multipart field 'file')")
        source = await upload.read()
    else:
        try:
            body = await request.json()
        except ValueError as error:
            raise InvalidValue("body", "JSON lines or a multipart CSV file") from error
        source = body.get("customers") if isinstance(body, dict) else body
        if not isinstance(source, list):
            raise InvalidValue("customers", "must be a list of order lines")
    report = await run_in_threadpool(resolution.import_recall_customers, campaign_id, source, actor=actor)
    return report.as_dict()


@router.get("/campaigns/{campaign_id}/notices", response_model=list[NoticeRow])
def list_notices(
    campaign_id: UUID,
    resolution: ResolutionApp,
    actor: Staff,
    status: NoticeStatus | None = None,
    limit: limit_query(500) = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """A page of the campaign's notices (no contact details: the customer is ``customer_ref``)."""
    return resolution.list_notices(campaign_id, status, limit, offset)


# --- notices ----------------------------------------------------------------------------------------------------


@router.get("/notices/{notice_id}", response_model=NoticePublic, response_model_exclude_unset=True)
def get_notice(notice_id: UUID, resolution: ResolutionApp, actor: Staff) -> dict[str, Any]:
    return resolution.get_notice(notice_id).view()


@router.post("/notices/{notice_id}/{status}", response_model=NoticePublic, response_model_exclude_unset=True)
def mark_notice(
    notice_id: UUID, status: NoticeStatus, resolution: ResolutionApp, actor: Staff, body: NoticeUpdate | None = None
) -> dict[str, Any]:
    """Record a notice's progress: ``contacted`` (with ``channel``), ``responded``, ``remedied``, ``unreachable``.
    409 for a move the notice's status does not allow."""
    body = body or NoticeUpdate()
    notice = resolution.mark_notice(notice_id, actor, status, channel=body.channel, remedy=body.remedy, note=body.note)
    return notice.view()
