"""Recall campaigns: cluster alerts on complaints, campaigns and their affected customers.

* ``recall_on_triaged`` (called by ``open_resolution`` for every triaged complaint): a complaint about a product
  in scope of an active campaign joins it; otherwise a quality or safety complaint is counted by its product's
  ``ProductWatch``, which raises a ``RecallAlert`` once per cluster or links the complaint to the alert raised.
  The watch is one stream per SKU + batch, so two complaints about one product in one batch transaction (or in
  two workers) conflict and are redone one by one: a cluster is never missed nor raised twice; the alert's id is
  derived from the cluster (SKU, batch, window start) and its row in ``resolution_recall_alerts`` is unique too.
* Campaign commands (plan, launch, close), the import of affected customers (one ``RecallNotice`` per order
  line, ``fan_out_batch`` aggregates per save; each contact sealed under a data key of its own customer, which
  the customer's erasure destroys: policy ``erase_recall_contacts`` on intake's ``CustomerErased``), notice
  statuses, progress and the summary report.

Side tables (same transaction as the events): ``resolution_recall_alerts``, ``resolution_recall_campaigns``,
``resolution_recall_notices`` (status per notice, for progress), and the campaign and customer data keys in
``resolution_customer_keys`` (``shared.privacy.KeyStore``).

Modules: ``alerts`` (the policy on triaged complaints, alert queries), ``campaigns`` (campaign commands, progress,
report), ``customers`` (the import of affected customers), ``notices`` (notice progress and queries), ``orderlist``
(reading an order list, the import report) and ``common`` (roles, retries, batch sizes). ``Recalls`` composes
their mixins; every name the single module had is importable from here.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.resolution.application.recalls.alerts import RecallAlerts
from services.resolution.application.recalls.campaigns import RecallCampaigns
from services.resolution.application.recalls.common import (
    CONFLICT_RETRIES,
    CONTACT_FIELD,
    NOTICE_BYTES,
    PG_BATCH_BYTES,
    RECALL_REACTIONS,
    Progress,
    log,
)
from services.resolution.application.recalls.customers import RecallCustomers
from services.resolution.application.recalls.notices import RecallNotices
from services.resolution.application.recalls.orderlist import (
    ORDER_COLUMNS,
    LineError,
    OrderList,
    RecallImportReport,
    read_order_list,
)
from services.resolution.domain.recall import RecallRules
from shared.configfiles import load_config
from shared.privacy import KeyStore, master_key

__all__ = [
    "CONFLICT_RETRIES",
    "CONTACT_FIELD",
    "NOTICE_BYTES",
    "ORDER_COLUMNS",
    "PG_BATCH_BYTES",
    "RECALL_REACTIONS",
    "LineError",
    "OrderList",
    "Progress",
    "RecallAlerts",
    "RecallCampaigns",
    "RecallCustomers",
    "RecallImportReport",
    "RecallNotices",
    "Recalls",
    "log",
    "read_order_list",
]


class Recalls(RecallAlerts, RecallCampaigns, RecallCustomers, RecallNotices):
    """The recall commands and policies of the resolution service."""

    # --- setup ------------------------------------------------------------------------------------------------

    def init_recalls(self: Any) -> None:
        """Load the recall rules and create the tables recalls need."""
        self.recall_rules = load_config(self.settings.config_dir / "recall.yaml", RecallRules)
        self.recall_keys = KeyStore(self.side, master_key(self.settings), self.clock)
        self.alerts_table = self.side.table("recall_alerts")
        self.campaigns_table = self.side.table("recall_campaigns")
        self.notices_table = self.side.table("recall_notices")
        prefix = self.side.prefix
        self.side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.alerts_table} (alert_id TEXT PRIMARY KEY, sku TEXT NOT NULL, "
                    "batch TEXT, reason TEXT NOT NULL, status TEXT NOT NULL, raised_at TEXT NOT NULL, "
                    "case_count INTEGER NOT NULL, campaign_id TEXT)",
                    (),
                ),
                (
                    f"CREATE TABLE IF NOT EXISTS {self.campaigns_table} (campaign_id TEXT PRIMARY KEY, "
                    "title TEXT NOT NULL, sku TEXT NOT NULL, batches TEXT NOT NULL, status TEXT NOT NULL, "
                    "remedy TEXT NOT NULL, alert_id TEXT, key_id TEXT NOT NULL, planned_at TEXT NOT NULL)",
                    (),
                ),
                (f"CREATE INDEX IF NOT EXISTS {prefix}_recall_campaigns_by_sku ON {self.campaigns_table} (sku)", ()),
                (
                    f"CREATE TABLE IF NOT EXISTS {self.notices_table} (notice_id TEXT PRIMARY KEY, "
                    "campaign_id TEXT NOT NULL, order_id TEXT NOT NULL, sku TEXT NOT NULL, batch TEXT, "
                    "customer_ref TEXT NOT NULL, status TEXT NOT NULL, remedy TEXT, updated_at TEXT NOT NULL)",
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS {prefix}_recall_notices_by_campaign "
                    f"ON {self.notices_table} (campaign_id, status)",
                    (),
                ),
            ]
        )

    # --- helpers ----------------------------------------------------------------------------------------------

    def _find(self: Any, aggregate_id: UUID) -> Any:
        return self.repository.get(aggregate_id) if aggregate_id in self.repository else None
