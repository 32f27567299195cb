"""Recalls, application: the import of a campaign's affected customers (the fan-out).

One ``RecallNotice`` per order line of the list, ``fan_out_batch`` aggregates per save (fewer on PostgreSQL,
bounded by bytes), each with its status row in ``resolution_recall_notices``; each contact sealed under a data key
of its customer's own (erasing the customer destroys it), the customer named by a pseudonym (``customer_ref``)
only. Importing a line again issues nothing.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.resolution.application.recalls.common import (
    _ROWS_PER_INSERT,
    CONFLICT_RETRIES,
    CONTACT_FIELD,
    NOTICE_BYTES,
    PG_BATCH_BYTES,
    Progress,
    log,
)
from services.resolution.application.recalls.orderlist import (
    _EMAIL,
    _PHONE_DIGITS,
    LineError,
    OrderList,
    RecallImportReport,
    _Affected,
    _Line,
    _parse_day,
    read_order_list,
)
from services.resolution.domain.recall import NoticeStatus, RecallCampaign, RecallNotice, notice_id_for
from shared.contracts import Actor
from shared.errors import InvalidTransition
from shared.eventstore import EventContext
from shared.keys import blind_index_key
from shared.privacy import DataKey, customer_id_for, normalise_contact


class RecallCustomers:
    """The import of a campaign's affected customers: one notice per order line."""

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
        campaign = self._campaign(campaign_id)
        campaign.must_take_customers()
        self._campaign_key(campaign_id)  # refuses a campaign whose key was destroyed
        lines = read_order_list(source)
        report = RecallImportReport(campaign_id=str(campaign_id), rows=len(lines))
        size = self.recall_rules.fan_out_batch
        if self.side.is_postgres:
            size = max(1, min(size, PG_BATCH_BYTES // NOTICE_BYTES))
        blind = blind_index_key(self.settings)
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
            self._issue_notices(campaign, blind, affected, actor, report)
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
                    # Each contact under a key of its own customer, so erasing that customer destroys it.
                    self.recall_keys.issue(customer_ref, line.notice_id).seal(CONTACT_FIELD, contact),
                )  # fmt: skip
                notices.append(notice)
                rows.append(
                    (str(line.notice_id), str(campaign.id), line.order_id, campaign.plan.sku, line.batch,
                     str(customer_ref), NoticeStatus.ISSUED.value, None, now.isoformat())
                )  # fmt: skip
            try:
                keys = self.recall_keys.writes_for(*(notice.id for notice in notices))
                self.save(*notices, side_writes=[*self._notice_inserts(rows), *keys])
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
