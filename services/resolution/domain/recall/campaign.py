"""Recalls, pure: the campaign: its plan (scope, hazard, remedy, announcement), its launch, the complaints that
join it while it is active, the imports of its affected customers, its close.

Instants come in as arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.resolution.domain.recall.common import TEXT_MAX, _text
from shared.bounds import Day
from shared.errors import InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.textinput import line, text

# --- campaigns -------------------------------------------------------------------------------------------------


class RecallRemedy(StrEnum):
    REPAIR = "repair"
    REPLACE = "replace"
    REFUND = "refund"


class CampaignStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    CLOSED = "closed"


class Announcement(BaseModel):
    """The public announcement (召回公告), in Chinese and English."""

    zh: text(TEXT_MAX, min_length=1)
    en: text(TEXT_MAX, min_length=1)


class CampaignPlan(BaseModel):
    """What a campaign recalls and how: scope (SKU, batches — none means every batch — sale dates), hazard, remedy."""

    title: line(200, min_length=1)
    sku: line(64, min_length=1)
    batches: list[line(64, min_length=1)] = Field(default=[], max_length=200)
    sold_from: Day | None = None
    sold_to: Day | None = None
    hazard: text(TEXT_MAX, min_length=1)
    remedy: RecallRemedy
    announcement: Announcement
    alert_id: UUID | None = None

    def covers(self, sku: str | None, batch: str | None, sold_on: date | None = None) -> bool:
        """Whether a product (and, if known, its sale date) is in scope."""
        if sku != self.sku:
            return False
        if self.batches and batch not in self.batches:
            return False
        if sold_on is not None:
            if self.sold_from is not None and sold_on < self.sold_from:
                return False
            if self.sold_to is not None and sold_on > self.sold_to:
                return False
        return True


class RecallCampaign(CaseAggregate):
    """A recall campaign: planned, launched (active: complaints about in-scope products join it), closed."""

    class RecallCampaignPlanned(CaseAggregate.Created):
        campaign_id: UUID
        title: str
        sku: str
        batches: list[str]
        sold_from: str | None
        sold_to: str | None
        hazard: str
        remedy: str
        announcement_zh: str
        announcement_en: str
        alert_id: UUID | None

    def __init__(
        self,
        envelope: dict[str, Any],
        campaign_id: UUID,
        title: str,
        sku: str,
        batches: list[str],
        sold_from: str | None,
        sold_to: str | None,
        hazard: str,
        remedy: str,
        announcement_zh: str,
        announcement_en: str,
        alert_id: UUID | None,
    ) -> None:
        self.plan = CampaignPlan(
            title=title,
            sku=sku,
            batches=batches,
            sold_from=sold_from,
            sold_to=sold_to,
            hazard=hazard,
            remedy=RecallRemedy(remedy),
            announcement=Announcement(zh=announcement_zh, en=announcement_en),
            alert_id=alert_id,
        )
        self.status = CampaignStatus.PLANNED
        self.planned_at = datetime.fromisoformat(envelope["recorded_at"])
        self.planned_by = envelope["actor"]["id"]
        self.launched_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.joined_cases: list[UUID] = []
        self.imports: list[dict[str, Any]] = []

    @classmethod
    def plan_campaign(cls, id: UUID, ctx: EventContext, plan: CampaignPlan) -> RecallCampaign:
        if plan.sold_from and plan.sold_to and plan.sold_from > plan.sold_to:
            raise InvalidValue("sold_to", "must not be before sold_from")
        if len(set(plan.batches)) != len(plan.batches) or any(not b.strip() for b in plan.batches):
            raise InvalidValue("batches", "must be distinct, non-blank batch numbers")
        return cls._start(
            cls.RecallCampaignPlanned,
            id,
            ctx,
            campaign_id=id,
            title=plan.title.strip(),
            sku=plan.sku.strip(),
            batches=[b.strip() for b in plan.batches],
            sold_from=plan.sold_from.isoformat() if plan.sold_from else None,
            sold_to=plan.sold_to.isoformat() if plan.sold_to else None,
            hazard=_text("hazard", plan.hazard),
            remedy=plan.remedy.value,
            announcement_zh=_text("announcement.zh", plan.announcement.zh),
            announcement_en=_text("announcement.en", plan.announcement.en),
            alert_id=plan.alert_id,
        )

    class RecallCampaignLaunched(CaseAggregate.Event):
        campaign_id: UUID
        sku: str
        batches: list[str]
        remedy: str
        announcement_zh: str
        announcement_en: str

        def apply(self, aggregate: RecallCampaign) -> None:
            aggregate.status = CampaignStatus.ACTIVE
            aggregate.launched_at = datetime.fromisoformat(self.envelope["recorded_at"])

    def launch(self, ctx: EventContext) -> None:
        """Launch the campaign: the announcement goes out, in-scope complaints join it, customers can be imported."""
        if self.status is not CampaignStatus.PLANNED:
            raise InvalidTransition(f"the campaign is {self.status.value}; only a planned campaign can be launched")
        plan = self.plan
        self._record(
            self.RecallCampaignLaunched, ctx, campaign_id=self.id, sku=plan.sku, batches=plan.batches,
            remedy=plan.remedy.value, announcement_zh=plan.announcement.zh, announcement_en=plan.announcement.en,
        )  # fmt: skip

    class CaseJoinedCampaign(CaseAggregate.Event):
        campaign_id: UUID
        sku: str
        batch: str | None

        def apply(self, aggregate: RecallCampaign) -> None:
            aggregate.joined_cases.append(UUID(self.envelope["case_id"]))

    def join(self, ctx: EventContext, sku: str | None, batch: str | None) -> bool:
        """The context's case (a complaint about an in-scope product) joins the active campaign; False if it
        already has or the product is out of scope."""
        if self.status is not CampaignStatus.ACTIVE:
            raise InvalidTransition(f"the campaign is {self.status.value}; only an active campaign takes cases")
        if ctx.case_id in self.joined_cases or not self.plan.covers(sku, batch):
            return False
        self._record(self.CaseJoinedCampaign, ctx, campaign_id=self.id, sku=self.plan.sku, batch=batch)
        return True

    class RecallCustomersImported(CaseAggregate.Event):
        campaign_id: UUID
        rows: int
        issued: int
        already_issued: int
        failed: int

        def apply(self, aggregate: RecallCampaign) -> None:
            aggregate.imports.append(
                {"at": self.envelope["recorded_at"], "by": self.envelope["actor"]["id"], "rows": self.rows,
                 "issued": self.issued, "already_issued": self.already_issued, "failed": self.failed}
            )  # fmt: skip

    def must_take_customers(self) -> None:
        if self.status is not CampaignStatus.ACTIVE:
            raise InvalidTransition(f"the campaign is {self.status.value}; customers are imported once it is launched")

    def record_import(self, ctx: EventContext, rows: int, issued: int, already_issued: int, failed: int) -> None:
        """Record that an order list was imported (the notices themselves are their own aggregates)."""
        self._record(
            self.RecallCustomersImported, ctx, campaign_id=self.id, rows=rows, issued=issued,
            already_issued=already_issued, failed=failed,
        )  # fmt: skip

    class RecallCampaignClosed(CaseAggregate.Event):
        campaign_id: UUID
        reason: str

        def apply(self, aggregate: RecallCampaign) -> None:
            aggregate.status = CampaignStatus.CLOSED
            aggregate.closed_at = datetime.fromisoformat(self.envelope["recorded_at"])

    def close(self, ctx: EventContext, reason: str) -> None:
        """Close the campaign (its summary stays); complaints no longer join it."""
        reason = _text("reason", reason) or ""
        if self.status is CampaignStatus.CLOSED:
            raise InvalidTransition("the campaign is already closed")
        self._record(self.RecallCampaignClosed, ctx, campaign_id=self.id, reason=reason)

    def view(self) -> dict[str, Any]:
        return {
            "campaign_id": str(self.id),
            "status": self.status.value,
            **self.plan.model_dump(mode="json"),
            "planned_at": self.planned_at.isoformat(),
            "planned_by": self.planned_by,
            "launched_at": self.launched_at.isoformat() if self.launched_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "joined_cases": [str(c) for c in self.joined_cases],
            "imports": self.imports,
        }
