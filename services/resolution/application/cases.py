"""The resolution of each case: the facts resolution keeps about it, and the ``Resolution`` commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.resolution.domain import Resolution
from services.resolution.domain.compensation import (
    AuthorityPolicy,
    CompensationStandards,
    RemedyLine,
    RootCause,
    Suggestion,
    suggest,
)
from services.resolution.domain.resolution import EvidenceKind, Measure, TaskKind
from services.resolution.domain.returns import ReturnRequest
from shared.access.policy import CaseScope
from shared.configfiles import load_config
from shared.contracts import Actor, CaseReopened, ComplaintReceived, ComplaintTriaged, CustomerLinkIssued, EventMessage
from shared.customerlinks import CustomerLinks, Purpose
from shared.errors import NotFound
from shared.eventstore import EventContext, aggregate_id
from shared.sidetables import instant, micros
from shared.vocabulary import Category, Role

CASE_REACTIONS = {
    "ComplaintReceived": "record_case_facts",
    "ComplaintTriaged": "open_resolution",
    "CaseReopened": "reopen_resolution",
    "CustomerLinkIssued": "record_answer_link",
}


class CaseWork:
    """Opens a resolution for every triaged case and keeps the case facts the rules need (no personal data)."""

    def init_cases(self: Any) -> None:
        """Load the authority tiers and compensation standards; create ``resolution_cases``: per case, the product,
        order, amount and classification."""
        self.authority = load_config(self.settings.config_dir / "authority.yaml", AuthorityPolicy)
        self.standards = load_config(self.settings.config_dir / "compensation.yaml", CompensationStandards)
        self.facts_table = self.side.table("cases")
        self.answer_links = CustomerLinks(self.side, Purpose.PROPOSAL_ANSWER)
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
        # Visible at once to later reactions of the same batch (the row is written when the batch commits).
        self.unit.facts = {
            **getattr(self.unit, "facts", {}),
            str(message.envelope.case_id): {
                "case_id": str(message.envelope.case_id),
                "case_number": complaint.case_number,
                "store_id": complaint.store_id,
                "customer_id": str(complaint.customer_id),
                "sku": complaint.sku,
                "batch": complaint.batch,
                "order_id": complaint.order_id,
                "amount_paid": complaint.amount_paid,
                "channel": complaint.channel.value,
                "language": complaint.language,
                "received_at": message.envelope.recorded_at,
                "category": None,
                "severity": None,
            },
        }
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
            subcategory=triaged.subcategory,
        )
        yield (
            f"UPDATE {self.facts_table} SET category = ?, severity = ? WHERE case_id = ?",
            (triaged.category.value, triaged.severity.value, str(ctx.case_id)),
        )
        yield from self.recall_on_triaged(message, triaged)

    def reopen_resolution(self: Any, message: EventMessage, reopened: CaseReopened) -> Iterator[Any]:
        """Policy: a reopened case is investigated again and gets a new proposal."""
        resolution = self.get_resolution(message.envelope.case_id)
        resolution.reopen(self.context(resolution.case_id, Actor.system(self.name), cause=message), reopened.reason)
        yield resolution

    def record_answer_link(self: Any, message: EventMessage, issued: CustomerLinkIssued) -> Iterator[Any]:
        """Policy: a link to answer a proposal that intake sent is kept (its hash) to check the answer with."""
        yield from self.answer_links.writes_for_issued(message.envelope.case_id, issued)

    def case_scope(self: Any, some_id: UUID) -> CaseScope | None:
        """Where a case, or the case of a return request, belongs (its store), for the access check."""
        facts = self.case_facts(some_id)
        if facts is None:
            found = self.find(some_id)
            facts = self.case_facts(found.case_id) if isinstance(found, ReturnRequest) else None
        return CaseScope(facts["store_id"]) if facts else None

    def case_facts(self: Any, case_id: UUID) -> dict[str, Any] | None:
        """What resolution knows of a case from intake and routing, or None before its complaint arrived."""
        pending = getattr(self.unit, "facts", {}).get(str(case_id))
        if pending is not None:
            return dict(pending)
        rows = self.side.query(f"SELECT * FROM {self.facts_table} WHERE case_id = ?", (str(case_id),))
        if not rows:
            return None
        row = dict(rows[0])
        row["amount_paid"] = None if row["amount_paid"] is None else Decimal(row["amount_paid"])
        row["received_at"] = instant(row["received_at"])
        return row

    # --- commands on a case's resolution ------------------------------------------------------------------------

    def get_resolution(self: Any, case_id: UUID) -> Resolution:
        """The case's resolution (404 until the case is triaged)."""
        found = self.case_aggregate(case_id)
        assert isinstance(found, Resolution)
        return found

    def plan_investigation(self: Any, case_id: UUID, actor: Actor, plan: str, authenticity_dispute: bool) -> Resolution:
        """Write the investigation plan."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.plan_investigation(ctx, plan, authenticity_dispute))

    def assign_task(
        self: Any, case_id: UUID, actor: Actor, kind: TaskKind, owner: str, description: str, due_at: datetime
    ) -> Resolution:
        """Give a specialist an investigation task with a deadline."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.assign_task(ctx, kind, owner, description, due_at))

    def complete_task(
        self: Any, case_id: UUID, actor: Actor, task_id: str, result: str, report_sha256: str | None
    ) -> Resolution:
        """Record an investigation task's result (and report file)."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.complete_task(ctx, task_id, result, report_sha256))

    def record_evidence(
        self: Any, case_id: UUID, actor: Actor, kind: EvidenceKind, description: str, sha256: str | None
    ) -> Resolution:
        """Record an evidence item of the investigation."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.record_evidence(ctx, kind, description, sha256))

    def record_interview(self: Any, case_id: UUID, actor: Actor, interviewee: str, summary: str) -> Resolution:
        """Record an interview."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.record_interview(ctx, interviewee, summary))

    def record_findings(self: Any, case_id: UUID, actor: Actor, findings: str, root_cause: RootCause) -> Resolution:
        """Record the findings and root cause."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.record_findings(ctx, findings, root_cause))

    def establish_fraud(self: Any, case_id: UUID, actor: Actor, reason: str) -> Resolution:
        """HQ or legal establish fraud (CPL art. 55)."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.establish_fraud(ctx, reason))

    def suggest_compensation(
        self: Any, case_id: UUID, direct_loss: Decimal = Decimal("0.00"), inconvenience: bool = False
    ) -> Suggestion:
        """What the standards suggest for the case as investigated so far (price paid from the complaint)."""
        resolution = self.get_resolution(case_id)
        facts = self.case_facts(case_id) or {}
        return suggest(
            self.standards,
            category=Category(resolution.category),
            root_cause=RootCause(resolution.root_cause) if resolution.root_cause else None,
            price_paid=facts.get("amount_paid"),
            fraud_established=resolution.fraud_established,
            direct_loss=direct_loss,
            inconvenience=inconvenience,
        )

    def propose(
        self: Any,
        case_id: UUID,
        actor: Actor,
        lines: list[RemedyLine],
        direct_loss: Decimal = Decimal("0.00"),
        inconvenience: bool = False,
    ) -> Resolution:
        """Propose remedies; the standards' suggestion is recorded beside them."""
        suggestion = self.suggest_compensation(case_id, direct_loss, inconvenience)
        goods = self.goods_value(case_id)
        return self._on_resolution(
            case_id, actor, lambda r, ctx: r.propose(ctx, lines, suggestion, self.authority, goods)
        )

    def goods_value(self: Any, case_id: UUID) -> Decimal | None:
        """What the case's goods are worth: the amount paid, else the product's price in the master data."""
        facts = self.case_facts(case_id) or {}
        if facts.get("amount_paid") is not None:
            return Decimal(facts["amount_paid"])
        product = self.master.products.get(facts.get("sku") or "")
        return product.price_cny if product is not None else None

    def approve_proposal(self: Any, case_id: UUID, actor: Actor) -> Resolution:
        """Approve (or, below the tier needed, endorse) the open proposal."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.approve(ctx, self.authority))

    def reject_proposal(self: Any, case_id: UUID, actor: Actor, reason: str) -> Resolution:
        """Turn the open proposal down with a reason."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.reject_proposal(ctx, reason, self.authority))

    def offer_proposal(self: Any, case_id: UUID, actor: Actor) -> Resolution:
        """Put the approved proposal to the customer: feedback prepares the message, intake sends it with a link
        for this proposal alone (staff never see the customer's token)."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.offer(ctx))

    def answer_proposal(
        self: Any,
        case_id: UUID,
        token: str,
        answer: str,
        reason: str | None = None,
        counter: str | None = None,
        amount: Decimal | None = None,
    ) -> Resolution:
        """The customer's answer through the link to the proposal on offer: accept, refuse (with a reason) or
        counter. Each is final for that proposal (a counter is answered by a new proposal, with a link of its own),
        so the answer spends the proposal's links in the transaction that records it. A token that is wrong, of
        another case, proposal or purpose, expired or spent is answered like an unknown case (404), never saying
        which, so a link cannot be guessed case by case."""
        customer = Actor(id="customer", role=Role.CUSTOMER)

        def decide(resolution: Resolution, ctx: EventContext) -> None:
            if answer == "accept":
                resolution.accept(ctx)
            elif answer == "refuse":
                resolution.refuse(ctx, reason or "")
            else:
                resolution.counter(ctx, counter or "", amount)

        def attempt() -> Resolution:
            resolution = self.get_resolution(case_id)
            subject = str(resolution.proposals[-1]["proposal"]) if resolution.proposals else ""
            if not subject or self.answer_links.check(case_id, subject, token, self.clock.now()) is None:
                raise NotFound(f"no proposal for case {case_id} with that token")
            ctx = self.context(case_id, customer)
            decide(resolution, ctx)
            self.save(resolution, side_writes=self.answer_links.writes_for_spent(case_id, subject, ctx.recorded_at))
            return resolution

        return self.retrying(attempt)

    def execute_remedy(
        self: Any,
        case_id: UUID,
        actor: Actor,
        index: int,
        reference: str | None,
        evidence_sha256: str | None,
        note: str | None,
    ) -> Resolution:
        """Record one accepted remedy carried out; the last one resolves the case."""
        return self._on_resolution(
            case_id, actor, lambda r, ctx: r.execute(ctx, index, reference, evidence_sha256, note)
        )

    def record_accountability(
        self: Any, case_id: UUID, actor: Actor, staff_id: str, measure: Measure, note: str
    ) -> Resolution:
        """Record the measure taken against the staff member at fault."""
        return self._on_resolution(case_id, actor, lambda r, ctx: r.record_accountability(ctx, staff_id, measure, note))

    def _on_resolution(
        self: Any, case_id: UUID, actor: Actor, decide: Callable[[Resolution, EventContext], Any]
    ) -> Resolution:
        def attempt() -> Resolution:
            resolution = self.get_resolution(case_id)
            decide(resolution, self.context(case_id, actor))
            self.save(resolution)
            return resolution

        return self.retrying(attempt)
