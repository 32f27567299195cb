"""Events of recall alerts and campaigns, published by resolution.

No personal data: an affected customer is ``customer_ref``, the same keyed hash of the normalised phone
(else e-mail) as intake's ``customer_id``; their contact stays sealed in resolution's store. Envelopes: an
alert's events carry the complaint that raised or joined it as ``case_id``; a campaign's carry the campaign id
(``CaseJoinedCampaign``: the joining complaint); a notice's carry the notice id; all of a campaign's and its
notices' events share the campaign id as ``correlation_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.contracts.base import Contract


class RecallAlertRaised(Contract):
    """A cluster of quality/safety complaints about one SKU + batch (or one critical safety incident): the quality
    team must look at a recall. ``reason`` is ``cluster`` or ``critical_incident``; ``case_ids`` every member."""

    producer: ClassVar[str] = "resolution"
    alert_id: UUID
    sku: str
    batch: str | None = None
    reason: str
    case_ids: list[UUID]
    window_start: datetime
    window_end: datetime
    threshold: int
    window_seconds: int
    team: str


class RecallAlertCaseLinked(Contract):
    """A further complaint (the envelope's case) belongs to an alert already raised."""

    producer: ClassVar[str] = "resolution"
    alert_id: UUID
    sku: str
    batch: str | None = None


class RecallCampaignPlanned(Contract):
    """A recall was planned: scope (SKU, batches — empty for all — and sale dates), hazard, remedy, announcement."""

    producer: ClassVar[str] = "resolution"
    about_case: ClassVar[bool] = False
    campaign_id: UUID
    title: str
    sku: str
    batches: list[str]
    sold_from: str | None = None
    sold_to: str | None = None
    hazard: str
    remedy: str
    announcement_zh: str
    announcement_en: str
    alert_id: UUID | None = None


class RecallCampaignLaunched(Contract):
    """The recall is public and active: the announcement goes out; in-scope complaints join it."""

    producer: ClassVar[str] = "resolution"
    about_case: ClassVar[bool] = False
    campaign_id: UUID
    sku: str
    batches: list[str]
    remedy: str
    announcement_zh: str
    announcement_en: str


class CaseJoinedCampaign(Contract):
    """A complaint (the envelope's case) about an in-scope product joined an active campaign."""

    producer: ClassVar[str] = "resolution"
    campaign_id: UUID
    sku: str
    batch: str | None = None


class RecallCustomersImported(Contract):
    """An order list of affected customers was imported into the campaign (counts only)."""

    producer: ClassVar[str] = "resolution"
    about_case: ClassVar[bool] = False
    campaign_id: UUID
    rows: int
    issued: int
    already_issued: int
    failed: int


class RecallCampaignClosed(Contract):
    producer: ClassVar[str] = "resolution"
    about_case: ClassVar[bool] = False
    campaign_id: UUID
    reason: str


class RecallNoticeIssued(Contract):
    """One affected order line's customer is to be told of the recall (feedback delivers it). ``channels``: the
    kinds of contact on file (phone, email), the contact itself stays sealed in resolution."""

    producer: ClassVar[str] = "resolution"
    about_case: ClassVar[bool] = False
    notice_id: UUID
    campaign_id: UUID
    customer_ref: UUID
    order_id: str
    sku: str
    batch: str | None = None
    sold_on: str | None = None
    remedy: str
    language: str
    channels: list[str]


class _NoticeStatus(Contract):
    about_case: ClassVar[bool] = False
    notice_id: UUID
    campaign_id: UUID
    note: str | None = None


class RecallNoticeContacted(_NoticeStatus):
    producer: ClassVar[str] = "resolution"
    channel: str


class RecallNoticeResponded(_NoticeStatus):
    producer: ClassVar[str] = "resolution"


class RecallNoticeRemedied(_NoticeStatus):
    producer: ClassVar[str] = "resolution"
    remedy: str


class RecallNoticeUnreachable(_NoticeStatus):
    producer: ClassVar[str] = "resolution"
