"""The ``ReturnRequest`` aggregate: one return, exchange or repair request of a case, from the customer's ask
(with the rules' verdict, see ``eligibility``) through the review, the goods coming back and their inspection, to
the refund, the replacement or the repair; with the roles that may work each step and the request's states.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.resolution.domain.returns.eligibility import (
    Eligibility,
    ProductFacts,
    ReturnForm,
    ReturnKind,
    ReturnPolicy,
    ReturnReason,
    Sale,
    assess,
)
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Role

# Who may approve a request (any refund, exchange or repair needs at least a customer-service manager).
REVIEWERS = frozenset({Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.ADMIN})
# Who works the steps after the review (after-sales staff, technicians; the system by policy).
HANDLERS = frozenset(
    {
        Role.FRONTLINE,
        Role.CS_MANAGER,
        Role.REGIONAL_MANAGER,
        Role.HQ,
        Role.TECHNICIAN,
        Role.APPRAISER,
        Role.ADMIN,
        Role.SYSTEM,
    }
)
# Who may ask for a return: the customer, or staff on their behalf.
REQUESTERS = HANDLERS | {Role.CUSTOMER}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CENT = Decimal("0.01")


class InspectionResult(StrEnum):
    PASSED = "passed"  # the goods qualify (the defect is confirmed; or, for a no-reason return, they are intact)
    FAILED = "failed"  # they do not (damage by misuse, missing parts, not the goods sold)


class ReturnState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    GOODS_RECEIVED = "goods_received"
    INSPECTED = "inspected"
    INSPECTION_FAILED = "inspection_failed"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    REPAIRED = "repaired"


# --- the aggregate --------------------------------------------------------------------------------------------


def _required(field: str, text: str | None, max_length: int = 2000) -> str:
    if text is None or not text.strip():
        raise InvalidValue(field, "is required and must not be blank")
    text = text.strip()
    if len(text) > max_length:
        raise InvalidValue(field, f"is longer than {max_length} characters")
    return text


def _may(ctx: EventContext, roles: frozenset[Role], what: str) -> None:
    if ctx.actor.role not in roles:
        raise Forbidden(f"{what} needs one of the roles {', '.join(sorted(r.value for r in roles))}")


class ReturnRequest(CaseAggregate):
    """One return, exchange or repair request of a case, from the ask to the refund, replacement or repair."""

    class ReturnRequested(CaseAggregate.Created):
        request_id: str
        number: int
        kind: str
        reason: str
        sku: str
        sale: str
        purchased_on: str
        received_on: str
        opened: bool
        has_inspection_report: bool
        eligible: bool
        rule: str
        explanation: dict[str, str]
        shipping_paid_by: str | None
        last_day: str | None
        refund_limit: Decimal | None

    def __init__(
        self,
        envelope: dict[str, Any],
        request_id: str,
        number: int,
        kind: str,
        reason: str,
        sku: str,
        sale: str,
        purchased_on: str,
        received_on: str,
        opened: bool,
        has_inspection_report: bool,
        eligible: bool,
        rule: str,
        explanation: dict[str, str],
        shipping_paid_by: str | None,
        last_day: str | None,
        refund_limit: Decimal | None,
    ) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.request_id = UUID(request_id)
        self.number = number
        self.kind = ReturnKind(kind)
        self.reason = ReturnReason(reason)
        self.sku = sku
        self.sale = Sale(sale)
        self.purchased_on = date.fromisoformat(purchased_on)
        self.received_on = date.fromisoformat(received_on)
        self.opened = opened
        self.has_inspection_report = has_inspection_report
        self.eligibility = Eligibility(
            eligible=eligible,
            rule=rule,
            explanation=explanation,
            shipping_paid_by=shipping_paid_by,
            last_day=last_day,
        )
        self.refund_limit = refund_limit
        self.state = ReturnState.REQUESTED
        self.requested_at: datetime = self.created_on
        self.review: dict[str, Any] | None = None
        self.goods: dict[str, Any] | None = None
        self.inspection: dict[str, Any] | None = None
        self.refund: dict[str, Any] | None = None
        self.exchange: dict[str, Any] | None = None
        self.repair: dict[str, Any] | None = None

    @classmethod
    def request(
        cls,
        id: UUID,
        ctx: EventContext,
        number: int,
        form: ReturnForm,
        product: ProductFacts,
        policy: ReturnPolicy,
        today: date,
        refund_limit: Decimal | None,
    ) -> ReturnRequest:
        """Record the request with the rules' verdict on it (a refusal by rule is recorded too, for review)."""
        _may(ctx, REQUESTERS, "requesting a return")
        if form.sku != product.sku:
            raise InvalidValue("sku", f"the product facts are for {product.sku}, not {form.sku}")
        verdict = assess(form, product, policy, today)
        return cls._start(
            cls.ReturnRequested,
            id,
            ctx,
            request_id=str(id),
            number=number,
            kind=form.kind.value,
            reason=form.reason.value,
            sku=form.sku,
            sale=form.sale.value,
            purchased_on=form.purchased_on.isoformat(),
            received_on=form.received_on.isoformat(),
            opened=form.opened,
            has_inspection_report=form.has_inspection_report,
            eligible=verdict.eligible,
            rule=verdict.rule,
            explanation=verdict.explanation,
            shipping_paid_by=verdict.shipping_paid_by.value if verdict.shipping_paid_by else None,
            last_day=verdict.last_day.isoformat() if verdict.last_day else None,
            refund_limit=refund_limit,
        )

    # --- review ---------------------------------------------------------------------------------------------

    class ReturnReviewed(CaseAggregate.Event):
        request_id: str
        approved: bool
        reason: str | None
        override: bool

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.APPROVED if self.approved else ReturnState.REFUSED
            aggregate.review = {
                "approved": self.approved,
                "reason": self.reason,
                "override": self.override,
                "by": self.envelope["actor"]["id"],
                "at": self.timestamp,
            }

    def review_request(self, ctx: EventContext, approved: bool, reason: str | None) -> None:
        """Staff decide (review due within 24 h of the request). Approving needs a manager; approving against the
        rule is a goodwill exception and needs a reason; refusing needs a reason (any handler may refuse)."""
        if self.state is not ReturnState.REQUESTED:
            raise InvalidTransition(f"the request was already reviewed (it is {self.state.value})")
        override = approved and not self.eligibility.eligible
        if approved:
            _may(ctx, REVIEWERS, "approving a return")
        else:
            _may(ctx, HANDLERS, "refusing a return")
        if not approved or override:
            reason = _required("reason", reason)
        elif reason is not None:
            reason = reason.strip() or None
        self._record(
            self.ReturnReviewed, ctx, request_id=str(self.id), approved=approved, reason=reason, override=override
        )

    # --- goods back and inspection ------------------------------------------------------------------------------

    class ReturnGoodsReceived(CaseAggregate.Event):
        request_id: str
        tracking_number: str
        received_at: datetime

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.GOODS_RECEIVED
            aggregate.goods = {"tracking_number": self.tracking_number, "received_at": self.received_at}

    def receive_goods(self, ctx: EventContext, tracking_number: str, received_at: datetime | None = None) -> None:
        """The goods came back (by post with a tracking number, or over the counter); the refund is due within 7
        days of ``received_at`` (default: now)."""
        _may(ctx, HANDLERS, "receiving returned goods")
        tracking_number = _required("tracking_number", tracking_number, 64)
        self._must_be(ReturnState.APPROVED, "goods are received once the request is approved")
        received_at = received_at or ctx.recorded_at
        if received_at.tzinfo is None:
            raise InvalidValue("received_at", "must say its time zone")
        if received_at > ctx.recorded_at:
            raise InvalidValue("received_at", "is in the future")
        if received_at < self.requested_at:
            raise InvalidValue("received_at", "is before the request")
        self._record(
            self.ReturnGoodsReceived,
            ctx,
            request_id=str(self.id),
            tracking_number=tracking_number,
            received_at=received_at,
        )

    class ReturnInspected(CaseAggregate.Event):
        request_id: str
        result: str
        note: str
        report_sha256: str | None

        def apply(self, aggregate: ReturnRequest) -> None:
            passed = self.result == InspectionResult.PASSED
            aggregate.state = ReturnState.INSPECTED if passed else ReturnState.INSPECTION_FAILED
            aggregate.inspection = {"result": self.result, "note": self.note, "report_sha256": self.report_sha256}

    def inspect(
        self, ctx: EventContext, result: InspectionResult, note: str, report_sha256: str | None = None
    ) -> None:
        """Inspect the returned goods; ``failed`` ends the request (the goods go back to the customer)."""
        _may(ctx, HANDLERS, "inspecting returned goods")
        note = _required("note", note)
        if report_sha256 is not None and not _SHA256.fullmatch(report_sha256):
            raise InvalidValue("report_sha256", "must be 64 lowercase hexadecimal digits")
        self._must_be(ReturnState.GOODS_RECEIVED, "the goods are inspected once they are received")
        self._record(
            self.ReturnInspected,
            ctx,
            request_id=str(self.id),
            result=InspectionResult(result).value,
            note=note,
            report_sha256=report_sha256,
        )

    # --- the outcome ----------------------------------------------------------------------------------------------

    class ReturnRefunded(CaseAggregate.Event):
        request_id: str
        amount: Decimal
        reference: str

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.REFUNDED
            aggregate.refund = {"amount": self.amount, "reference": self.reference, "at": self.timestamp}

    def refund_return(self, ctx: EventContext, amount: Decimal, reference: str) -> None:
        """Refund a return after the goods passed inspection (due within 7 days of receiving them)."""
        _may(ctx, HANDLERS, "refunding a return")
        amount = _money("amount", amount)
        if self.refund_limit is not None and amount > self.refund_limit:
            raise InvalidValue("amount", f"{amount} is more than the {self.refund_limit} paid")
        reference = _required("reference", reference, 64)
        self._must_kind(ReturnKind.RETURN, "a refund")
        self._must_be(ReturnState.INSPECTED, "a refund follows the inspection of the received goods")
        self._record(self.ReturnRefunded, ctx, request_id=str(self.id), amount=amount, reference=reference)

    class ExchangeShipped(CaseAggregate.Event):
        request_id: str
        tracking_number: str

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.EXCHANGED
            aggregate.exchange = {"tracking_number": self.tracking_number, "at": self.timestamp}

    def ship_exchange(self, ctx: EventContext, tracking_number: str) -> None:
        """Send the replacement goods of an exchange once the returned ones passed inspection."""
        _may(ctx, HANDLERS, "shipping an exchange")
        tracking_number = _required("tracking_number", tracking_number, 64)
        self._must_kind(ReturnKind.EXCHANGE, "shipping replacement goods")
        self._must_be(ReturnState.INSPECTED, "the replacement ships after the returned goods passed inspection")
        self._record(self.ExchangeShipped, ctx, request_id=str(self.id), tracking_number=tracking_number)

    class RepairCompleted(CaseAggregate.Event):
        request_id: str
        note: str

        def apply(self, aggregate: ReturnRequest) -> None:
            aggregate.state = ReturnState.REPAIRED
            aggregate.repair = {"note": self.note, "at": self.timestamp}

    def complete_repair(self, ctx: EventContext, note: str) -> None:
        """The goods of a repair request were repaired (after the inspection confirmed the fault)."""
        _may(ctx, HANDLERS, "completing a repair")
        note = _required("note", note)
        self._must_kind(ReturnKind.REPAIR, "completing a repair")
        self._must_be(ReturnState.INSPECTED, "a repair is completed after the inspection confirmed the fault")
        self._record(self.RepairCompleted, ctx, request_id=str(self.id), note=note)

    # --- helpers ------------------------------------------------------------------------------------------------

    def _must_be(self, state: ReturnState, why: str) -> None:
        if self.state is not state:
            raise InvalidTransition(f"the request is {self.state.value}: {why}")

    def _must_kind(self, kind: ReturnKind, what: str) -> None:
        if self.kind is not kind:
            raise InvalidTransition(f"{what} settles a {kind.value} request; this one is a {self.kind.value}")


def _money(field: str, amount: Any) -> Decimal:
    """A positive amount of CNY with at most two decimals; never a float."""
    if isinstance(amount, float) or not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise InvalidValue(field, "must be a decimal amount (a string such as '399.00'), not a float")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise InvalidValue(field, "must be more than 0")
    if amount != amount.quantize(_CENT):
        raise InvalidValue(field, "has more than two decimals (fen)")
    return amount.quantize(_CENT)
