"""The ``Resolution`` of one case (DOMAIN.md steps 4–5): investigation, a proposal of remedies approved at the right
tier by another person, the customer's answer, execution and accountability. Pure."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.resolution.domain.compensation import (
    AuthorityPolicy,
    RemedyLine,
    RootCause,
    Suggestion,
    total_of,
)
from shared.errors import Forbidden, InvalidTransition, InvalidValue
from shared.eventstore import CaseAggregate, EventContext
from shared.vocabulary import Remedy, Role, Severity

# Who may establish fraud (CPL art. 55): a recorded decision of HQ or legal.
FRAUD_DECIDERS = frozenset({Role.HQ, Role.LEGAL})
# Remedies whose execution needs a reference (refund number, shipment, coupon code).
NEEDS_REFERENCE = frozenset(
    {Remedy.REFUND, Remedy.EXCHANGE, Remedy.COUPON, Remedy.COMPENSATION, Remedy.PRICE_DIFFERENCE}
)


class Stage(StrEnum):
    """Where the resolution stands; the case view shows the matching case status."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    AWAITING_APPROVAL = "awaiting_approval"
    PROPOSED = "proposed"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVING = "resolving"
    RESOLVED = "resolved"


class TaskKind(StrEnum):
    """Investigation tasks for specialists."""

    APPRAISAL = "appraisal"
    TECHNICAL_TEST = "technical_test"
    LEGAL_REVIEW = "legal_review"
    STORE_CHECK = "store_check"
    OTHER = "other"


class EvidenceKind(StrEnum):
    CCTV = "cctv"
    SALES_RECORD = "sales_record"
    TEST_REPORT = "test_report"
    APPRAISAL_REPORT = "appraisal_report"
    PHOTO = "photo"
    OTHER = "other"


class Measure(StrEnum):
    """What happens to the staff at fault (处罚直接责任者)."""

    TRAINING = "training"
    WARNING = "warning"
    FINE = "fine"
    DEMOTION = "demotion"
    DISMISSAL = "dismissal"


class InvestigationStep(CaseAggregate.Event):
    """Any step of the investigation; the first one starts it."""

    def apply(self, aggregate: Resolution) -> None:
        if aggregate.stage is Stage.OPEN:
            aggregate.stage = Stage.INVESTIGATING


def _required(field: str, text: str | None) -> str:
    if text is None or not text.strip():
        raise InvalidValue(field, "is required and must not be blank")
    return text.strip()


class Resolution(CaseAggregate):
    """The work of resolving one case: opened once the case is triaged."""

    class ResolutionOpened(CaseAggregate.Created):
        category: str
        severity: str
        subcategory: str | None = None

    def __init__(self, envelope: dict[str, Any], category: str, severity: str, subcategory: str | None = None) -> None:
        self.case_id = UUID(envelope["case_id"])
        self.category = category
        self.severity = severity
        self.subcategory = subcategory
        self.stage = Stage.OPEN
        self.authenticity_dispute = subcategory == "authenticity"
        self.appraised = False
        self.tasks: dict[str, dict[str, Any]] = {}
        self.root_cause: str | None = None
        self.fraud_established = False
        self.proposals: list[dict[str, Any]] = []
        self.refusals = 0
        self.execution: list[dict[str, Any]] = []
        self.accountability: list[dict[str, Any]] = []

    @classmethod
    def open(
        cls, id: UUID, ctx: EventContext, *, category: str, severity: str, subcategory: str | None = None
    ) -> Resolution:
        """Open the resolution of a triaged case."""
        return cls._start(cls.ResolutionOpened, id, ctx, category=category, severity=severity, subcategory=subcategory)

    # --- investigation ------------------------------------------------------------------------------------------

    class InvestigationPlanned(CaseAggregate.Event):
        plan: str
        authenticity_dispute: bool

        def apply(self, aggregate: Resolution) -> None:
            aggregate.stage = Stage.INVESTIGATING
            aggregate.authenticity_dispute = aggregate.authenticity_dispute or self.authenticity_dispute

    def plan_investigation(self, ctx: EventContext, plan: str, authenticity_dispute: bool = False) -> None:
        """Write the investigation plan; an authenticity dispute (真伪) needs an appraisal before any remedy."""
        plan = _required("plan", plan)
        self._not_after(Stage.AWAITING_APPROVAL, "plan an investigation")
        self._record(self.InvestigationPlanned, ctx, plan=plan, authenticity_dispute=authenticity_dispute)

    class InvestigationTaskAssigned(InvestigationStep):
        task_id: str
        kind: str
        owner: str
        description: str
        due_at: str

        def apply(self, aggregate: Resolution) -> None:
            super().apply(aggregate)
            aggregate.tasks[self.task_id] = {
                "task_id": self.task_id,
                "kind": self.kind,
                "owner": self.owner,
                "description": self.description,
                "due_at": self.due_at,
                "done": False,
                "result": None,
            }

    def assign_task(self, ctx: EventContext, kind: TaskKind, owner: str, description: str, due_at: datetime) -> str:
        """Give a specialist (appraiser, technician, legal, store manager) a task with a deadline; returns its id."""
        description = _required("description", description)
        owner = _required("owner", owner)
        if due_at.utcoffset() is None or due_at <= ctx.recorded_at:
            raise InvalidValue("due_at", "must be a future instant with a timezone")
        self._investigating("assign a task")
        task_id = f"T{len(self.tasks) + 1}"
        self._record(
            self.InvestigationTaskAssigned,
            ctx,
            task_id=task_id,
            kind=kind.value,
            owner=owner,
            description=description,
            due_at=due_at.isoformat(),
        )
        return task_id

    class InvestigationTaskCompleted(InvestigationStep):
        task_id: str
        result: str
        report_sha256: str | None

        def apply(self, aggregate: Resolution) -> None:
            super().apply(aggregate)
            task = aggregate.tasks[self.task_id]
            task.update(done=True, result=self.result)
            if task["kind"] == TaskKind.APPRAISAL and self.report_sha256:
                aggregate.appraised = True

    def complete_task(self, ctx: EventContext, task_id: str, result: str, report_sha256: str | None) -> None:
        """Record a task's result (an appraisal task with its report file clears the appraisal gate)."""
        result = _required("result", result)
        if task_id not in self.tasks:
            raise InvalidValue("task_id", f"unknown task {task_id!r}", allowed=sorted(self.tasks))
        if self.tasks[task_id]["done"]:
            raise InvalidTransition(f"task {task_id} is already done")
        self._record(self.InvestigationTaskCompleted, ctx, task_id=task_id, result=result, report_sha256=report_sha256)

    class EvidenceItemRecorded(InvestigationStep):
        kind: str
        description: str
        sha256: str | None

        def apply(self, aggregate: Resolution) -> None:
            super().apply(aggregate)
            if self.kind == EvidenceKind.APPRAISAL_REPORT:
                aggregate.appraised = True

    def record_evidence(self, ctx: EventContext, kind: EvidenceKind, description: str, sha256: str | None) -> None:
        """An evidence item of the investigation: CCTV, sales records, test or appraisal report (a stored file)."""
        description = _required("description", description)
        if kind is EvidenceKind.APPRAISAL_REPORT and not sha256:
            raise InvalidValue("sha256", "an appraisal report must be a stored file")
        self._investigating("record evidence")
        self._record(self.EvidenceItemRecorded, ctx, kind=kind.value, description=description, sha256=sha256)

    class InterviewRecorded(InvestigationStep):
        interviewee: str
        summary: str

    def record_interview(self, ctx: EventContext, interviewee: str, summary: str) -> None:
        """A staff or witness interview (the interviewee as a staff id or a role, e.g. ``witness``)."""
        self._investigating("record an interview")
        self._record(
            self.InterviewRecorded,
            ctx,
            interviewee=_required("interviewee", interviewee),
            summary=_required("summary", summary),
        )

    class FindingsRecorded(InvestigationStep):
        findings: str
        root_cause: str

        def apply(self, aggregate: Resolution) -> None:
            super().apply(aggregate)
            aggregate.root_cause = self.root_cause

    def record_findings(self, ctx: EventContext, findings: str, root_cause: RootCause) -> None:
        """What the investigation found, and the root cause."""
        self._investigating("record findings")
        self._record(self.FindingsRecorded, ctx, findings=_required("findings", findings), root_cause=root_cause.value)

    class FraudEstablished(InvestigationStep):
        reason: str

        def apply(self, aggregate: Resolution) -> None:
            super().apply(aggregate)
            aggregate.fraud_established = True

    def establish_fraud(self, ctx: EventContext, reason: str) -> None:
        """HQ or legal record that fraud is established (CPL art. 55 then applies)."""
        reason = _required("reason", reason)
        if ctx.actor.role not in FRAUD_DECIDERS:
            raise Forbidden("only hq or legal may establish fraud")
        if self.fraud_established:
            raise InvalidTransition("fraud is already established")
        self._investigating("establish fraud")
        self._record(self.FraudEstablished, ctx, reason=reason)

    # --- proposal and approval ----------------------------------------------------------------------------------

    class RemedyProposed(CaseAggregate.Event):
        proposal: int
        remedies: list[dict[str, Any]]
        total: Decimal
        proposer_tier: str
        required_tier: str
        suggestion: dict[str, Any]
        # What the tiers were judged on (goods-valued remedies at the goods' value); None before it was recorded.
        tier_value: Decimal | None = None

        def apply(self, aggregate: Resolution) -> None:
            aggregate.proposals.append(
                {
                    "proposal": self.proposal,
                    "remedies": self.remedies,
                    "total": self.total,
                    "proposer": self.envelope["actor"]["id"],
                    "proposer_tier": self.proposer_tier,
                    "required_tier": self.required_tier,
                    "suggestion": self.suggestion,
                    "tier_value": self.tier_value,
                    "approvals": [],
                    "state": "proposed" if self.proposer_tier == self.required_tier else "awaiting_approval",
                }
            )
            aggregate.stage = Stage(aggregate.proposals[-1]["state"])

    def propose(
        self,
        ctx: EventContext,
        lines: list[RemedyLine],
        suggestion: Suggestion,
        policy: AuthorityPolicy,
        goods_value: Decimal | None = None,
    ) -> dict[str, Any]:
        """Propose remedies. The suggestion of the standards is recorded beside the decision. Beyond the proposer's
        tier the proposal waits for approval at the tier it needs, judged on the proposal's value with goods-valued
        remedies (an exchange, a repair) at ``goods_value`` (the amount paid, else the product's price)."""
        tier = policy.tier_of(ctx.actor.role)
        if tier is None:
            raise Forbidden(f"role {ctx.actor.role.value} may not propose remedies")
        if self.stage not in (Stage.OPEN, Stage.INVESTIGATING):
            raise InvalidTransition(f"a proposal cannot be made while the resolution is {self.stage.value}")
        policy.check_lines(lines, self.appraised, self.authenticity_dispute, goods_value)
        required = policy.required_tier(lines, Severity(self.severity), goods_value)
        # A proposer above the tier needed grants it alone; the recorded tier is then the one needed.
        proposer_tier = required if policy.rank(tier) >= policy.rank(required) else tier
        self._record(
            self.RemedyProposed,
            ctx,
            proposal=len(self.proposals) + 1,
            remedies=[line.model_dump(mode="json") for line in lines],
            total=total_of(lines),
            proposer_tier=proposer_tier,
            required_tier=required,
            suggestion=suggestion.model_dump(mode="json"),
            tier_value=policy.tier_value(lines, goods_value),
        )
        return self.proposals[-1]

    class ProposalApproved(CaseAggregate.Event):
        proposal: int
        approver_tier: str
        final: bool

        def apply(self, aggregate: Resolution) -> None:
            current = aggregate.proposals[-1]
            current["approvals"].append({"by": self.envelope["actor"]["id"], "tier": self.approver_tier})
            if self.final:
                current["state"] = "proposed"
                aggregate.stage = Stage.PROPOSED

    def approve(self, ctx: EventContext, policy: AuthorityPolicy) -> bool:
        """Approve the open proposal: at or above the tier it needs this is the approval, below it an endorsement in
        the chain. The approver must be another person than the proposer (409) and above the proposer (403).
        Returns whether the proposal is now approved."""
        current = self._awaiting_approval()
        approver = ctx.actor.id
        if approver == current["proposer"]:
            raise InvalidTransition("the approver must be another person than the proposer")
        if approver in {a["by"] for a in current["approvals"]}:
            raise InvalidTransition(f"{approver} has already approved this proposal")
        tier = policy.tier_of(ctx.actor.role)
        if tier is None or policy.rank(tier) <= policy.rank(current["proposer_tier"]):
            raise Forbidden(
                f"approval needs a tier above {current['proposer_tier']} (this proposal needs {current['required_tier']})"
            )
        final = policy.rank(tier) >= policy.rank(current["required_tier"])
        self._record(self.ProposalApproved, ctx, proposal=current["proposal"], approver_tier=tier, final=final)
        return final

    class ProposalRejected(CaseAggregate.Event):
        proposal: int
        reason: str

        def apply(self, aggregate: Resolution) -> None:
            aggregate.proposals[-1]["state"] = "rejected"
            aggregate.stage = Stage.INVESTIGATING

    def reject_proposal(self, ctx: EventContext, reason: str, policy: AuthorityPolicy) -> None:
        """An approver turns the proposal down with a reason; a new one is needed."""
        reason = _required("reason", reason)
        current = self._awaiting_approval()
        if ctx.actor.id == current["proposer"]:
            raise InvalidTransition("the proposer cannot decide on their own proposal")
        tier = policy.tier_of(ctx.actor.role)
        if tier is None or policy.rank(tier) <= policy.rank(current["proposer_tier"]):
            raise Forbidden(f"rejecting needs a tier above {current['proposer_tier']}")
        self._record(self.ProposalRejected, ctx, proposal=current["proposal"], reason=reason)

    # --- the customer -------------------------------------------------------------------------------------------

    class ProposalOffered(CaseAggregate.Event):
        proposal: int
        remedies: list[dict[str, Any]]
        total: Decimal

        def apply(self, aggregate: Resolution) -> None:
            aggregate.proposals[-1]["state"] = "offered"
            aggregate.stage = Stage.AWAITING_CUSTOMER

    def offer(self, ctx: EventContext) -> None:
        """Put the approved proposal to the customer, who answers with the case's token; the case waits on them."""
        if self.stage is not Stage.PROPOSED:
            raise InvalidTransition(f"only an approved proposal can be offered (the resolution is {self.stage.value})")
        current = self.proposals[-1]
        self._record(
            self.ProposalOffered,
            ctx,
            proposal=current["proposal"],
            remedies=current["remedies"],
            total=current["total"],
        )

    class CustomerAccepted(CaseAggregate.Event):
        proposal: int

        def apply(self, aggregate: Resolution) -> None:
            aggregate.proposals[-1]["state"] = "accepted"
            aggregate.stage = Stage.RESOLVING
            aggregate.execution = [
                {"index": i, "remedy": line["remedy"], "amount": line["amount"], "done": False, "reference": None}
                for i, line in enumerate(aggregate.proposals[-1]["remedies"])
            ]

    class CustomerRefused(CaseAggregate.Event):
        proposal: int
        reason: str
        refusals: int

        def apply(self, aggregate: Resolution) -> None:
            aggregate.proposals[-1]["state"] = "refused"
            aggregate.refusals = self.refusals
            aggregate.stage = Stage.INVESTIGATING

    class CustomerCountered(CaseAggregate.Event):
        proposal: int
        counter: str
        amount: Decimal | None

        def apply(self, aggregate: Resolution) -> None:
            aggregate.proposals[-1]["state"] = "countered"
            aggregate.stage = Stage.INVESTIGATING

    def accept(self, ctx: EventContext) -> None:
        """The customer accepts: each remedy becomes a task to execute."""
        current = self._offered()
        self._record(self.CustomerAccepted, ctx, proposal=current["proposal"])

    def refuse(self, ctx: EventContext, reason: str) -> int:
        """The customer refuses, with a reason; returns how many proposals they have refused (two escalate)."""
        reason = _required("reason", reason)
        current = self._offered()
        self._record(self.CustomerRefused, ctx, proposal=current["proposal"], reason=reason, refusals=self.refusals + 1)
        return self.refusals

    def counter(self, ctx: EventContext, counter: str, amount: Decimal | None) -> None:
        """The customer proposes something else; staff make a new proposal."""
        counter = _required("counter", counter)
        if amount is not None and amount < 0:
            raise InvalidValue("amount", "must not be negative")
        current = self._offered()
        self._record(self.CustomerCountered, ctx, proposal=current["proposal"], counter=counter, amount=amount)

    # --- execution ----------------------------------------------------------------------------------------------

    class RemedyExecuted(CaseAggregate.Event):
        index: int
        remedy: str
        reference: str | None
        evidence_sha256: str | None
        note: str | None

        def apply(self, aggregate: Resolution) -> None:
            aggregate.execution[self.index].update(done=True, reference=self.reference)

    class CaseResolved(CaseAggregate.Event):
        summary: str

        def apply(self, aggregate: Resolution) -> None:
            aggregate.stage = Stage.RESOLVED

    def execute(
        self, ctx: EventContext, index: int, reference: str | None, evidence_sha256: str | None, note: str | None
    ) -> bool:
        """Record one remedy carried out (refund issued with its reference, exchange shipped, repair done, coupon
        sent, staff action taken). When the last is done the case is resolved; returns whether it is."""
        if self.stage is not Stage.RESOLVING:
            raise InvalidTransition(f"nothing to execute while the resolution is {self.stage.value}")
        if not 0 <= index < len(self.execution):
            raise InvalidValue("index", "no such remedy", allowed=[str(t["index"]) for t in self.execution])
        task = self.execution[index]
        if task["done"]:
            raise InvalidTransition(f"remedy {index} ({task['remedy']}) is already done")
        if Remedy(task["remedy"]) in NEEDS_REFERENCE and not (reference and reference.strip()):
            raise InvalidValue("reference", f"{task['remedy']} needs its reference (refund number, shipment, code)")
        self._record(
            self.RemedyExecuted,
            ctx,
            index=index,
            remedy=task["remedy"],
            reference=reference,
            evidence_sha256=evidence_sha256,
            note=note,
        )
        if all(t["done"] for t in self.execution):
            remedies = ", ".join(t["remedy"] for t in self.execution)
            self._record(self.CaseResolved, ctx, summary=f"remedies carried out: {remedies}")
            return True
        return False

    class AccountabilityRecorded(CaseAggregate.Event):
        staff_id: str
        measure: str
        note: str

        def apply(self, aggregate: Resolution) -> None:
            aggregate.accountability.append({"staff_id": self.staff_id, "measure": self.measure, "note": self.note})

    def record_accountability(self, ctx: EventContext, staff_id: str, measure: Measure, note: str) -> None:
        """Record what happens to the staff member at fault (处罚直接责任者); needs the findings first."""
        if self.root_cause is None:
            raise InvalidTransition("record the findings before holding anyone accountable")
        self._record(
            self.AccountabilityRecorded,
            ctx,
            staff_id=_required("staff_id", staff_id),
            measure=measure.value,
            note=_required("note", note),
        )

    class ResolutionReopened(CaseAggregate.Event):
        reason: str

        def apply(self, aggregate: Resolution) -> None:
            aggregate.stage = Stage.INVESTIGATING
            aggregate.execution = []

    def reopen(self, ctx: EventContext, reason: str) -> None:
        """The case was reopened (a low follow-up score, or a manager): investigate and propose again."""
        self._record(self.ResolutionReopened, ctx, reason=_required("reason", reason))

    # --- helpers ------------------------------------------------------------------------------------------------

    def _investigating(self, what: str) -> None:
        if self.stage not in (Stage.OPEN, Stage.INVESTIGATING):
            raise InvalidTransition(f"cannot {what} while the resolution is {self.stage.value}")

    def _not_after(self, stage: Stage, what: str) -> None:
        order = list(Stage)
        if order.index(self.stage) >= order.index(stage):
            raise InvalidTransition(f"cannot {what} while the resolution is {self.stage.value}")

    def _awaiting_approval(self) -> dict[str, Any]:
        if self.stage is not Stage.AWAITING_APPROVAL:
            raise InvalidTransition(f"no proposal awaits approval (the resolution is {self.stage.value})")
        return self.proposals[-1]

    def _offered(self) -> dict[str, Any]:
        if self.stage is not Stage.AWAITING_CUSTOMER:
            raise InvalidTransition(f"no proposal awaits the customer (the resolution is {self.stage.value})")
        return self.proposals[-1]
