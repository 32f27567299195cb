"""Recalls, application: campaign commands (plan, launch, close), campaign queries, progress and the summary report.

A campaign's row in ``resolution_recall_campaigns`` (status, scope) is written with its events; planning one issues
the campaign's own data key (``shared.privacy.KeyStore``), with which its customers' contacts are sealed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from services.resolution.application.recalls.common import CONFLICT_RETRIES, log
from services.resolution.domain.recall import (
    DONE,
    AlertStatus,
    CampaignPlan,
    CampaignStatus,
    NoticeStatus,
    RecallCampaign,
)
from shared.contracts import Actor
from shared.errors import InvalidTransition, InvalidValue, NotFound
from shared.eventstore import EventContext


class RecallCampaigns:
    """Campaign commands and queries; ``_campaign_command`` retries a command on a concurrent change."""

    # --- campaigns --------------------------------------------------------------------------------------------

    def plan_campaign(self: Any, actor: Actor, plan: CampaignPlan) -> RecallCampaign:
        """Plan a recall (optionally from an alert); its customers' contacts get the campaign's own data key."""
        writes: list[tuple[str, Any]] = []
        if plan.alert_id is not None:
            alert = self.get_alert(plan.alert_id)
            if alert.get("campaign_id"):
                raise InvalidTransition(f"campaign {alert['campaign_id']} was already planned from this alert")
            if plan.sku != alert["sku"]:
                raise InvalidValue("sku", f"the alert is about SKU {alert['sku']}", allowed=[alert["sku"]])
            writes.append(
                (
                    f"UPDATE {self.alerts_table} SET status = ?, campaign_id = ? WHERE alert_id = ?",
                    (AlertStatus.CAMPAIGN.value, None, str(plan.alert_id)),
                )
            )
        campaign_id = uuid4()
        ctx = self.context(campaign_id, actor, correlation_id=campaign_id)
        campaign = RecallCampaign.plan_campaign(campaign_id, ctx, plan)
        if writes:
            sql, (status, _, alert) = writes[0]
            writes[0] = (sql, (status, str(campaign_id), alert))
        key = self.recall_keys.issue(campaign_id, campaign_id)
        writes.append(
            (
                f"INSERT INTO {self.campaigns_table} (campaign_id, title, sku, batches, status, remedy, alert_id, "
                "key_id, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(campaign_id), campaign.plan.title, campaign.plan.sku, json.dumps(campaign.plan.batches),
                 campaign.status.value, campaign.plan.remedy.value,
                 str(plan.alert_id) if plan.alert_id else None, key.key_id, ctx.recorded_at.isoformat()),
            )  # fmt: skip
        )
        self.save(campaign, side_writes=[*writes, *self.recall_keys.writes_for(campaign_id)])
        log.info("recall.campaign_planned", campaign_id=str(campaign_id))
        return campaign

    def launch_campaign(self: Any, campaign_id: UUID, actor: Actor) -> RecallCampaign:
        """Launch a planned campaign: active from now on."""
        return self._campaign_command(campaign_id, actor, lambda c, ctx: c.launch(ctx))

    def close_campaign(self: Any, campaign_id: UUID, actor: Actor, reason: str) -> RecallCampaign:
        """Close a campaign: complaints no longer join it; its notices and report stay."""
        return self._campaign_command(campaign_id, actor, lambda c, ctx: c.close(ctx, reason))

    def get_campaign(self: Any, campaign_id: UUID) -> RecallCampaign:
        return self._campaign(campaign_id)

    def list_campaigns(self: Any, status: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self.side.query(
            "SELECT campaign_id, title, sku, batches, status, remedy, alert_id, planned_at "
            f"FROM {self.campaigns_table} "
            f"{where} ORDER BY planned_at DESC",
            params,
        )
        return [{**row, "batches": json.loads(row["batches"])} for row in rows]

    def campaign_progress(self: Any, campaign_id: UUID) -> dict[str, Any]:
        """Notices by status, how many are done (remedied or unreachable) and the share done, in percent."""
        campaign = self._campaign(campaign_id)
        rows = self.side.query(
            f"SELECT status, COUNT(*) AS n FROM {self.notices_table} WHERE campaign_id = ? GROUP BY status",
            (str(campaign_id),),
        )
        by_status = {status.value: 0 for status in NoticeStatus}
        for row in rows:
            by_status[row["status"]] = int(row["n"])
        total = sum(by_status.values())
        done = sum(by_status[s.value] for s in DONE)
        return {
            "campaign_id": str(campaign_id),
            "status": campaign.status.value,
            "customers": total,
            "by_status": by_status,
            "done": done,
            "percent_done": round(100 * done / total, 1) if total else 0.0,
            "joined_cases": len(campaign.joined_cases),
        }

    def campaign_report(self: Any, campaign_id: UUID) -> dict[str, Any]:
        """The campaign's summary: plan, dates, progress, remedies done, complaints joined, imports."""
        campaign = self._campaign(campaign_id)
        progress = self.campaign_progress(campaign_id)
        rows = self.side.query(
            f"SELECT remedy, COUNT(*) AS n FROM {self.notices_table} WHERE campaign_id = ? AND status = ? "
            "GROUP BY remedy",
            (str(campaign_id), NoticeStatus.REMEDIED.value),
        )
        view = campaign.view()
        return {
            **view,
            "progress": progress,
            "remedies_done": {row["remedy"]: int(row["n"]) for row in rows},
            "joined_cases": len(campaign.joined_cases),
            "complete": progress["customers"] > 0 and progress["done"] == progress["customers"],
        }


    def _campaign(self: Any, campaign_id: UUID) -> RecallCampaign:
        campaign = self._find(campaign_id)
        if not isinstance(campaign, RecallCampaign):
            raise NotFound(f"no recall campaign {campaign_id}")
        return campaign

    def _active_campaigns_for(self: Any, sku: str, batch: str | None) -> list[UUID]:
        rows = self.side.query(
            f"SELECT campaign_id, batches FROM {self.campaigns_table} WHERE sku = ? AND status = ? ORDER BY planned_at",
            (sku, CampaignStatus.ACTIVE.value),
        )
        return [
            UUID(row["campaign_id"])
            for row in rows
            if not json.loads(row["batches"]) or batch in json.loads(row["batches"])
        ]

    def _campaign_command(
        self: Any, campaign_id: UUID, actor: Actor, decide: Callable[[RecallCampaign, EventContext], None]
    ) -> RecallCampaign:
        conflict = None
        for _ in range(CONFLICT_RETRIES):
            campaign = self._campaign(campaign_id)
            decide(campaign, self.context(campaign_id, actor, correlation_id=campaign_id))
            try:
                self.save(
                    campaign,
                    side_writes=[
                        (
                            f"UPDATE {self.campaigns_table} SET status = ? WHERE campaign_id = ?",
                            (campaign.status.value, str(campaign_id)),
                        )
                    ],
                )
                return campaign
            except IntegrityError as error:
                conflict = error
        raise InvalidTransition("the campaign kept changing concurrently; try again") from conflict
