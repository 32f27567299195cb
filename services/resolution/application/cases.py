"""The resolution of each case: the facts resolution keeps about it, and the ``Resolution`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.resolution.domain import Resolution
from shared.contracts import Actor, ComplaintReceived, ComplaintTriaged, EventMessage
from shared.eventstore import aggregate_id

CASE_REACTIONS = {"ComplaintReceived": "record_case_facts", "ComplaintTriaged": "open_resolution"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (sorts and indexes alike on SQLite and PostgreSQL)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


class CaseWork:
    """Opens a resolution for every triaged case and keeps the case facts the rules need (no personal data)."""

    def init_cases(self: Any) -> None:
        """Create ``resolution_cases``: per case, the product, order, amount and classification."""
        self.facts_table = self.side.table("cases")
        self.side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.facts_table} (case_id TEXT PRIMARY KEY, "
                    "case_number TEXT NOT NULL, store_id TEXT NOT NULL, customer_id TEXT NOT NULL, sku TEXT, "
                    "batch TEXT, order_id TEXT, amount_paid TEXT, channel TEXT NOT NULL, language TEXT NOT NULL, "
                    "received_at BIGINT NOT NULL, category TEXT, severity TEXT)",
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS {self.side.prefix}_cases_by_product "
                    f"ON {self.facts_table} (sku, batch, received_at)",
                    (),
                ),
            ]
        )

    def record_case_facts(self: Any, message: EventMessage, complaint: ComplaintReceived) -> Iterator[Any]:
        """Policy: keep what the rules of resolution, returns and recalls need to know about the case."""
        yield (
            f"INSERT INTO {self.facts_table} (case_id, case_number, store_id, customer_id, sku, batch, order_id, "
            "amount_paid, channel, language, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (case_id) DO NOTHING",
            (
                str(message.envelope.case_id),
                complaint.case_number,
                complaint.store_id,
                str(complaint.customer_id),
                complaint.sku,
                complaint.batch,
                complaint.order_id,
                None if complaint.amount_paid is None else str(complaint.amount_paid),
                complaint.channel.value,
                complaint.language,
                micros(message.envelope.recorded_at),
            ),
        )

    def open_resolution(self: Any, message: EventMessage, triaged: ComplaintTriaged) -> Iterator[Any]:
        """Policy: a triaged complaint gets a resolution; its facts learn the category and severity."""
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield Resolution.open(
            aggregate_id(ctx.case_id, self.name),
            ctx,
            category=triaged.category.value,
            severity=triaged.severity.value,
        )
        yield (
            f"UPDATE {self.facts_table} SET category = ?, severity = ? WHERE case_id = ?",
            (triaged.category.value, triaged.severity.value, str(ctx.case_id)),
        )
        yield from self.recall_on_triaged(message, triaged)

    def case_facts(self: Any, case_id: UUID) -> dict[str, Any] | None:
        """What resolution knows of a case from intake and routing, or None before its complaint arrived."""
        rows = self.side.query(f"SELECT * FROM {self.facts_table} WHERE case_id = ?", (str(case_id),))
        if not rows:
            return None
        row = dict(rows[0])
        row["amount_paid"] = None if row["amount_paid"] is None else Decimal(row["amount_paid"])
        row["received_at"] = _EPOCH + timedelta(microseconds=row["received_at"])
        return row
