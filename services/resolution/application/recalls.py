"""Recall campaigns: cluster alerts on complaints, campaigns and their affected customers.

* ``recall_on_triaged`` (called by ``open_resolution`` for every triaged complaint): a complaint about a product
  in scope of an active campaign joins it; otherwise a quality or safety complaint is counted by its product's
  ``ProductWatch``, which raises a ``RecallAlert`` once per cluster or links the complaint to the alert raised.
  The watch is one stream per SKU + batch, so two complaints about one product in one batch transaction (or in
  two workers) conflict and are redone one by one: a cluster is never missed nor raised twice; the alert's id is
  derived from the cluster (SKU, batch, window start) and its row in ``resolution_recall_alerts`` is unique too.
* Campaign commands (plan, launch, close), the import of affected customers (one ``RecallNotice`` per order
  line, ``fan_out_batch`` aggregates per save; contacts sealed with the campaign's data key), notice statuses,
  progress and the summary report.

Side tables (same transaction as the events): ``resolution_recall_alerts``, ``resolution_recall_campaigns``,
``resolution_recall_notices`` (status per notice, for progress), and the campaign data keys in
``resolution_customer_keys`` (``shared.privacy.KeyStore``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import structlog
from eventsourcing.persistence import IntegrityError

from services.resolution.domain.recall import (
    DONE,
    AlertStatus,
    CampaignPlan,
    CampaignStatus,
    ContactChannel,
    LinkToAlert,
    NoticeStatus,
    ProductWatch,
    RaiseAlert,
    RecallAlert,
    RecallCampaign,
    RecallNotice,
    RecallRemedy,
    RecallRules,
    notice_id_for,
    watch_id,
)
from shared.configfiles import load_config
from shared.contracts import Actor, ComplaintTriaged, EventMessage
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound
from shared.eventstore import EventContext
from shared.privacy import DataKey, KeyStore, customer_id_for, key_id_of, mask_contact, master_key, normalise_contact
from shared.vocabulary import Role

log = structlog.get_logger()

RECALL_REACTIONS: dict[str, str] = {}
# Who may plan, launch and close campaigns and import their customers.
CAMPAIGN_ROLES = frozenset({Role.QUALITY_ANALYST, Role.HQ, Role.ADMIN})
# Who may record the progress of a notice (the staff who call customers and do the remedies).
NOTICE_ROLES = frozenset(
    {Role.FRONTLINE, Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.QUALITY_ANALYST, Role.TECHNICIAN, Role.ADMIN}
)
CONFLICT_RETRIES = 5
# On PostgreSQL a save's events are kept under about this many bytes (psycopg's pipeline mode hangs on saves of
# about 450 kB, see services/intake/importer.py); a notice's event is stored in about NOTICE_BYTES.
PG_BATCH_BYTES = 200_000
NOTICE_BYTES = 1_300
_ROWS_PER_INSERT = 100  # 9 parameters a row: under SQLite's oldest limit of 999 per statement
CONTACT_FIELD = "recall_contact"
Progress = Callable[[int, int], None]

# Order-list columns (and the names spreadsheets often give them).
ORDER_COLUMNS = ("order_id", "sku", "batch", "sold_on", "customer_name", "phone", "email", "language")
_ALIASES = {"customer_phone": "phone", "customer_email": "email", "name": "customer_name", "sale_date": "sold_on"}
_PHONE_DIGITS = re.compile(r"^\+?[\d ()-]{7,24}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class LineError:
    """One problem of one order line: its line in the file (the header is line 1), its order id, column, why."""

    row: int
    order_id: str | None
    field: str
    message: str


@dataclass
class RecallImportReport:
    """``rows`` = ``issued`` + ``already_issued`` + ``failed``."""

    campaign_id: str
    rows: int = 0
    issued: int = 0
    already_issued: int = 0
    failed: int = 0
    errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Line:
    row: int
    cells: dict[str, str]


@dataclass(frozen=True)
class _Affected:
    notice_id: UUID
    row: int
    order_id: str
    batch: str | None
    sold_on: date | None
    name: str | None
    phone: str | None
    email: str | None
    language: str


OrderList = Path | bytes | Iterable[Mapping[str, Any]]


def read_order_list(source: OrderList) -> list[_Line]:
    """The lines of an order list: a CSV file (path or bytes, UTF-8, BOM fine) or mappings column -> value.
    A file that is not UTF-8 CSV with an ``order_id``, ``sku`` and ``phone`` or ``email`` column is refused whole."""
    if isinstance(source, Path | bytes):
        data = source.read_bytes() if isinstance(source, Path) else source
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidValue("file", "is not UTF-8 text (save it from the spreadsheet as CSV UTF-8)") from error
        reader = csv.reader(io.StringIO(text))
        header = [_column(name) for name in next(reader, [])]
        _check_header(header)
        lines = []
        for number, cells in enumerate(reader, start=2):
            values = {
                name: value.strip() for name, value in zip(header, cells, strict=False) if value and value.strip()
            }
            if values:
                lines.append(_Line(number, values))
        return lines
    lines = []
    for number, mapping in enumerate(source, start=2):
        if not isinstance(mapping, Mapping):
            raise InvalidValue("customers", "must be a list of objects")
        cells = {_column(str(k)): str(v).strip() for k, v in mapping.items() if v is not None and str(v).strip()}
        lines.append(_Line(number, cells))
    return lines


def _column(name: str) -> str:
    name = name.strip().lower()
    return _ALIASES.get(name, name)


def _check_header(header: Sequence[str]) -> None:
    missing = [c for c in ("order_id", "sku") if c not in header]
    if not {"phone", "email"} & set(header):
        missing.append("phone or email")
    if missing:
        raise InvalidValue("file", f"missing column(s): {', '.join(missing)}", allowed=list(ORDER_COLUMNS))


def _parse_day(text: str) -> date:
    return date.fromisoformat(text.replace("/", "-").split(" ")[0].split("T")[0])


class Recalls:
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

    # --- campaigns --------------------------------------------------------------------------------------------

    def plan_campaign(self: Any, actor: Actor, plan: CampaignPlan) -> RecallCampaign:
        """Plan a recall (optionally from an alert); its customers' contacts get the campaign's own data key."""
        _may(actor, CAMPAIGN_ROLES, "plan a recall")
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
        _may(actor, CAMPAIGN_ROLES, "launch a recall")
        return self._campaign_command(campaign_id, actor, lambda c, ctx: c.launch(ctx))

    def close_campaign(self: Any, campaign_id: UUID, actor: Actor, reason: str) -> RecallCampaign:
        """Close a campaign: complaints no longer join it; its notices and report stay."""
        _may(actor, CAMPAIGN_ROLES, "close a recall")
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

    # --- affected customers -----------------------------------------------------------------------------------

    def import_recall_customers(
        self: Any, campaign_id: UUID, source: OrderList, *, actor: Actor, progress: Progress | None = None
    ) -> RecallImportReport:
        """Issue a ``RecallNotice`` per affected order line of ``source`` (see ``read_order_list``).

        Each line is checked (in the campaign's scope: SKU, batch, sale date; a phone or e-mail); each bad one is
        reported with its line and column. The contact is sealed with the campaign's data key; the notice names
        the customer by ``customer_ref`` only. Notices are saved ``fan_out_batch`` at a time (fewer on
        PostgreSQL, by bytes) with their status rows; lines imported before count as ``already_issued``.
        """
        started = time.monotonic()
        _may(actor, CAMPAIGN_ROLES, "import a recall's customers")
        campaign = self._campaign(campaign_id)
        campaign.must_take_customers()
        key = self._campaign_key(campaign_id)
        lines = read_order_list(source)
        report = RecallImportReport(campaign_id=str(campaign_id), rows=len(lines))
        size = self.recall_rules.fan_out_batch
        if self.side.is_postgres:
            size = max(1, min(size, PG_BATCH_BYTES // NOTICE_BYTES))
        blind = self.settings.blind_index_key.get_secret_value().encode()
        in_file: set[UUID] = set()
        done = 0
        for start in range(0, len(lines), size):
            chunk = lines[start : start + size]
            affected = []
            for line in chunk:
                found = self._affected(campaign, line, report)
                if found is None:
                    continue
                if found.notice_id in in_file:
                    report.errors.append(LineError(line.row, found.order_id, "order_id", "the same order line again"))
                    continue
                in_file.add(found.notice_id)
                affected.append(found)
            self._issue_notices(campaign, key, blind, affected, actor, report)
            done += len(chunk)
            if progress:
                progress(done, len(lines))
        report.failed = len(report.errors)
        self._campaign_command(
            campaign_id,
            actor,
            lambda c, ctx: c.record_import(ctx, report.rows, report.issued, report.already_issued, report.failed),
        )
        report.seconds = round(time.monotonic() - started, 3)
        log.info(
            "recall.customers_imported", campaign_id=str(campaign_id), rows=report.rows, issued=report.issued,
            already_issued=report.already_issued, failed=report.failed, seconds=report.seconds,
        )  # fmt: skip
        return report

    def _affected(self: Any, campaign: RecallCampaign, line: _Line, report: RecallImportReport) -> _Affected | None:
        cells, plan = line.cells, campaign.plan
        order_id = cells.get("order_id")

        def bad(column: str, message: str) -> None:
            report.errors.append(LineError(line.row, order_id, column, message))

        if not order_id or len(order_id) > 64:
            return bad("order_id", "is required (at most 64 characters)")
        sku, batch = cells.get("sku"), cells.get("batch")
        if sku != plan.sku:
            return bad("sku", f"not the recalled SKU {plan.sku}")
        if plan.batches and batch not in plan.batches:
            return bad("batch", f"not a recalled batch ({', '.join(plan.batches)})")
        sold_on = None
        if cells.get("sold_on"):
            try:
                sold_on = _parse_day(cells["sold_on"])
            except ValueError:
                return bad("sold_on", "not a date (YYYY-MM-DD)")
            if not plan.covers(sku, batch, sold_on):
                return bad("sold_on", f"outside the recalled sale dates ({plan.sold_from} – {plan.sold_to})")
        phone, email = cells.get("phone"), cells.get("email")
        if not phone and not email:
            return bad("phone, email", "a phone or an e-mail is needed to reach the customer")
        # The messages never repeat the value: it is personal data, and reports are logged and shown.
        if phone and (not _PHONE_DIGITS.match(phone) or not 7 <= len(re.sub(r"\D", "", phone)) <= 15):
            return bad("phone", "not a phone number")
        if email and (len(email) > 254 or not _EMAIL.match(email)):
            return bad("email", "not an e-mail address")
        name = cells.get("customer_name")
        if name and len(name) > 100:
            return bad("customer_name", "at most 100 characters")
        language = cells.get("language", "zh").lower()
        if language not in ("zh", "en"):
            return bad("language", "zh or en")
        return _Affected(
            notice_id_for(campaign.id, order_id, sku, batch), line.row, order_id, batch, sold_on, name, phone, email,
            language,
        )  # fmt: skip

    def _issue_notices(
        self: Any,
        campaign: RecallCampaign,
        key: DataKey,
        blind: bytes,
        affected: list[_Affected],
        actor: Actor,
        report: RecallImportReport,
    ) -> None:
        for _ in range(CONFLICT_RETRIES):
            existing = self._existing_notices([a.notice_id for a in affected])
            new = [a for a in affected if a.notice_id not in existing]
            if not new:
                report.already_issued += len(affected)
                return
            notices, rows = [], []
            now = self.clock.now()
            for line in new:
                ctx = EventContext(
                    case_id=line.notice_id, actor=actor, service=self.name, recorded_at=now,
                    correlation_id=campaign.id,
                )  # fmt: skip
                contact = json.dumps({"name": line.name, "phone": line.phone, "email": line.email}, ensure_ascii=False)
                customer_ref = customer_id_for(normalise_contact(line.phone, line.email), blind)
                notice = RecallNotice.issue(
                    ctx, campaign.id, customer_ref, line.order_id, campaign.plan.sku, line.batch, line.sold_on,
                    campaign.plan.remedy, line.language,
                    [kind for kind, value in (("phone", line.phone), ("email", line.email)) if value],
                    key.seal(CONTACT_FIELD, contact),
                )  # fmt: skip
                notices.append(notice)
                rows.append(
                    (str(line.notice_id), str(campaign.id), line.order_id, campaign.plan.sku, line.batch,
                     str(customer_ref), NoticeStatus.ISSUED.value, None, now.isoformat())
                )  # fmt: skip
            try:
                self.save(*notices, side_writes=self._notice_inserts(rows))
            except IntegrityError:
                continue  # another import issued some of them meanwhile: look again
            report.issued += len(new)
            report.already_issued += len(affected) - len(new)
            return
        raise InvalidTransition("the campaign's notices kept changing concurrently; import the file again")

    def _notice_inserts(self: Any, rows: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
        writes = []
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            writes.append(
                (
                    f"INSERT INTO {self.notices_table} (notice_id, campaign_id, order_id, sku, batch, customer_ref, "
                    f"status, remedy, updated_at) VALUES {marks}",
                    [value for row in chunk for value in row],
                )
            )
        return writes

    def _existing_notices(self: Any, ids: list[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        for start in range(0, len(ids), 500):
            chunk = [str(i) for i in ids[start : start + 500]]
            if not chunk:
                continue
            marks = ", ".join(["?"] * len(chunk))
            rows = self.side.query(f"SELECT notice_id FROM {self.notices_table} WHERE notice_id IN ({marks})", chunk)
            found |= {UUID(row["notice_id"]) for row in rows}
        return found

    def _campaign_key(self: Any, campaign_id: UUID) -> DataKey:
        rows = self.side.query(f"SELECT key_id FROM {self.campaigns_table} WHERE campaign_id = ?", (str(campaign_id),))
        key = self.recall_keys.find(rows[0]["key_id"]) if rows else None
        if key is None:
            raise InvalidTransition("the campaign's data key is gone (erased): its customers cannot be sealed")
        return key

    # --- notices ----------------------------------------------------------------------------------------------

    def mark_notice(
        self: Any,
        notice_id: UUID,
        actor: Actor,
        status: NoticeStatus,
        *,
        channel: ContactChannel | None = None,
        remedy: RecallRemedy | None = None,
        note: str | None = None,
    ) -> RecallNotice:
        """Record a notice's progress: contacted (by ``channel``), responded, remedied (``remedy``, the campaign's
        by default) or unreachable. 409 for a move its status does not allow."""
        _may(actor, NOTICE_ROLES, "record a recall notice's progress")

        def decide(notice: RecallNotice, ctx: EventContext) -> None:
            if status is NoticeStatus.CONTACTED:
                if channel is None:
                    raise InvalidValue("channel", "is required", allowed=[c.value for c in ContactChannel])
                notice.contacted(ctx, channel, note)
            elif status is NoticeStatus.RESPONDED:
                notice.responded(ctx, note)
            elif status is NoticeStatus.REMEDIED:
                notice.remedied(ctx, remedy, note)
            elif status is NoticeStatus.UNREACHABLE:
                notice.unreachable(ctx, note)
            else:
                raise InvalidValue("status", "a notice is issued only by an import",
                                   allowed=[s.value for s in NoticeStatus if s is not NoticeStatus.ISSUED])  # fmt: skip

        conflict = None
        for attempt in range(CONFLICT_RETRIES):
            notice = self.get_notice(notice_id)
            if note and attempt == 0:
                # The customer's own name, phone and e-mail typed into the note are masked (then any number).
                note = mask_contact(note, self._contact_of(notice))
            ctx = self.context(notice_id, actor, correlation_id=notice.campaign_id)
            decide(notice, ctx)
            last = notice.pending_events[-1]
            update = (
                f"UPDATE {self.notices_table} SET status = ?, remedy = ?, updated_at = ? WHERE notice_id = ?",
                (notice.status.value, getattr(last, "remedy", None), ctx.recorded_at.isoformat(), str(notice_id)),
            )
            try:
                self.save(notice, side_writes=[update])
                return notice
            except IntegrityError as error:
                conflict = error
        raise InvalidTransition("the notice kept changing concurrently; try again") from conflict

    def _contact_of(self: Any, notice: RecallNotice) -> dict[str, str | None]:
        key = self.recall_keys.find(key_id_of(notice.contact_sealed))
        return json.loads(key.open(notice.contact_sealed, CONTACT_FIELD)) if key else {}

    def get_notice(self: Any, notice_id: UUID) -> RecallNotice:
        notice = self._find(notice_id)
        if not isinstance(notice, RecallNotice):
            raise NotFound(f"no recall notice {notice_id}")
        return notice

    def list_notices(
        self: Any, campaign_id: UUID, status: NoticeStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A page of a campaign's notices (no contact details), in order-id order."""
        self._campaign(campaign_id)
        where, params = "WHERE campaign_id = ?", [str(campaign_id)]
        if status is not None:
            where, params = where + " AND status = ?", [*params, status.value]
        return self.side.query(
            "SELECT notice_id, order_id, sku, batch, customer_ref, status, remedy, updated_at "
            f"FROM {self.notices_table} "
            f"{where} ORDER BY order_id, notice_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    # --- helpers ----------------------------------------------------------------------------------------------

    def _find(self: Any, aggregate_id: UUID) -> Any:
        return self.repository.get(aggregate_id) if aggregate_id in self.repository else None

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


def _may(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"role {actor.role.value!r} may not {what} (allowed: {', '.join(sorted(roles))})")
