"""Routing rules on the shipped config: classification with evidence, severity with reasons."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from services.routing.domain import Intake, SeverityRules, Taxonomy, Triage, assess_severity, classify
from shared.configfiles import load_config
from shared.settings import REPO_ROOT
from shared.vocabulary import Category, Severity
from tests.unit.helpers import NOW, context

TAXONOMY = load_config(REPO_ROOT / "config" / "taxonomy.yaml", Taxonomy)
RULES = load_config(REPO_ROOT / "config" / "severity.yaml", SeverityRules)


class TestClassify:
    @pytest.mark.parametrize(
        ("text", "category"),
        [
            ("手镯戴了一周就断了，做工太差", Category.PRODUCT_QUALITY),
            ("店员态度很差，对我大声辱骂", Category.SERVICE),
            ("The courier left my parcel in the rain, late delivery again", Category.DELIVERY),
            ("结账时被多收了200元，重复扣款", Category.PRICE),
            ("孩子在店里摔倒受伤了，地面太滑", Category.SAFETY),
        ],
    )
    def test_picks_the_category_the_words_point_to(self, text: str, category: Category) -> None:
        assert classify(text, TAXONOMY).category == category

    def test_stores_matched_terms_and_confidence(self) -> None:
        result = classify("quality is bad, the bangle is broken", TAXONOMY)
        assert result.category == Category.PRODUCT_QUALITY
        assert set(result.matched_terms) >= {"quality", "broken"}
        assert Decimal(0) < result.confidence <= Decimal(1)

    def test_injury_from_a_product_is_safety_not_quality(self) -> None:
        # precedence: someone harmed -> safety, even though a defect is mentioned too
        assert classify("热水壶质量有问题，爆炸把我烫伤了", TAXONOMY).category == Category.SAFETY

    def test_no_known_word_gives_other_with_zero_confidence(self) -> None:
        result = classify("zzz qqq", TAXONOMY)
        assert (result.category, result.confidence, result.matched_terms) == (Category.OTHER, Decimal(0), [])


class TestSeverity:
    def test_routine_complaint_is_general_without_reasons(self) -> None:
        assert assess_severity("包装有点旧", "store", Decimal(100), RULES).model_dump() == {
            "severity": Severity.GENERAL,
            "reasons": [],
        }

    def test_legal_threat_is_critical_with_reason(self) -> None:
        result = assess_severity("不解决我就找律师起诉你们", "phone", None, RULES)
        assert result.severity == Severity.CRITICAL
        assert any(r.startswith("legal_action") for r in result.reasons)

    @pytest.mark.parametrize(("amount", "severity"), [("5000.00", Severity.GENERAL), ("5000.01", Severity.URGENT)])
    def test_amount_above_threshold_is_urgent(self, amount: str, severity: Severity) -> None:
        assert assess_severity("包装有点旧", "web", Decimal(amount), RULES).severity == severity

    def test_regulator_transfer_is_at_least_urgent(self) -> None:
        result = assess_severity("包装有点旧", "regulator", None, RULES)
        assert result.severity == Severity.URGENT
        assert "channel_regulator" in result.reasons

    def test_highest_rule_wins(self) -> None:
        assert assess_severity("过敏了，我要找媒体曝光", "web", None, RULES).severity == Severity.CRITICAL


class TestTriage:
    def test_records_complaint_triaged_with_the_evidence(self) -> None:
        # Given a classification and an assessment
        case_id = uuid4()
        classification = classify("手镯断了", TAXONOMY)
        severity = assess_severity("手镯断了", "phone", None, RULES)
        # When
        intake = Intake(
            case_number="C1", store_id="SH-001", region="east", channel="phone", merchant_id=None, language="zh",
            received_at=NOW,
        )  # fmt: skip
        triage = Triage.triage(uuid4(), context(case_id, service="routing"), intake, classification, severity)
        # Then
        [event] = triage.collect_events()
        assert type(event).__name__ == "ComplaintTriaged"
        assert (event.category, event.subcategory, event.severity) == ("product_quality", "defect", "general")
        assert event.matched_terms == classification.matched_terms
        assert event.envelope["case_id"] == str(case_id)
