"""What resolution's routes answer: a case's resolution, return requests, recall alerts, campaigns and notices.

Instants, days and amounts are ISO 8601 / decimal text, exactly as the views write them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

# --- a case's resolution ----------------------------------------------------------------------------------------


class InvestigationTask(BaseModel):
    """A specialist's task: its owner, deadline and result once done."""

    task_id: str
    kind: str
    owner: str
    description: str
    due_at: str
    done: bool
    result: str | None


class RemedyOffered(BaseModel):
    """One remedy of a proposal or suggestion; ``amount`` in CNY as decimal text."""

    remedy: str
    amount: str
    note: str | None


class CompensationSuggestion(BaseModel):
    """What the chain's standards suggest: the basis, the remedies and their total (a person decides)."""

    basis: str
    remedies: list[RemedyOffered]
    total: str


class Approval(BaseModel):
    by: str
    tier: str


class ProposalPublic(BaseModel):
    """A proposal of remedies, the tier it needs, its approvals and where it stands."""

    proposal: int
    remedies: list[RemedyOffered]
    total: str
    proposer: str
    proposer_tier: str
    required_tier: str
    suggestion: CompensationSuggestion
    # The value the tier was judged on: goods-valued remedies (exchange, repair) at the goods' value.
    tier_value: str | None = None
    approvals: list[Approval]
    state: str


class RemedyExecution(BaseModel):
    """One accepted remedy to carry out, and its reference once done."""

    index: int
    remedy: str
    amount: str
    done: bool
    reference: str | None


class AccountabilityMeasure(BaseModel):
    staff_id: str
    measure: str
    note: str


class ResolutionPublic(BaseModel):
    """The resolution as staff see it: stage, investigation, proposals with their approvals, execution."""

    case_id: str
    category: str
    subcategory: str | None
    severity: str
    stage: str
    authenticity_dispute: bool
    appraised: bool
    tasks: list[InvestigationTask]
    root_cause: str | None
    fraud_established: bool
    proposals: list[ProposalPublic]
    refusals: int
    execution: list[RemedyExecution]
    accountability: list[AccountabilityMeasure]


class ResolutionOffered(ResolutionPublic):
    """The resolution once its proposal was put to the customer, and where the customer answers."""

    answer_path: str


class ProposalAnswered(BaseModel):
    """The customer's answer as recorded: which proposal, and its state now."""

    case_id: str
    proposal: int
    state: str


# --- return requests --------------------------------------------------------------------------------------------


class Eligibility(BaseModel):
    """The rules' verdict on a return: the rule applied, why (zh and en), who pays the shipping, the last day."""

    eligible: bool
    rule: str
    explanation: dict[str, str]
    shipping_paid_by: str | None
    last_day: str | None


class ReturnReview(BaseModel):
    approved: bool
    reason: str | None
    override: bool = Field(description="approved against the rule (a goodwill exception)")
    by: str
    at: str


class GoodsBack(BaseModel):
    tracking_number: str
    received_at: str


class ReturnInspection(BaseModel):
    result: str
    note: str
    report_sha256: str | None


class ReturnRefund(BaseModel):
    amount: str
    reference: str
    at: str


class ExchangeShipment(BaseModel):
    tracking_number: str
    at: str


class RepairCompleted(BaseModel):
    note: str
    at: str


class ReturnPublic(BaseModel):
    """A return, exchange or repair request: the ask, the rules' verdict and every step so far."""

    request_id: str
    case_id: str
    number: int
    kind: str
    reason: str
    sku: str | None
    sale: str
    purchased_on: str
    received_on: str
    opened: bool
    has_inspection_report: bool
    eligibility: Eligibility
    state: str
    requested_at: str
    review: ReturnReview | None
    goods: GoodsBack | None
    inspection: ReturnInspection | None
    refund: ReturnRefund | None
    exchange: ExchangeShipment | None
    repair: RepairCompleted | None


class CaseReturns(BaseModel):
    case_id: str
    returns: list[ReturnPublic]


# --- recalls ----------------------------------------------------------------------------------------------------


class AlertRow(BaseModel):
    """A recall alert in the list: SKU, batch, why it was raised, its status and how many cases it links."""

    alert_id: str
    sku: str
    batch: str | None
    reason: str
    status: str
    raised_at: str
    case_count: int
    campaign_id: str | None


class AlertPublic(BaseModel):
    """One alert with its window, every linked case and the campaign planned from it, if any."""

    alert_id: str
    sku: str
    batch: str | None
    reason: str
    team: str | None
    raised_at: str
    window_start: str
    window_end: str
    case_ids: list[str]
    status: str | None = None
    campaign_id: str | None = None


class PublicAnnouncement(BaseModel):
    """The recall announcement (召回公告), in Chinese and English."""

    zh: str
    en: str


class CampaignImport(BaseModel):
    """One import of affected customers into a campaign and its counts."""

    at: str
    by: str
    rows: int
    issued: int
    already_issued: int
    failed: int


class CampaignPublic(BaseModel):
    """A recall campaign: its plan (scope, hazard, remedy, announcement), dates, joined cases and imports."""

    campaign_id: str
    status: str
    title: str
    sku: str
    batches: list[str]
    sold_from: str | None
    sold_to: str | None
    hazard: str
    remedy: str
    announcement: PublicAnnouncement
    alert_id: str | None
    planned_at: str
    planned_by: str
    launched_at: str | None
    closed_at: str | None
    joined_cases: list[str]
    imports: list[CampaignImport]


class CampaignRow(BaseModel):
    campaign_id: str
    title: str
    sku: str
    batches: list[str]
    status: str
    remedy: str
    alert_id: str | None
    planned_at: str


class CampaignProgress(BaseModel):
    """Customers by notice status, how many are done (remedied or unreachable) and the share done, in percent."""

    campaign_id: str
    status: str
    customers: int
    by_status: dict[str, int]
    done: int
    percent_done: float
    joined_cases: int


class CampaignReport(CampaignPublic):
    """The campaign with its progress, remedies done by kind, complaints joined (a count) and whether complete."""

    joined_cases: int  # type: ignore[assignment]  # a count here, the case ids in the campaign itself
    progress: CampaignProgress
    remedies_done: dict[str, int]
    complete: bool


class OrderLineProblem(BaseModel):
    row: int
    order_id: str | None
    field: str
    message: str


class RecallImportDone(BaseModel):
    """``rows`` = ``issued`` + ``already_issued`` + ``failed``; each bad line named by line number and column."""

    campaign_id: str
    rows: int
    issued: int
    already_issued: int
    failed: int
    errors: list[OrderLineProblem]
    seconds: float


class NoticeRow(BaseModel):
    notice_id: str
    order_id: str
    sku: str
    batch: str | None
    customer_ref: str
    status: str
    remedy: str | None
    updated_at: str


class NoticeStep(BaseModel):
    """A status the notice reached, when, and who recorded it (not on the first, ``issued``)."""

    status: str
    at: str
    by: str | None = None


class NoticePublic(BaseModel):
    """A recall notice without contact details (the customer is ``customer_ref``), with its history."""

    notice_id: str
    campaign_id: str
    customer_ref: str
    order_id: str
    sku: str
    batch: str | None
    sold_on: str | None
    remedy: str | None
    language: str
    channels: list[str]
    status: str
    history: list[NoticeStep]

