"""Events of returns and exchanges (RMA), published by resolution.

Each event belongs to one ``ReturnRequest`` (``request_id``) and carries its case's envelope, so it shows in the
case's timeline. Routing runs the clocks from them: the review (24 h) from ``ReturnRequested`` until
``ReturnReviewed``; the refund (7 days) from ``ReturnGoodsReceived.received_at`` until ``ReturnRefunded``.
No personal data: a return names the product, dates and codes, never the customer.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from shared.contracts.base import Contract, _Money


class _ReturnEvent(Contract):
    request_id: UUID


class ReturnRequested(_ReturnEvent):
    """A customer asked to return, exchange or repair goods; the rules decided whether they may, and why.

    ``eligible`` false is a refusal by rule (``rule`` and ``explanation`` say which and why); it still awaits a
    staff review. ``shipping_paid_by`` is ``seller`` or ``customer`` (None when not eligible)."""

    producer: ClassVar[str] = "resolution"
    number: int
    kind: str
    reason: str
    sku: str
    sale: str
    purchased_on: date
    received_on: date
    opened: bool
    has_inspection_report: bool
    eligible: bool
    rule: str
    explanation: dict[str, str]
    shipping_paid_by: str | None = None
    last_day: date | None = None


class ReturnReviewed(_ReturnEvent):
    """Staff approved or refused the request; ``override`` marks an approval against the rule (a manager's
    goodwill exception)."""

    producer: ClassVar[str] = "resolution"
    approved: bool
    reason: str | None = None
    override: bool = False


class ReturnGoodsReceived(_ReturnEvent):
    """The goods came back (the refund clock runs from ``received_at``)."""

    producer: ClassVar[str] = "resolution"
    tracking_number: str
    received_at: datetime


class ReturnInspected(_ReturnEvent):
    """The returned goods were inspected: ``passed`` (they qualify) or ``failed``; the report by content hash."""

    producer: ClassVar[str] = "resolution"
    result: str
    note: str
    report_sha256: str | None = None


class ReturnRefunded(_Money):
    """The after-sales centre refunded a return (``amount`` in CNY, a decimal string on the wire)."""

    producer: ClassVar[str] = "resolution"
    request_id: UUID
    amount: Decimal
    reference: str


class ExchangeShipped(_ReturnEvent):
    """The replacement goods of an exchange were sent to the customer."""

    producer: ClassVar[str] = "resolution"
    tracking_number: str


class RepairCompleted(_ReturnEvent):
    """The goods of a repair request were repaired."""

    producer: ClassVar[str] = "resolution"
    note: str
