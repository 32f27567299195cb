"""Returns and exchanges (RMA): ``ReturnRequest`` commands and policies.

Each request is an aggregate of its own whose events carry its case's envelope (so they join the case's timeline);
its id is derived from the case and the request's number in the case, or from the client's idempotency key. The
side table ``resolution_returns`` (one row per request: case, number, kind, state) is written in the transaction
that stores the request's events, so listing a case's returns never sees a request without its events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from services.resolution.domain.returns import (
    InspectionResult,
    ReturnForm,
    ReturnKind,
    ReturnPolicy,
    ReturnReason,
    ReturnRequest,
    Sale,
)
from shared.configfiles import load_config
from shared.contracts import Actor
from shared.errors import InvalidValue, NotFound
from shared.eventstore import EventContext
from shared.idempotency import Fingerprints
from shared.keys import blind_index_key
from shared.sidetables import micros

# No policy yet: returns start from a command (the customer's ask), not from another service's event.
RETURN_REACTIONS: dict[str, str] = {}
ONLINE_STORE_KINDS = frozenset({"online"})


def return_id(case_id: UUID, number: int | None = None, idempotency_key: str | None = None) -> UUID:
    """The id of a case's return request: from the client's idempotency key, else from its number in the case."""
    if idempotency_key is not None:
        return uuid5(case_id, f"return-key:{idempotency_key}")
    return uuid5(case_id, f"return-{number}")


class Returns:
    """The return and exchange commands of the resolution service."""

    def init_returns(self: Any) -> None:
        """Load the return rules and create the tables returns need."""
        self.return_policy = load_config(self.settings.config_dir / "returns.yaml", ReturnPolicy)
        self.returns_zone = ZoneInfo(self.settings.timezone)
        self.returns_table = self.side.table("returns")
        self.return_fingerprints = Fingerprints(self.side, blind_index_key(self.settings))
        self.side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.returns_table} (request_id TEXT PRIMARY KEY, "
                    "case_id TEXT NOT NULL, number INTEGER NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, "
                    "state TEXT NOT NULL, eligible INTEGER NOT NULL, rule TEXT NOT NULL, "
                    "requested_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (case_id, number))",
                    (),
                ),
            ]
        )

    # --- commands -------------------------------------------------------------------------------------------

    def request_return(
        self: Any,
        case_id: UUID,
        actor: Actor,
        *,
        kind: ReturnKind,
        reason: ReturnReason,
        purchased_on: date,
        received_on: date | None = None,
        sku: str | None = None,
        sale: Sale | None = None,
        opened: bool = False,
        has_inspection_report: bool = False,
        idempotency_key: str | None = None,
    ) -> ReturnRequest:
        """Record a return, exchange or repair request with the rules' verdict (404 for a case resolution does
        not know). Defaults from the case: the product, and a distance sale for an online store. The same
        ``idempotency_key`` gives back the request it made first."""
        facts = self.case_facts(case_id)
        if facts is None:
            raise NotFound(f"resolution knows no case {case_id}")
        sku = sku or facts["sku"]
        if not sku:
            raise InvalidValue("sku", "is required (the case names no product)")
        product = self.master.products.get(sku)
        if product is None:
            raise InvalidValue("sku", f"unknown product {sku!r}", allowed=sorted(self.master.products))
        if sale is None:
            store = self.master.stores.get(facts["store_id"])
            sale = Sale.DISTANCE if store is not None and store.kind in ONLINE_STORE_KINDS else Sale.IN_STORE
        if received_on is None:
            if sale is Sale.DISTANCE:
                raise InvalidValue("received_on", "is required for a distance sale (periods count from it)")
            received_on = purchased_on
        form = ReturnForm(
            kind=kind,
            reason=reason,
            sku=sku,
            purchased_on=purchased_on,
            received_on=received_on,
            sale=sale,
            opened=opened,
            has_inspection_report=has_inspection_report,
        )
        paid = facts["amount_paid"]
        refund_limit = paid if paid is not None else product.price_cny

        def attempt() -> ReturnRequest:
            number = self._next_return_number(case_id)
            request_id = return_id(case_id, number, idempotency_key)
            if idempotency_key is not None and request_id in self.repository:
                self.return_fingerprints.check(idempotency_key, form.model_dump(mode="json"))
                return self._return(request_id)  # made before (or by a concurrent twin that won)
            ctx = self.context(case_id, actor)
            today = ctx.recorded_at.astimezone(self.returns_zone).date()
            rules = self.return_policy
            request = ReturnRequest.request(
                request_id, ctx, number, form, rules.facts_for(product), rules, today, refund_limit
            )
            # Another request of the case taking the number (or the key) meanwhile is a conflict: decide again.
            fingerprint = self.return_fingerprints.writes_for(idempotency_key, form.model_dump(mode="json"))
            self.save(request, side_writes=[self._return_row(request, ctx), *fingerprint])
            return request

        return self.retrying(attempt)

    def review_return(
        self: Any, request_id: UUID, actor: Actor, approved: bool, reason: str | None = None
    ) -> ReturnRequest:
        """Approve (a manager) or refuse (with a reason) a request; due within 24 h of the request."""
        return self._return_command(request_id, actor, lambda r, ctx: r.review_request(ctx, approved, reason))

    def receive_return_goods(
        self: Any, request_id: UUID, actor: Actor, tracking_number: str, received_at: datetime | None = None
    ) -> ReturnRequest:
        """The goods came back; the refund is due within 7 days of ``received_at`` (default now)."""
        return self._return_command(
            request_id, actor, lambda r, ctx: r.receive_goods(ctx, tracking_number, received_at), received_at
        )

    def inspect_return(
        self: Any,
        request_id: UUID,
        actor: Actor,
        result: InspectionResult,
        note: str,
        report_sha256: str | None = None,
    ) -> ReturnRequest:
        """Record the inspection of the returned goods, with the report's content hash if any."""
        return self._return_command(request_id, actor, lambda r, ctx: r.inspect(ctx, result, note, report_sha256))

    def refund_return(self: Any, request_id: UUID, actor: Actor, amount: Decimal, reference: str) -> ReturnRequest:
        """Refund a return whose goods passed inspection (at most what was paid)."""
        return self._return_command(request_id, actor, lambda r, ctx: r.refund_return(ctx, amount, reference))

    def ship_exchange(self: Any, request_id: UUID, actor: Actor, tracking_number: str) -> ReturnRequest:
        """Send the replacement goods of an exchange."""
        return self._return_command(request_id, actor, lambda r, ctx: r.ship_exchange(ctx, tracking_number))

    def complete_repair(self: Any, request_id: UUID, actor: Actor, note: str) -> ReturnRequest:
        """Record that the goods of a repair request were repaired."""
        return self._return_command(request_id, actor, lambda r, ctx: r.complete_repair(ctx, note))

    # --- reads ----------------------------------------------------------------------------------------------

    def get_return(self: Any, request_id: UUID) -> ReturnRequest:
        """One return request (404 if there is none with that id)."""
        return self._return(request_id)

    def returns_of_case(self: Any, case_id: UUID) -> list[ReturnRequest]:
        """A case's return requests in the order they were made (404 for a case resolution does not know)."""
        if self.case_facts(case_id) is None:
            raise NotFound(f"resolution knows no case {case_id}")
        rows = self.side.query(
            f"SELECT request_id FROM {self.returns_table} WHERE case_id = ? ORDER BY number", (str(case_id),)
        )
        return [self._return(UUID(row["request_id"])) for row in rows]

    # --- helpers --------------------------------------------------------------------------------------------

    def _return(self: Any, request_id: UUID) -> ReturnRequest:
        if request_id not in self.repository:
            raise NotFound(f"no return request {request_id}")
        found = self.repository.get(request_id)
        if not isinstance(found, ReturnRequest):
            raise NotFound(f"no return request {request_id}")
        return found

    def _return_command(
        self: Any,
        request_id: UUID,
        actor: Actor,
        decide: Callable[[ReturnRequest, EventContext], None],
        occurred_at: datetime | None = None,
    ) -> ReturnRequest:
        # Load, decide, save with the request's row; a concurrent save makes us decide again on the new state.
        def attempt() -> ReturnRequest:
            request = self._return(request_id)
            ctx = self.context(request.case_id, actor, occurred_at=occurred_at)
            decide(request, ctx)
            self.save(request, side_writes=[self._return_row(request, ctx)])
            return request

        return self.retrying(attempt)

    def _next_return_number(self: Any, case_id: UUID) -> int:
        rows = self.side.query(
            f"SELECT COALESCE(MAX(number), 0) AS n FROM {self.returns_table} WHERE case_id = ?", (str(case_id),)
        )
        return int(rows[0]["n"]) + 1

    def _return_row(self: Any, request: ReturnRequest, ctx: EventContext) -> tuple[str, tuple[Any, ...]]:
        at = micros(ctx.recorded_at)
        if request.version == len(request.pending_events):  # new: its first events are about to be stored
            return (
                f"INSERT INTO {self.returns_table} (request_id, case_id, number, kind, reason, state, eligible, rule, "
                "requested_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(request.id),
                    str(request.case_id),
                    request.number,
                    request.kind.value,
                    request.reason.value,
                    request.state.value,
                    int(request.eligibility.eligible),
                    request.eligibility.rule,
                    at,
                    at,
                ),
            )
        return (
            f"UPDATE {self.returns_table} SET state = ?, updated_at = ? WHERE request_id = ?",
            (request.state.value, at, str(request.id)),
        )
