"""Recalls (召回), pure: the early signal from complaint clusters, campaigns and the notice to each affected customer.

* ``ProductWatch``: the quality and safety complaints about one product (SKU + batch), in the order they are
  triaged; it decides when they make a cluster (``RecallRules``) and whether a complaint starts a new alert or
  belongs to the one already raised. Internal (no contract).
* ``RecallAlert``: one per cluster, to the quality team, with every member case linked. Its id is derived from
  the SKU, the batch and the cluster's window start, so one cluster can never be raised twice.
* ``RecallCampaign``: the plan (scope, hazard, remedy, announcement), its launch, the complaints that join it.
* ``RecallNotice``: one per affected order line: the customer is contacted → responds → is remedied, or is
  unreachable. Contact details are sealed (a token); the events name the customer by a pseudonym only.

Modules: ``alerts`` (the rules, ``ProductWatch``, ``RecallAlert``), ``campaign`` (``RecallCampaign`` and its plan),
``notice`` (``RecallNotice``), ``common`` (the derived ids and the free-text checks). Every name is re-exported
here: events stored before the split carry topics such as ``services.resolution.domain.recall:RecallCampaign.
RecallCampaignPlanned``, which resolve through this package, so every aggregate must stay importable from it.

Instants come in as arguments; nothing here reads a clock or a database.
"""

from services.resolution.domain.recall.alerts import (
    AlertStatus,
    ClusterRule,
    Decision,
    IncidentRule,
    LinkToAlert,
    ProductWatch,
    RaiseAlert,
    RecallAlert,
    RecallRules,
    Seen,
)
from services.resolution.domain.recall.campaign import (
    Announcement,
    CampaignPlan,
    CampaignStatus,
    RecallCampaign,
    RecallRemedy,
)
from services.resolution.domain.recall.common import (
    RECALL_NAMESPACE,
    TEXT_MAX,
    alert_id_for,
    notice_id_for,
    watch_id,
)
from services.resolution.domain.recall.notice import DONE, ContactChannel, NoticeStatus, RecallNotice

__all__ = [
    "DONE",
    "RECALL_NAMESPACE",
    "TEXT_MAX",
    "AlertStatus",
    "Announcement",
    "CampaignPlan",
    "CampaignStatus",
    "ClusterRule",
    "ContactChannel",
    "Decision",
    "IncidentRule",
    "LinkToAlert",
    "NoticeStatus",
    "ProductWatch",
    "RaiseAlert",
    "RecallAlert",
    "RecallCampaign",
    "RecallNotice",
    "RecallRemedy",
    "RecallRules",
    "Seen",
    "alert_id_for",
    "notice_id_for",
    "watch_id",
]
