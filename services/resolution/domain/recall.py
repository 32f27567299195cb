"""Recalls (召回), pure: the early signal from complaint clusters, campaigns and the notice to each affected customer.

* ``ProductWatch``: the quality and safety complaints about one product (SKU + batch), in the order they are
  triaged; it decides when they make a cluster (``RecallRules``) and whether a complaint starts a new alert or
  belongs to the one already raised. Internal (no contract).
* ``RecallAlert``: one per cluster, to the quality team, with every member case linked. Its id is derived from
  the SKU, the batch and the cluster's window start, so one cluster can never be raised twice.
* ``RecallCampaign``: the plan (scope, hazard, remedy, announcement), its launch, the complaints that join it.
* ``RecallNotice``: one per affected order line: the customer is contacted → responds → is remedied, or is
  unreachable. Contact details are sealed (a token); the events name the customer by a pseudonym only.

Instants come in as arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, Field

from shared.errors import InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.privacy import mask_contact
from shared.vocabulary import Category, Severity

RECALL_NAMESPACE = uuid5(NAMESPACE_URL, "https://ombud/recall")
TEXT_MAX = 2000


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


# --- ids -------------------------------------------------------------------------------------------------------


def _batch_key(batch: str | None) -> str:
    return batch or ""


def watch_id(sku: str, batch: str | None) -> UUID:
    """The ``ProductWatch`` of one SKU + batch."""
    return uuid5(RECALL_NAMESPACE, f"watch|{sku}|{_batch_key(batch)}")


def alert_id_for(sku: str, batch: str | None, window_start: datetime) -> UUID:
    """The alert of the cluster of ``sku`` + ``batch`` whose window starts at ``window_start``: a cluster has one id,
    so raising it twice (a redelivery, two workers) is a version conflict, never a second alert."""
    return uuid5(RECALL_NAMESPACE, f"alert|{sku}|{_batch_key(batch)}|{window_start.isoformat()}")


def notice_id_for(campaign_id: UUID, order_id: str, sku: str, batch: str | None) -> UUID:
    """The notice of one order line of a campaign: importing the line again adds nothing."""
    return uuid5(campaign_id, f"notice|{order_id}|{sku}|{_batch_key(batch)}")


def _text(field: str, value: str | None, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidValue(field, "is required and must not be blank")
        return None
    if len(value) > TEXT_MAX:
        raise InvalidValue(field, f"must be at most {TEXT_MAX} characters")
    return value.strip()


def _note(value: str | None) -> str | None:
    # Staff notes are free text: contact details typed into them are masked before they are recorded.
    text = _text("note", value, required=False)
    return mask_contact(text) if text else None


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

    zh: str = Field(min_length=1, max_length=TEXT_MAX)
    en: str = Field(min_length=1, max_length=TEXT_MAX)


class CampaignPlan(BaseModel):
    """What a campaign recalls and how: scope (SKU, batches — none means every batch — sale dates), hazard, remedy."""

    title: str = Field(min_length=1, max_length=200)
    sku: str = Field(min_length=1, max_length=64)
    batches: list[str] = []
    sold_from: date | None = None
    sold_to: date | None = None
    hazard: str = Field(min_length=1, max_length=TEXT_MAX)
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


# --- notices to affected customers ------------------------------------------------------------------------------


class NoticeStatus(StrEnum):
    ISSUED = "issued"
    CONTACTED = "contacted"
    RESPONDED = "responded"
    REMEDIED = "remedied"
    UNREACHABLE = "unreachable"


# Which statuses each status may be reached from. An unreachable customer found later is contacted after all.
_FROM: dict[NoticeStatus, frozenset[NoticeStatus]] = {
    NoticeStatus.CONTACTED: frozenset({NoticeStatus.ISSUED, NoticeStatus.UNREACHABLE}),
    NoticeStatus.RESPONDED: frozenset({NoticeStatus.CONTACTED}),
    NoticeStatus.REMEDIED: frozenset({NoticeStatus.CONTACTED, NoticeStatus.RESPONDED}),
    NoticeStatus.UNREACHABLE: frozenset({NoticeStatus.ISSUED, NoticeStatus.CONTACTED}),
}
_STATUS_OF = {f"RecallNotice{status.value.capitalize()}": status for status in NoticeStatus}
# A notice is done (counts towards % done) once remedied or the customer could not be reached.
DONE = frozenset({NoticeStatus.REMEDIED, NoticeStatus.UNREACHABLE})


class ContactChannel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    STORE = "store"
    APP = "app"


class RecallNotice(CaseAggregate):
    """The recall notice to one affected order line's customer, tracked to completion."""

    class RecallNoticeIssued(CaseAggregate.Created):
        notice_id: UUID
        campaign_id: UUID
        customer_ref: UUID
        order_id: str
        sku: str
        batch: str | None
        sold_on: str | None
        remedy: str
        language: str
        channels: list[str]
        contact_sealed: str  # private: never in the contract

    def __init__(
        self,
        envelope: dict[str, Any],
        notice_id: UUID,
        campaign_id: UUID,
        customer_ref: UUID,
        order_id: str,
        sku: str,
        batch: str | None,
        sold_on: str | None,
        remedy: str,
        language: str,
        channels: list[str],
        contact_sealed: str,
    ) -> None:
        self.campaign_id = campaign_id
        self.customer_ref = customer_ref
        self.order_id = order_id
        self.sku = sku
        self.batch = batch
        self.sold_on = sold_on
        self.remedy = remedy
        self.language = language
        self.channels = channels
        self.contact_sealed = contact_sealed
        self.status = NoticeStatus.ISSUED
        self.history: list[dict[str, Any]] = [{"status": "issued", "at": envelope["recorded_at"]}]

    @classmethod
    def issue(
        cls,
        ctx: EventContext,
        campaign_id: UUID,
        customer_ref: UUID,
        order_id: str,
        sku: str,
        batch: str | None,
        sold_on: date | None,
        remedy: RecallRemedy,
        language: str,
        channels: list[str],
        contact_sealed: str,
    ) -> RecallNotice:
        """The notice for one order line; ``ctx.case_id`` is its id (``notice_id_for``)."""
        return cls._start(
            cls.RecallNoticeIssued, ctx.case_id, ctx, notice_id=ctx.case_id, campaign_id=campaign_id,
            customer_ref=customer_ref, order_id=order_id, sku=sku, batch=batch,
            sold_on=sold_on.isoformat() if sold_on else None, remedy=remedy.value, language=language,
            channels=channels, contact_sealed=contact_sealed,
        )  # fmt: skip

    class _StatusEvent(CaseAggregate.Event):
        notice_id: UUID
        campaign_id: UUID
        note: str | None

        def apply(self, aggregate: RecallNotice) -> None:
            aggregate.status = _STATUS_OF[type(self).__name__]
            envelope = self.envelope
            aggregate.history.append(
                {"status": aggregate.status.value, "at": envelope["recorded_at"], "by": envelope["actor"]["id"]}
            )

    class RecallNoticeContacted(_StatusEvent):
        channel: str

    class RecallNoticeResponded(_StatusEvent):
        pass

    class RecallNoticeRemedied(_StatusEvent):
        remedy: str

    class RecallNoticeUnreachable(_StatusEvent):
        pass

    def _move(self, to: NoticeStatus, event_class: type[Any], ctx: EventContext, note: str | None, **more: Any) -> None:
        if self.status not in _FROM[to]:
            raise InvalidTransition(f"the notice is {self.status.value}; it cannot become {to.value}")
        self._record(event_class, ctx, notice_id=self.id, campaign_id=self.campaign_id, note=_note(note), **more)

    def contacted(self, ctx: EventContext, channel: ContactChannel, note: str | None = None) -> None:
        """The customer was told of the recall (by phone, SMS, e-mail, letter, in store or in the app)."""
        self._move(NoticeStatus.CONTACTED, self.RecallNoticeContacted, ctx, note, channel=channel.value)

    def responded(self, ctx: EventContext, note: str | None = None) -> None:
        """The customer answered (e.g. booked the repair, will bring the product back)."""
        self._move(NoticeStatus.RESPONDED, self.RecallNoticeResponded, ctx, note)

    def remedied(self, ctx: EventContext, remedy: RecallRemedy | None = None, note: str | None = None) -> None:
        """The free repair, replacement or refund was done (the campaign's remedy unless another is named)."""
        done = (remedy or RecallRemedy(self.remedy)).value
        self._move(NoticeStatus.REMEDIED, self.RecallNoticeRemedied, ctx, note, remedy=done)

    def unreachable(self, ctx: EventContext, note: str | None = None) -> None:
        """Every way of reaching the customer failed."""
        self._move(NoticeStatus.UNREACHABLE, self.RecallNoticeUnreachable, ctx, note)

    def view(self) -> dict[str, Any]:
        """The notice without contact details (those are sealed; only the customer's pseudonym is shown)."""
        return {
            "notice_id": str(self.id),
            "campaign_id": str(self.campaign_id),
            "customer_ref": str(self.customer_ref),
            "order_id": self.order_id,
            "sku": self.sku,
            "batch": self.batch,
            "sold_on": self.sold_on,
            "remedy": self.remedy,
            "language": self.language,
            "channels": self.channels,
            "status": self.status.value,
            "history": self.history,
        }
