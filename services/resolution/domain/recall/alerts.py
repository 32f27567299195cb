"""Recalls, pure: the early signal from complaint clusters.

* ``RecallRules`` (config/recall.yaml): when complaints make a cluster (``ClusterRule``), when one complaint is
  enough (``IncidentRule``), which complaints join an active campaign, the fan-out batch size.
* ``ProductWatch``: the quality and safety complaints about one product (SKU + batch), in the order they are
  triaged; it decides when they make a cluster and whether a complaint starts a new alert or belongs to the one
  already raised. Internal (no contract).
* ``RecallAlert``: one per cluster, to the quality team, with every member case linked. Its id is derived from
  the SKU, the batch and the cluster's window start, so one cluster can never be raised twice.

Instants come in as arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.resolution.domain.recall.common import alert_id_for, watch_id
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Category, Severity

# --- configuration ---------------------------------------------------------------------------------------------


class ClusterRule(BaseModel):
    """``threshold`` complaints of ``categories`` about one SKU + batch whose receipts span at most ``window``."""

    categories: list[Category] = [Category.PRODUCT_QUALITY, Category.SAFETY]
    threshold: int = Field(default=3, ge=1)
    window: timedelta = timedelta(days=7)


class IncidentRule(BaseModel):
    """One complaint of this category and severity raises an alert on its own."""

    category: Category = Category.SAFETY
    severity: Severity = Severity.CRITICAL


class RecallRules(BaseModel):
    """config/recall.yaml."""

    cluster: ClusterRule = ClusterRule()
    incident: IncidentRule = IncidentRule()
    alert_team: str = "quality"
    # Complaints of these categories about an in-scope product join an active campaign (instead of alerting).
    join_categories: list[Category] = [Category.PRODUCT_QUALITY, Category.SAFETY, Category.AFTER_SALES]
    # Notices per save of a fan-out (SQLite); PostgreSQL saves are also bounded by bytes (see the application).
    fan_out_batch: int = Field(default=1000, ge=1, le=5000)


# --- the cluster signal ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    case_id: UUID
    received_at: datetime
    alert_id: UUID | None


@dataclass(frozen=True)
class RaiseAlert:
    alert_id: UUID
    reason: str  # "cluster" | "critical_incident"
    case_ids: list[UUID]
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class LinkToAlert:
    alert_id: UUID


Decision = RaiseAlert | LinkToAlert | None


class ProductWatch(CaseAggregate):
    """The quality and safety complaints about one SKU + batch, and the alerts they raised."""

    class WatchStarted(CaseAggregate.Created):
        sku: str
        batch: str | None

    def __init__(self, envelope: dict[str, Any], sku: str, batch: str | None) -> None:
        self.sku = sku
        self.batch = batch
        self.seen: dict[UUID, Seen] = {}
        self.alert_id: UUID | None = None  # the latest alert
        self.alert_last_at: datetime | None = None  # its latest member's receipt

    @classmethod
    def start(cls, ctx: EventContext, sku: str, batch: str | None) -> ProductWatch:
        return cls._start(cls.WatchStarted, watch_id(sku, batch), ctx, sku=sku, batch=batch)

    class ComplaintWatched(CaseAggregate.Event):
        case_id: UUID
        received_at: datetime
        category: str
        severity: str
        alert_id: UUID | None
        new_alert: bool
        members: list[UUID]

        def apply(self, aggregate: ProductWatch) -> None:
            aggregate.seen[self.case_id] = Seen(self.case_id, self.received_at, self.alert_id)
            if self.new_alert:
                for member in self.members:
                    aggregate.seen[member] = Seen(member, aggregate.seen[member].received_at, self.alert_id)
            if self.alert_id is not None:
                aggregate.alert_id = self.alert_id
                times = [self.received_at, *(aggregate.seen[m].received_at for m in self.members)]
                if not self.new_alert and aggregate.alert_last_at is not None:
                    times.append(aggregate.alert_last_at)
                aggregate.alert_last_at = max(times)

    def observe(
        self,
        ctx: EventContext,
        case_id: UUID,
        received_at: datetime,
        category: Category,
        severity: Severity,
        rules: RecallRules,
    ) -> Decision:
        """Count a triaged complaint about this product: raise an alert for a new cluster (or a critical safety
        incident), link it to the alert already raised while its cluster is still going, or just count it.

        A complaint seen before is ignored (None). Windows are inclusive: receipts exactly ``window`` apart are in.
        """
        incident = category is rules.incident.category and severity is rules.incident.severity
        if case_id in self.seen or not (incident or category in rules.cluster.categories):
            return None
        window = rules.cluster.window
        decision: Decision = None
        if self.alert_id is not None and self.alert_last_at is not None and received_at <= self.alert_last_at + window:
            decision = LinkToAlert(self.alert_id)
        elif incident:
            members = [
                s.case_id
                for s in self.seen.values()
                if s.alert_id is None and abs(received_at - s.received_at) <= window
            ]
            decision = RaiseAlert(
                alert_id_for(self.sku, self.batch, received_at),
                "critical_incident",
                [*members, case_id],
                received_at,
                received_at,
            )
        else:
            decision = self._cluster(case_id, received_at, rules.cluster)
        if isinstance(decision, RaiseAlert):
            members = [m for m in decision.case_ids if m != case_id]
            self._record(
                self.ComplaintWatched, ctx, case_id=case_id, received_at=received_at, category=category.value,
                severity=severity.value, alert_id=decision.alert_id, new_alert=True, members=members,
            )  # fmt: skip
        else:
            self._record(
                self.ComplaintWatched, ctx, case_id=case_id, received_at=received_at, category=category.value,
                severity=severity.value, alert_id=decision.alert_id if decision else None, new_alert=False, members=[],
            )  # fmt: skip
        return decision

    def _cluster(self, case_id: UUID, received_at: datetime, rule: ClusterRule) -> RaiseAlert | None:
        # Complaints not yet in an alert, with this one; the earliest window [start, start + window] holding it and
        # at least ``threshold`` of them is the cluster (any new cluster must hold the new complaint).
        free = sorted(
            [(s.received_at, s.case_id) for s in self.seen.values() if s.alert_id is None] + [(received_at, case_id)]
        )
        for start, _ in free:
            end = start + rule.window
            if not start <= received_at <= end:
                continue
            members = [(at, member) for at, member in free if start <= at <= end]
            if len(members) >= rule.threshold:
                return RaiseAlert(
                    alert_id_for(self.sku, self.batch, start),
                    "cluster",
                    [member for _, member in members],
                    start,
                    members[-1][0],
                )
        return None


class AlertStatus(StrEnum):
    OPEN = "open"
    CAMPAIGN = "campaign"


class RecallAlert(CaseAggregate):
    """A recall alert to the quality team: one cluster of complaints about one product, every member linked."""

    class RecallAlertRaised(CaseAggregate.Created):
        alert_id: UUID
        sku: str
        batch: str | None
        reason: str
        case_ids: list[UUID]
        window_start: datetime
        window_end: datetime
        threshold: int
        window_seconds: int
        team: str

    def __init__(
        self,
        envelope: dict[str, Any],
        alert_id: UUID,
        sku: str,
        batch: str | None,
        reason: str,
        case_ids: list[UUID],
        window_start: datetime,
        window_end: datetime,
        threshold: int,
        window_seconds: int,
        team: str,
    ) -> None:
        self.sku = sku
        self.batch = batch
        self.reason = reason
        self.case_ids = list(case_ids)
        self.window_start = window_start
        self.window_end = window_end
        self.team = team
        self.raised_at = datetime.fromisoformat(envelope["recorded_at"])

    @classmethod
    def raise_alert(
        cls, ctx: EventContext, sku: str, batch: str | None, decision: RaiseAlert, rules: RecallRules
    ) -> RecallAlert:
        return cls._start(
            cls.RecallAlertRaised,
            decision.alert_id,
            ctx,
            alert_id=decision.alert_id,
            sku=sku,
            batch=batch,
            reason=decision.reason,
            case_ids=decision.case_ids,
            window_start=decision.window_start,
            window_end=decision.window_end,
            threshold=1 if decision.reason == "critical_incident" else rules.cluster.threshold,
            window_seconds=int(rules.cluster.window.total_seconds()),
            team=rules.alert_team,
        )

    class RecallAlertCaseLinked(CaseAggregate.Event):
        alert_id: UUID
        sku: str
        batch: str | None

        def apply(self, aggregate: RecallAlert) -> None:
            aggregate.case_ids.append(UUID(self.envelope["case_id"]))

    def link(self, ctx: EventContext) -> bool:
        """Link the context's case to this alert (False if it is linked already)."""
        if ctx.case_id in self.case_ids:
            return False
        self._record(self.RecallAlertCaseLinked, ctx, alert_id=self.id, sku=self.sku, batch=self.batch)
        return True

    def view(self) -> dict[str, Any]:
        return {
            "alert_id": str(self.id),
            "sku": self.sku,
            "batch": self.batch,
            "reason": self.reason,
            "team": self.team,
            "raised_at": self.raised_at.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "case_ids": [str(c) for c in self.case_ids],
        }
