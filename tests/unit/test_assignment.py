"""Assignment on the shipped config and master data: Given config/routing.yaml and the demo chain's staff /
When a case's facts are matched, a queue named, members looked up or one chosen / Then the rule, queue or member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from services.routing.domain import CaseFacts, Load, RoutingConfig, Tier, choose_member, members_of, queue_of
from services.routing.domain.assignment import Skills
from shared.configfiles import load_config
from shared.masterdata import MasterData
from shared.settings import REPO_ROOT
from shared.vocabulary import Category, Severity

ROUTING_YAML = REPO_ROOT / "config" / "routing.yaml"
ROUTING = load_config(ROUTING_YAML, RoutingConfig)
STAFF = list(MasterData.load(REPO_ROOT / "config" / "demo-chain").staff.values())
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def routing_data() -> dict[str, Any]:
    with open(ROUTING_YAML, encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def facts(
    category: Category = Category.SERVICE,
    severity: Severity = Severity.GENERAL,
    has_merchant: bool = False,
    subcategory: str | None = None,
) -> CaseFacts:
    return CaseFacts(
        store="SH-001", region="east", business="jewelry", store_kind="store", category=category,
        subcategory=subcategory, severity=severity, has_merchant=has_merchant,
    )  # fmt: skip


class TestConfigValidation:
    def test_the_shipped_config_loads(self) -> None:
        assert ROUTING.rules[-1].name == "default"

    def test_an_unknown_team_is_refused_by_name(self) -> None:
        data = routing_data()
        data["rules"][0]["lead"] = "night_shift"
        with pytest.raises(ValidationError, match=r"unknown teams \['night_shift'\]"):
            RoutingConfig.model_validate(data)

    def test_an_unknown_supporting_or_escalation_team_is_refused(self) -> None:
        data = routing_data()
        data["rules"][1]["supporting"] = ["press_office"]
        data["escalation"]["hq"] = "board"
        with pytest.raises(ValidationError, match=r"unknown teams \['board', 'press_office'\]"):
            RoutingConfig.model_validate(data)

    def test_a_last_rule_that_is_not_a_catch_all_is_refused(self) -> None:
        data = routing_data()
        data["rules"] = data["rules"][:-1]
        with pytest.raises(ValidationError, match="the last rule must match every case"):
            RoutingConfig.model_validate(data)

    def test_a_condition_the_rules_do_not_know_is_refused(self) -> None:
        data = routing_data()
        data["rules"][0]["when"] = {"severity": ["critical"], "weather": ["rain"]}
        with pytest.raises(ValidationError, match="weather"):
            RoutingConfig.model_validate(data)


class TestRuleFor:
    @pytest.mark.parametrize(
        ("case", "rule", "lead"),
        [
            (facts(severity=Severity.CRITICAL), "critical_to_hq", "hq_desk"),
            # the first rule wins: a critical privacy case with a merchant still goes to HQ
            (facts(Category.PRIVACY, Severity.CRITICAL, has_merchant=True), "critical_to_hq", "hq_desk"),
            (facts(Category.PRIVACY), "privacy_to_legal", "legal"),
            (facts(Category.PRIVACY, Severity.URGENT, has_merchant=True), "privacy_to_legal", "legal"),
            (facts(has_merchant=True), "mall_merchant", "mall_desk"),
            (facts(Category.PRODUCT_QUALITY, subcategory="authenticity"), "authenticity_needs_appraisal",
             "store_management"),
            (facts(severity=Severity.URGENT), "urgent_to_store_manager", "store_management"),
            (facts(Category.SAFETY), "safety_with_quality", "store_management"),
            (facts(), "default", "store_service"),
            (facts(Category.PRODUCT_QUALITY, subcategory="defect"), "default", "store_service"),
        ],
    )  # fmt: skip
    def test_the_first_matching_rule_wins(self, case: CaseFacts, rule: str, lead: str) -> None:
        chosen = ROUTING.rule_for(case)
        assert (chosen.name, chosen.lead) == (rule, lead)

    def test_supporting_teams_come_with_the_rule(self) -> None:
        assert ROUTING.rule_for(facts(severity=Severity.CRITICAL)).supporting == ["store_management"]


class TestQueues:
    @pytest.mark.parametrize(
        ("team", "queue"),
        [
            ("store_service", "store_service@SH-001"),
            ("mall_desk", "mall_desk@SH-001"),
            ("regional_office", "regional_office@east"),
            ("hq_desk", "hq_desk"),
        ],
    )
    def test_queue_of_names_the_store_the_region_or_the_team(self, team: str, queue: str) -> None:
        assert queue_of(ROUTING.team(team), "SH-001", "east") == queue

    def test_an_unknown_team_is_refused(self) -> None:
        with pytest.raises(ValueError, match="night_shift"):
            ROUTING.team("night_shift")


def ids(team: str, store: str = "SH-001", region: str | None = "east", **kwargs: Any) -> list[str]:
    return sorted(m.staff_id for m in members_of(ROUTING.team(team), store, region, STAFF, ROUTING.skills, **kwargs))


class TestMembersOf:
    def test_store_service_is_the_stores_frontline(self) -> None:
        assert ids("store_service") == ["SH-001-F1"]
        assert ids("store_service", store="HZ-001", region="east") == ["HZ-001-F1"]

    def test_a_team_with_two_roles_has_both(self) -> None:
        assert ids("mall_desk") == ["SH-001-F1", "SH-001-M1"]

    def test_regional_and_chain_wide_teams(self) -> None:
        assert ids("regional_office") == ["RM-east"]
        assert ids("regional_office", region="north") == ["RM-north"]
        assert ids("hq_desk") == ["HQ-01", "HQ-02"]
        assert ids("crisis") == ["HQ-01", "HQ-02", "HQ-03"]

    def test_a_required_skill_filters_the_members(self) -> None:
        assert ids("technical") == ["HQ-06", "HQ-07"]
        assert ids("technical", skill="repair") == ["HQ-06", "HQ-07"]
        assert ids("appraisal", skill="appraisal") == ["HQ-04", "HQ-05"]
        assert ids("appraisal", skill="repair") == []
        assert ids("store_service", skill="legal") == []

    def test_a_skill_given_to_one_member_by_id(self) -> None:
        skills = Skills(by_role=ROUTING.skills.by_role, by_staff={"HQ-07": ["engraving"]})
        members = members_of(ROUTING.team("technical"), "SH-001", "east", STAFF, skills, skill="engraving")
        assert [m.staff_id for m in members] == ["HQ-07"]


class TestChooseMember:
    def test_the_fewest_open_cases_wins(self) -> None:
        loads = {
            "a": Load(open_cases=3, last_assigned_at=T0 - timedelta(days=9)),
            "b": Load(open_cases=1, last_assigned_at=T0),
            "c": Load(open_cases=2),
        }
        assert choose_member(["a", "b", "c"], loads) == "b"

    def test_a_tie_goes_to_the_longest_idle(self) -> None:
        loads = {
            "a": Load(open_cases=1, last_assigned_at=T0),
            "b": Load(open_cases=1, last_assigned_at=T0 - timedelta(hours=3)),
            "c": Load(open_cases=1, last_assigned_at=T0 - timedelta(hours=1)),
        }
        assert choose_member(["a", "b", "c"], loads) == "b"

    def test_never_assigned_comes_before_any_assignment(self) -> None:
        loads = {"a": Load(open_cases=0, last_assigned_at=T0 - timedelta(days=365)), "z": Load(open_cases=0)}
        assert choose_member(["a", "z"], loads) == "z"
        # a member without any load is never assigned and has no open cases
        assert choose_member(["a", "y"], {"a": loads["a"]}) == "y"

    def test_then_by_id(self) -> None:
        same = Load(open_cases=2, last_assigned_at=T0)
        assert choose_member(["m2", "m3", "m1"], {"m1": same, "m2": same, "m3": same}) == "m1"
        assert choose_member(["m2", "m1"], {}) == "m1"

    def test_no_candidates_gives_nobody(self) -> None:
        assert choose_member([], {}) is None

    def test_idle_time_compares_instants_not_their_text(self) -> None:
        # a at 10:00 Shanghai (02:00 UTC) has been idle longer than b at 03:00 UTC
        loads = {
            "a": Load(open_cases=1, last_assigned_at=datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Asia/Shanghai"))),
            "b": Load(open_cases=1, last_assigned_at=datetime(2026, 11, 25, 3, tzinfo=UTC)),
        }
        assert choose_member(["b", "a"], loads) == "a"


class TestTiers:
    def test_above_climbs_one_tier_at_a_time(self) -> None:
        assert Tier.FRONTLINE.above() is Tier.CS_MANAGER
        assert Tier.CS_MANAGER.above() is Tier.REGIONAL_MANAGER
        assert Tier.REGIONAL_MANAGER.above() is Tier.HQ
        assert Tier.HQ.above() is None

    def test_escalation_names_a_team_at_each_tier(self) -> None:
        assert {tier: ROUTING.team(team).tier for tier, team in ROUTING.escalation.items()} == {t: t for t in Tier}
