"""Who owns a case: teams, assignment rules, escalation tiers and the emergency checklist (``config/routing.yaml``).

Pure: the staff directory and each member's open-case count come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.masterdata import StaffMember
from shared.vocabulary import Category, Role, Severity


class Tier(StrEnum):
    """Escalation tiers, lowest first: a breach moves a case one tier up."""

    FRONTLINE = "frontline"
    CS_MANAGER = "cs_manager"
    REGIONAL_MANAGER = "regional_manager"
    HQ = "hq"

    def above(self) -> Tier | None:
        """The next tier up, or None at HQ."""
        tiers = list(Tier)
        index = tiers.index(self)
        return tiers[index + 1] if index + 1 < len(tiers) else None


class TeamScope(StrEnum):
    STORE = "store"
    REGION = "region"
    ALL = "all"


class Team(BaseModel):
    id: str
    name: str
    scope: TeamScope
    roles: list[Role] = Field(min_length=1)
    tier: Tier


class Skills(BaseModel):
    by_role: dict[Role, list[str]] = {}
    by_staff: dict[str, list[str]] = {}

    def of(self, member: StaffMember) -> set[str]:
        return {*self.by_role.get(member.role, ()), *self.by_staff.get(member.staff_id, ())}


class CaseFacts(BaseModel):
    """What the assignment rules look at."""

    model_config = ConfigDict(frozen=True)

    store: str
    region: str | None
    business: str | None
    store_kind: str | None
    category: Category
    subcategory: str | None
    severity: Severity
    has_merchant: bool


class Conditions(BaseModel):
    """A rule's conditions; an omitted one matches anything."""

    model_config = ConfigDict(extra="forbid")

    store: list[str] | None = None
    region: list[str] | None = None
    business: list[str] | None = None
    store_kind: list[str] | None = None
    category: list[Category] | None = None
    subcategory: list[str] | None = None
    severity: list[Severity] | None = None
    has_merchant: bool | None = None

    def hold_for(self, facts: CaseFacts) -> bool:
        for field in type(self).model_fields:
            wanted = getattr(self, field)
            value = getattr(facts, field)
            if wanted is None:
                continue
            if isinstance(wanted, bool):
                if value is not wanted:
                    return False
            elif value not in wanted:
                return False
        return True


class AssignmentRule(BaseModel):
    name: str
    when: Conditions
    lead: str
    supporting: list[str] = []
    skill: str | None = None


class ChecklistItem(BaseModel):
    task: str
    title: str
    team: str
    due_in: timedelta


class EmergencyProtocol(BaseModel):
    crisis_team: str
    checklist: list[ChecklistItem] = Field(min_length=1)


class RoutingConfig(BaseModel):
    """``config/routing.yaml``, checked for teams that do not exist and a missing catch-all rule."""

    teams: list[Team]
    skills: Skills = Skills()
    rules: list[AssignmentRule] = Field(min_length=1)
    escalation: dict[Tier, str]
    emergency: EmergencyProtocol

    @model_validator(mode="after")
    def _teams_exist(self) -> RoutingConfig:
        known = {t.id for t in self.teams}
        named = [
            *(r.lead for r in self.rules),
            *(s for r in self.rules for s in r.supporting),
            *self.escalation.values(),
            self.emergency.crisis_team,
            *(item.team for item in self.emergency.checklist),
        ]
        unknown = sorted(set(named) - known)
        if unknown:
            raise ValueError(f"unknown teams {unknown}; teams are {sorted(known)}")
        if set(self.escalation) != set(Tier):
            raise ValueError(f"escalation must name a team for each tier {[t.value for t in Tier]}")
        if self.rules[-1].when != Conditions():
            raise ValueError("the last rule must match every case (when: {})")
        return self

    def team(self, team_id: str) -> Team:
        """The team ``team_id``; ValueError naming the known teams otherwise."""
        for team in self.teams:
            if team.id == team_id:
                return team
        raise ValueError(f"unknown team {team_id!r}")

    def rule_for(self, facts: CaseFacts) -> AssignmentRule:
        """The first rule whose conditions hold (the last rule matches everything)."""
        return next(rule for rule in self.rules if rule.when.hold_for(facts))


def queue_of(team: Team, store: str, region: str | None) -> str:
    """The queue a team works a case in: ``<team>@<store>``, ``<team>@<region>`` or ``<team>``."""
    if team.scope is TeamScope.STORE:
        return f"{team.id}@{store}"
    if team.scope is TeamScope.REGION:
        return f"{team.id}@{region}"
    return team.id


def members_of(
    team: Team, store: str, region: str | None, staff: Iterable[StaffMember], skills: Skills, skill: str | None = None
) -> list[StaffMember]:
    """The staff who work ``team``'s queue for a case of ``store`` (in ``region``), with ``skill`` if one is required."""
    scope = {TeamScope.STORE: store, TeamScope.REGION: region, TeamScope.ALL: "*"}[team.scope]
    return [
        member
        for member in staff
        if member.role in team.roles and member.scope == scope and (skill is None or skill in skills.of(member))
    ]


_NEVER = datetime.min.replace(tzinfo=UTC)


class Load(BaseModel):
    """A member's open cases and when they were last given one (None: never)."""

    open_cases: int = 0
    last_assigned_at: datetime | None = None


def choose_member(candidates: Iterable[str], loads: Mapping[str, Load]) -> str | None:
    """The candidate with the fewest open cases; ties go to the longest idle (never assigned first), then by id."""
    idle = Load()

    def key(member: str) -> tuple[int, bool, datetime, str]:
        load = loads.get(member, idle)
        last = load.last_assigned_at
        return load.open_cases, last is not None, last or _NEVER, member

    return min(candidates, key=key, default=None)
