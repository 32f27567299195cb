"""Recalls, application: the policy on triaged complaints, and the alerts it raises.

``recall_on_triaged`` (called by ``open_resolution`` for every triaged complaint): a complaint about a product in
scope of an active campaign joins it; otherwise a quality or safety complaint is counted by its product's
``ProductWatch``, which raises a ``RecallAlert`` once per cluster or links the complaint to the alert raised. The
watch is one stream per SKU + batch, so two complaints about one product in one batch transaction (or in two
workers) conflict and are redone one by one: a cluster is never missed nor raised twice; the alert's id is derived
from the cluster (SKU, batch, window start) and its row in ``resolution_recall_alerts`` is unique too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from services.resolution.application.recalls.common import log
from services.resolution.domain.recall import (
    AlertStatus,
    LinkToAlert,
    ProductWatch,
    RaiseAlert,
    RecallAlert,
    RecallRules,
    watch_id,
)
from shared.contracts import Actor, ComplaintTriaged, EventMessage
from shared.errors import NotFound


class RecallAlerts:
    """The recall policy on triaged complaints (joining campaigns, cluster alerts) and the alert queries."""

    # --- policy -----------------------------------------------------------------------------------------------

    def recall_on_triaged(self: Any, message: EventMessage, triaged: ComplaintTriaged) -> Iterator[Any]:
        """Called for every triaged complaint (after its facts are recorded): cluster alerts, joining campaigns."""
        case_id = message.envelope.case_id
        facts = self.case_facts(case_id)
        if facts is None or not facts["sku"]:
            return  # no product named (or its receipt not seen yet): nothing to cluster or join
        rules: RecallRules = self.recall_rules
        sku, batch = facts["sku"], facts["batch"]
        category, severity = triaged.category, triaged.severity
        ctx = self.context(case_id, Actor.system(self.name), cause=message)
        if category in rules.join_categories:
            joined = False
            for campaign_id in self._active_campaigns_for(sku, batch):
                campaign = self._campaign(campaign_id)
                joined = True  # in scope of an active campaign: it joins instead of alerting
                if campaign.join(ctx, sku, batch):
                    log.info("recall.case_joined", campaign_id=str(campaign_id), case_id=str(case_id))
                    yield campaign
            if joined:
                return
        incident = category is rules.incident.category and severity is rules.incident.severity
        if not incident and (category not in rules.cluster.categories or batch is None):
            return  # a cluster is about one batch: a complaint that names none counts only as an incident
        watch = self._find(watch_id(sku, batch)) or ProductWatch.start(ctx, sku, batch)
        decision = watch.observe(ctx, case_id, facts["received_at"], category, severity, rules)
        yield watch
        if isinstance(decision, RaiseAlert):
            alert = RecallAlert.raise_alert(ctx, sku, batch, decision, rules)
            log.warning(
                "recall.alert_raised", alert_id=str(alert.id), reason=decision.reason, cases=len(decision.case_ids)
            )
            yield alert
            yield (
                f"INSERT INTO {self.alerts_table} (alert_id, sku, batch, reason, status, raised_at, case_count, "
                "campaign_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (str(alert.id), sku, batch, decision.reason, AlertStatus.OPEN.value, ctx.recorded_at.isoformat(),
                 len(decision.case_ids)),
            )  # fmt: skip
        elif isinstance(decision, LinkToAlert):
            alert = self.repository.get(decision.alert_id)
            if alert.link(ctx):
                yield alert
                yield (
                    f"UPDATE {self.alerts_table} SET case_count = ? WHERE alert_id = ?",
                    (len(alert.case_ids), str(alert.id)),
                )

    # --- alerts -----------------------------------------------------------------------------------------------

    def list_alerts(self: Any, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Alerts, newest first (``status``: open, or campaign once a campaign was planned from it)."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return self.side.query(
            f"SELECT * FROM {self.alerts_table} {where} ORDER BY raised_at DESC, alert_id LIMIT ?", [*params, limit]
        )

    def get_alert(self: Any, alert_id: UUID) -> dict[str, Any]:
        alert = self._find(alert_id)
        if not isinstance(alert, RecallAlert):
            raise NotFound(f"no recall alert {alert_id}")
        row = self.side.query(
            f"SELECT status, campaign_id FROM {self.alerts_table} WHERE alert_id = ?", (str(alert_id),)
        )
        return {**alert.view(), **(row[0] if row else {})}
