"""What feedback's routes answer: the case view and timeline, the follow-up, the library, statistics, queues.

Instants are ISO 8601 text, exactly as the read models store them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# --- the case view and timeline ---------------------------------------------------------------------------------


class ClockSeen(BaseModel):
    """A clock's latest change as the case view saw it (routing's ``/clocks`` has the live reading)."""

    change: int
    changed_at: str
    deadline: str | None
    due_at: str | None
    duration: str | None
    paused_total: str | None
    started_at: str | None
    state: str
    stopped_at: str | None


class CaseView(BaseModel):
    """The case as all services' events have made it (fields in the stored view's order, alphabetical).

    A view written before a field existed lacks it until the case's next event; ``as_of`` is there only when
    asked for."""

    model_config = ConfigDict(extra="allow")

    acknowledged_at: str | None = None
    acknowledgement_prepared_at: str | None = None
    amendments: int = 0
    assignee: str | None = None
    case_id: str
    case_number: str | None = None
    category: str | None = None
    channel: str | None = None
    classified_at: str | None = None
    clocks: dict[str, ClockSeen] = {}
    earlier_case_number: str | None = None
    event_count: int = 0
    evidence_count: int = 0
    flags: list[str] = []
    owner_since: str | None = None
    queue: str | None = None
    read_back_confirmed_at: str | None = None
    received_at: str | None = None
    reopened: bool = False
    repeat_linked_at: str | None = None
    resolution_opened_at: str | None = None
    resolved_at: str | None = None
    severity: str | None = None
    severity_at: str | None = None
    sku: str | None = None
    status: str | None = None
    status_at: str | None = None
    status_rank: int = -1
    store_id: str | None = None
    subcategory: str | None = None
    team: str | None = None
    tier: str | None = None
    triaged_at: str | None = None
    updated_at: str | None = None
    validity_decided_at: str | None = None
    well_founded: bool | None = None
    withdrawn_at: str | None = None
    as_of: str | None = Field(default=None, description="the instant asked for (UTC), when the view is as of one")


class TimelineEntry(BaseModel):
    """One event of one service on the case: who did what, when, caused by which event."""

    msg_id: str
    service: str
    notification_id: int
    type: str
    case_id: str
    event_id: str
    causation_id: str | None
    correlation_id: str | None
    recorded_at: str
    occurred_at: str
    actor: dict[str, Any]
    schema_version: int
    payload: dict[str, Any]
    label: str | None = Field(default=None, description="the event's label in the language asked for (``lang``)")


class Timeline(BaseModel):
    case_id: str
    as_of: str | None = Field(default=None, description="the instant asked for (UTC), when there was one")
    events: list[TimelineEntry]


# --- follow-up --------------------------------------------------------------------------------------------------


class SurveyAttempt(BaseModel):
    attempt: int
    sent_at: str


class SurveyAnswerGiven(BaseModel):
    score: int
    anything_left: bool
    comment: str | None
    answered_at: str


class Reopened(BaseModel):
    by: str
    reason: str
    actor: str
    at: str


class FollowUpRound(BaseModel):
    """One round of follow-up after a resolution: survey attempts, the answer, how it closed or reopened."""

    round: int
    resolution_summary: str
    scheduled_at: str
    due_at: str
    attempts: list[SurveyAttempt]
    answer: SurveyAnswerGiven | None
    outcome: str | None
    closed_at: str | None
    summary: str | None
    reopened: Reopened | None


class FollowUpPublic(BaseModel):
    """The follow-up: its state and current round (due time, attempts, answer, outcome), and every round."""

    case_id: str
    state: str
    round: int
    due_at: str
    next_step: str | None
    next_at: str | None
    attempts: list[SurveyAttempt]
    answer: SurveyAnswerGiven | None
    outcome: str | None
    summary: str | None
    reopened: Reopened | None
    rounds: list[FollowUpRound]


class SurveyAnswered(BaseModel):
    """What the customer's answer did: the follow-up's state and the round's outcome."""

    case_id: str
    round: int
    state: str
    outcome: str | None


# --- work queues ------------------------------------------------------------------------------------------------


class QueueItem(BaseModel):
    """A case in a work queue, with the clock that falls due first."""

    case_id: str
    case_number: str | None
    status: str | None
    state: str | None
    severity: str | None
    category: str | None
    store_id: str | None
    team: str | None
    queue: str | None
    assignee: str | None
    tier: str | None
    flags: list[str]
    received_at: str | None
    due_clock: str | None
    due_at: str | None


class QueuePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[QueueItem]


# --- statistics and warnings ------------------------------------------------------------------------------------


class Durations(BaseModel):
    """How many durations there are and their percentiles, in seconds (None without any)."""

    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    p95_seconds: float | None


class Timeliness(BaseModel):
    """Of one clock's stopped instances, how many met their deadline and the share (None without any)."""

    stopped: int
    met: int
    share: float | None


class Satisfaction(BaseModel):
    """CSAT: the number of answers, the average score and how many gave each score 1–5."""

    answers: int
    average: float | None
    distribution: dict[str, int]


class RepeatRate(BaseModel):
    cases: int
    rate: float | None


class ReopenRate(BaseModel):
    cases: int
    resolved: int
    rate: float | None


class StatisticsSummary(BaseModel):
    """Every figure over the cases received in [from, to) that match the filters (echoed in ``filters``)."""

    filters: dict[str, str]
    cases: int
    period: str
    counts: dict[str, dict[str, int]] = Field(description="per grouping (category, store, …), cases per value")
    timeliness: dict[str, Timeliness] = Field(description="per clock name, and ``all``")
    time_to_acknowledge: Durations
    time_to_resolve: Durations
    csat: Satisfaction
    repeat: RepeatRate
    reopen: ReopenRate


class Window(BaseModel):
    from_: str = Field(alias="from")
    to: str


class FrequencyWarning(BaseModel):
    """A category, SKU or store whose complaints in the window exceed the factor × its scaled baseline."""

    dimension: str
    value: str
    count: int
    baseline: float
    baseline_count: int
    factor: float
    threshold: float
    minimum: int
    window: Window
    baseline_window: Window
    case_ids: list[str]


class WarningPolicy(BaseModel):
    """The window and baseline (seconds), the factor and minimum count, and the dimensions watched."""

    window: float
    baseline: float
    factor: float
    minimum: int
    dimensions: list[str]


class Warnings(BaseModel):
    at: str
    policy: WarningPolicy
    warnings: list[FrequencyWarning]


# --- the case library -------------------------------------------------------------------------------------------


class LibraryRemedy(BaseModel):
    """A remedy of the offer the customer accepted; ``amount`` in CNY as decimal text."""

    amount: str | None
    remedy: str | None


class LibraryEntry(BaseModel):
    """A resolved case, anonymised: no case number, ids, instants or personal data."""

    entry_id: str
    status: str
    category: str | None
    subcategory: str | None
    severity: str | None
    channel: str | None
    region: str | None
    business: str | None
    well_founded: bool | None
    responsibility: dict[str, Any] | None = Field(description="primary, secondary and reason")
    root_cause: str | None
    description: str | None
    demand: str | None
    findings: str | None
    remedies: list[LibraryRemedy]
    remedy_total: str | None
    resolution_summary: str | None
    outcome: str | None
    satisfaction: int | None
    closing_summary: str | None
    deadlines: dict[str, bool | None]
    flags: list[str]
    reopened: int
    resolved_month: str | None
    hours_to_resolve: float | None
    hours_to_close: float | None


class LibraryPage(BaseModel):
    """A page of the library; ``words`` are the query's words the search looked for."""

    total: int
    limit: int
    offset: int
    words: list[str]
    entries: list[LibraryEntry]
