"""Remedies, authority tiers and compensation standards on the shipped config (``config/authority.yaml``,
``config/compensation.yaml``): Given remedy lines / When the policy or the calculator decides / Then the tier, the
refusal or the suggestion. Money is Decimal with two places."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.resolution.domain.compensation import (
    AppraisalRequired,
    AuthorityPolicy,
    CompensationStandards,
    RemedyLine,
    RootCause,
    Suggestion,
    suggest,
)
from shared.configfiles import load_config
from shared.errors import InvalidTransition, InvalidValue
from shared.settings import REPO_ROOT
from shared.vocabulary import Category, Remedy, Role, Severity

POLICY = load_config(REPO_ROOT / "config" / "authority.yaml", AuthorityPolicy)
STANDARDS = load_config(REPO_ROOT / "config" / "compensation.yaml", CompensationStandards)

FRONTLINE_REMEDIES = [Remedy.APOLOGY, Remedy.EXPLANATION, Remedy.COUPON, Remedy.GIFT, Remedy.POINTS]
MANAGER_REMEDIES = [Remedy.REFUND, Remedy.EXCHANGE, Remedy.REPAIR, Remedy.PRICE_DIFFERENCE, Remedy.SERVICE_REDO]
SUBSTANTIVE = [Remedy.REFUND, Remedy.EXCHANGE, Remedy.REPAIR, Remedy.COMPENSATION, Remedy.PRICE_DIFFERENCE]


def line(remedy: Remedy, amount: str = "0") -> RemedyLine:
    return RemedyLine(remedy=remedy, amount=Decimal(amount))


def two_places(value: Decimal) -> bool:
    return isinstance(value, Decimal) and value.as_tuple().exponent == -2


def amounts(suggestion: Suggestion) -> list[tuple[Remedy, Decimal]]:
    return [(r.remedy, r.amount) for r in suggestion.remedies]


# --- remedy lines -----------------------------------------------------------------------------------------------


class TestRemedyLine:
    @pytest.mark.parametrize(("given", "stored"), [("0", "0.00"), ("200", "200.00"), ("15.5", "15.50")])
    def test_amount_is_kept_with_two_places(self, given: str, stored: str) -> None:
        amount = line(Remedy.REFUND, given).amount
        assert amount == Decimal(stored)
        assert two_places(amount)
        assert str(amount) == stored

    def test_amount_defaults_to_zero(self) -> None:
        assert RemedyLine(remedy=Remedy.APOLOGY).amount == Decimal("0.00")

    def test_a_negative_amount_is_refused(self) -> None:
        with pytest.raises(ValueError):
            line(Remedy.REFUND, "-1.00")


# --- tiers ------------------------------------------------------------------------------------------------------


class TestTierOf:
    @pytest.mark.parametrize(
        ("role", "tier"),
        [
            (Role.FRONTLINE, "frontline"),
            (Role.CS_MANAGER, "cs_manager"),
            (Role.REGIONAL_MANAGER, "regional_manager"),
            (Role.HQ, "hq"),
            (Role.LEGAL, "hq"),
            (Role.ADMIN, "hq"),
            (Role.APPRAISER, None),
            (Role.AUDITOR, None),
            (Role.CUSTOMER, None),
        ],
    )
    def test_the_tier_a_role_works_at(self, role: Role, tier: str | None) -> None:
        assert POLICY.tier_of(role) == tier

    def test_tiers_rank_lowest_first(self) -> None:
        ranks = [POLICY.rank(t) for t in ("frontline", "cs_manager", "regional_manager", "hq")]
        assert ranks == [0, 1, 2, 3]


class TestRequiredTier:
    @pytest.mark.parametrize(
        ("amount", "tier"),
        [
            ("0.00", "frontline"),
            ("200.00", "frontline"),
            ("200.01", "cs_manager"),
            ("2000.00", "cs_manager"),
            ("2000.01", "regional_manager"),
            ("20000.00", "regional_manager"),
            ("20000.01", "hq"),
        ],
    )
    def test_coupon_value_edges_are_inclusive(self, amount: str, tier: str) -> None:
        # Given a coupon (a frontline remedy) at the amount / When / Then "up to" is inclusive
        assert POLICY.required_tier([line(Remedy.COUPON, amount)], Severity.GENERAL) == tier

    @pytest.mark.parametrize(
        ("amount", "tier"),
        [
            ("1.00", "cs_manager"),
            ("2000.00", "cs_manager"),
            ("2000.01", "regional_manager"),
            ("20000.00", "regional_manager"),
            ("20000.01", "hq"),
        ],
    )
    def test_refund_value_edges_are_inclusive(self, amount: str, tier: str) -> None:
        assert POLICY.required_tier([line(Remedy.REFUND, amount)], Severity.GENERAL) == tier

    def test_the_total_of_all_lines_counts(self) -> None:
        # Given a coupon and a gift of ¥100.00 and ¥100.01: together ¥200.01
        lines = [line(Remedy.COUPON, "100.00"), line(Remedy.GIFT, "100.01")]
        # Then the total is beyond frontline's ¥200 although each line is within it
        assert POLICY.required_tier(lines, Severity.GENERAL) == "cs_manager"
        assert POLICY.required_tier([line(Remedy.COUPON, "100.00"), line(Remedy.GIFT, "100.00")], Severity.GENERAL) == (
            "frontline"
        )

    @pytest.mark.parametrize("remedy", FRONTLINE_REMEDIES)
    def test_frontline_grants_apology_explanation_coupon_gift_points(self, remedy: Remedy) -> None:
        amount = "0" if remedy in (Remedy.APOLOGY, Remedy.EXPLANATION) else "50.00"
        assert POLICY.required_tier([line(remedy, amount)], Severity.GENERAL) == "frontline"

    @pytest.mark.parametrize("remedy", MANAGER_REMEDIES)
    def test_a_refund_exchange_repair_price_difference_or_redo_needs_a_manager_whatever_the_amount(
        self, remedy: Remedy
    ) -> None:
        amount = "0" if remedy in (Remedy.REPAIR, Remedy.SERVICE_REDO) else "1.00"
        assert POLICY.required_tier([line(remedy, amount)], Severity.GENERAL) == "cs_manager"

    def test_a_one_yuan_refund_beside_an_apology_needs_a_manager(self) -> None:
        lines = [line(Remedy.APOLOGY), line(Remedy.REFUND, "1.00")]
        assert POLICY.required_tier(lines, Severity.GENERAL) == "cs_manager"

    def test_compensation_is_not_a_frontline_remedy(self) -> None:
        assert POLICY.required_tier([line(Remedy.COMPENSATION, "50.00")], Severity.GENERAL) == "cs_manager"

    def test_staff_action_never_raises_the_tier(self) -> None:
        # Given an apology plus a staff action (internal)
        assert POLICY.required_tier([line(Remedy.STAFF_ACTION)], Severity.GENERAL) == "frontline"
        assert POLICY.required_tier([line(Remedy.APOLOGY), line(Remedy.STAFF_ACTION)], Severity.GENERAL) == (
            "frontline"
        )
        assert POLICY.required_tier(
            [line(Remedy.COUPON, "200.00"), line(Remedy.STAFF_ACTION)], Severity.GENERAL
        ) == "frontline"
        assert POLICY.required_tier(
            [line(Remedy.REFUND, "2000.00"), line(Remedy.STAFF_ACTION)], Severity.GENERAL
        ) == "cs_manager"

    @pytest.mark.parametrize(
        "lines",
        [
            [line(Remedy.APOLOGY)],
            [line(Remedy.STAFF_ACTION)],
            [line(Remedy.COUPON, "10.00")],
            [line(Remedy.REFUND, "1500.00")],
            [line(Remedy.REFUND, "15000.00")],
            [line(Remedy.REFUND, "50000.00")],
        ],
    )
    def test_any_critical_case_goes_to_hq(self, lines: list[RemedyLine]) -> None:
        assert POLICY.required_tier(lines, Severity.CRITICAL) == "hq"

    def test_urgent_cases_follow_the_amount(self) -> None:
        assert POLICY.required_tier([line(Remedy.COUPON, "100.00")], Severity.URGENT) == "frontline"
        assert POLICY.required_tier([line(Remedy.REFUND, "5000.00")], Severity.URGENT) == "regional_manager"


# --- check_lines ------------------------------------------------------------------------------------------------


class TestCheckLines:
    def test_an_empty_proposal_is_refused(self) -> None:
        with pytest.raises(InvalidValue) as error:
            POLICY.check_lines([], appraised=False, authenticity_dispute=False)
        assert error.value.field == "remedies"
        assert error.value.allowed is not None
        assert "refund" in error.value.allowed

    @pytest.mark.parametrize(
        "remedy", [Remedy.APOLOGY, Remedy.EXPLANATION, Remedy.STAFF_ACTION, Remedy.REPAIR, Remedy.SERVICE_REDO]
    )
    def test_an_amount_on_a_remedy_without_value_is_refused(self, remedy: Remedy) -> None:
        # Given a valid coupon first, then the valued apology (index 1)
        lines = [line(Remedy.COUPON, "10.00"), line(remedy, "0.01")]
        with pytest.raises(InvalidValue) as error:
            POLICY.check_lines(lines, appraised=False, authenticity_dispute=False)
        assert error.value.field == "remedies.1.amount"

    def test_an_apology_with_no_amount_passes(self) -> None:
        POLICY.check_lines([line(Remedy.APOLOGY)], appraised=False, authenticity_dispute=False)

    @pytest.mark.parametrize("remedy", SUBSTANTIVE)
    def test_substantive_remedies_wait_for_the_appraisal_in_an_authenticity_dispute(self, remedy: Remedy) -> None:
        amount = "0" if remedy is Remedy.REPAIR else "100.00"
        with pytest.raises(AppraisalRequired) as error:
            POLICY.check_lines([line(Remedy.APOLOGY), line(remedy, amount)], appraised=False, authenticity_dispute=True)
        # a 409
        assert isinstance(error.value, InvalidTransition)
        assert remedy.value in str(error.value)

    def test_apology_and_explanation_pass_before_the_appraisal(self) -> None:
        lines = [line(Remedy.APOLOGY), line(Remedy.EXPLANATION), line(Remedy.STAFF_ACTION)]
        POLICY.check_lines(lines, appraised=False, authenticity_dispute=True)

    def test_substantive_remedies_pass_after_the_appraisal(self) -> None:
        POLICY.check_lines([line(Remedy.REFUND, "3000.00")], appraised=True, authenticity_dispute=True)

    def test_substantive_remedies_pass_when_authenticity_is_not_disputed(self) -> None:
        POLICY.check_lines([line(Remedy.REFUND, "3000.00")], appraised=False, authenticity_dispute=False)


# --- suggest ----------------------------------------------------------------------------------------------------


class TestSuggest:
    @pytest.mark.parametrize("root_cause", [RootCause.PRODUCTION, RootCause.MATERIAL, RootCause.DESIGN])
    def test_a_product_defect_suggests_an_exchange_at_the_price_paid(self, root_cause: RootCause) -> None:
        # When
        suggestion = suggest(
            STANDARDS, category=Category.PRODUCT_QUALITY, root_cause=root_cause, price_paid=Decimal("1299.9")
        )
        # Then
        assert suggestion.basis == "product_defect"
        assert amounts(suggestion) == [(Remedy.EXCHANGE, Decimal("1299.90"))]
        assert suggestion.total == Decimal("1299.90")
        assert two_places(suggestion.remedies[0].amount)

    @pytest.mark.parametrize(
        ("category", "root_cause"),
        [
            (Category.SERVICE, RootCause.STAFF_CONDUCT),
            (Category.SERVICE, RootCause.OPERATION),
            (Category.SERVICE, None),
            (Category.PRODUCT_QUALITY, RootCause.OPERATION),
        ],
    )
    def test_a_service_failure_suggests_apology_coupon_and_staff_training(
        self, category: Category, root_cause: RootCause | None
    ) -> None:
        suggestion = suggest(STANDARDS, category=category, root_cause=root_cause, price_paid=Decimal("800.00"))
        assert suggestion.basis == "service_failure"
        assert amounts(suggestion) == [
            (Remedy.APOLOGY, Decimal("0.00")),
            (Remedy.COUPON, STANDARDS.service_failure_coupon),
            (Remedy.STAFF_ACTION, Decimal("0.00")),
        ]
        assert STANDARDS.service_failure_coupon == Decimal("100.00")
        assert suggestion.total == Decimal("100.00")

    def test_false_advertising_suggests_a_full_refund_plus_the_direct_loss(self) -> None:
        suggestion = suggest(
            STANDARDS,
            category=Category.ADVERTISING,
            root_cause=None,
            price_paid=Decimal("2500.00"),
            direct_loss=Decimal("180.50"),
        )
        assert suggestion.basis == "false_advertising"
        assert amounts(suggestion) == [(Remedy.REFUND, Decimal("2500.00")), (Remedy.COMPENSATION, Decimal("180.50"))]
        assert suggestion.remedies[1].note == "direct loss"
        assert suggestion.total == Decimal("2680.50")

    def test_false_advertising_without_a_direct_loss_is_the_refund_only(self) -> None:
        suggestion = suggest(STANDARDS, category=Category.ADVERTISING, root_cause=None, price_paid=Decimal("2500"))
        assert amounts(suggestion) == [(Remedy.REFUND, Decimal("2500.00"))]

    def test_false_advertising_outranks_a_defect_root_cause(self) -> None:
        suggestion = suggest(
            STANDARDS, category=Category.ADVERTISING, root_cause=RootCause.MATERIAL, price_paid=Decimal("300.00")
        )
        assert suggestion.basis == "false_advertising"

    @pytest.mark.parametrize(
        ("price", "compensation"),
        [
            ("100.00", "500.00"),
            ("166.66", "500.00"),
            ("166.67", "500.01"),
            ("1000.00", "3000.00"),
        ],
    )
    def test_established_fraud_refunds_and_compensates_three_times_at_least_500(
        self, price: str, compensation: str
    ) -> None:
        # Given fraud established (whatever the category and root cause)
        suggestion = suggest(
            STANDARDS,
            category=Category.PRODUCT_QUALITY,
            root_cause=RootCause.MATERIAL,
            price_paid=Decimal(price),
            fraud_established=True,
        )
        # Then
        assert suggestion.basis == "fraud_cpl_art_55"
        assert amounts(suggestion) == [(Remedy.REFUND, Decimal(price)), (Remedy.COMPENSATION, Decimal(compensation))]
        assert str(suggestion.remedies[1].amount) == compensation
        assert suggestion.total == Decimal(price) + Decimal(compensation)

    def test_fraud_outranks_false_advertising(self) -> None:
        suggestion = suggest(
            STANDARDS,
            category=Category.ADVERTISING,
            root_cause=None,
            price_paid=Decimal("1000.00"),
            fraud_established=True,
            direct_loss=Decimal("50.00"),
        )
        assert suggestion.basis == "fraud_cpl_art_55"
        assert amounts(suggestion) == [(Remedy.REFUND, Decimal("1000.00")), (Remedy.COMPENSATION, Decimal("3000.00"))]

    def test_with_nothing_else_the_suggestion_is_an_apology_and_explanation(self) -> None:
        suggestion = suggest(
            STANDARDS, category=Category.DELIVERY, root_cause=RootCause.LOGISTICS, price_paid=Decimal("99.00")
        )
        assert suggestion.basis == "explanation"
        assert [r.remedy for r in suggestion.remedies] == [Remedy.APOLOGY, Remedy.EXPLANATION]
        assert suggestion.total == Decimal("0.00")

    @pytest.mark.parametrize(
        ("kwargs", "before"),
        [
            ({"category": Category.PRODUCT_QUALITY, "root_cause": RootCause.PRODUCTION}, Decimal("1000.00")),
            ({"category": Category.SERVICE, "root_cause": RootCause.STAFF_CONDUCT}, Decimal("100.00")),
            ({"category": Category.DELIVERY, "root_cause": RootCause.LOGISTICS}, Decimal("0.00")),
            ({"category": Category.OTHER, "root_cause": None, "fraud_established": True}, Decimal("4000.00")),
        ],
    )
    def test_inconvenience_adds_the_configured_compensation(self, kwargs: dict, before: Decimal) -> None:
        # Given the same case without and with extra inconvenience
        plain = suggest(STANDARDS, price_paid=Decimal("1000.00"), **kwargs)
        extra = suggest(STANDARDS, price_paid=Decimal("1000.00"), inconvenience=True, **kwargs)
        # Then one more compensation line of the configured amount
        assert plain.total == before
        assert extra.remedies[:-1] == plain.remedies
        added = extra.remedies[-1]
        assert (added.remedy, added.amount, added.note) == (
            Remedy.COMPENSATION, STANDARDS.inconvenience_compensation, "inconvenience"
        )  # fmt: skip
        assert STANDARDS.inconvenience_compensation == Decimal("50.00")
        assert extra.total == before + Decimal("50.00")

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"category": Category.PRODUCT_QUALITY, "root_cause": RootCause.DESIGN, "price_paid": Decimal("19.9")},
            {"category": Category.SERVICE, "root_cause": None, "price_paid": None, "inconvenience": True},
            {"category": Category.ADVERTISING, "root_cause": None, "price_paid": Decimal("7"),
             "direct_loss": Decimal("3.5")},
            {"category": Category.OTHER, "root_cause": None, "price_paid": Decimal("166.67"),
             "fraud_established": True, "inconvenience": True},
        ],
    )  # fmt: skip
    def test_money_stays_decimal_with_two_places(self, kwargs: dict) -> None:
        suggestion = suggest(STANDARDS, **kwargs)
        assert all(two_places(r.amount) for r in suggestion.remedies)
        assert two_places(suggestion.total)
        assert not any(isinstance(v, float) for v in (suggestion.total, *(r.amount for r in suggestion.remedies)))
        # the JSON form keeps the cents as text, not a float
        dumped = suggestion.model_dump(mode="json")
        assert isinstance(dumped["total"], str)
        assert all(isinstance(r["amount"], str) for r in dumped["remedies"])

    def test_fraud_without_a_known_price_still_gives_the_minimum(self) -> None:
        suggestion = suggest(
            STANDARDS, category=Category.PRICE, root_cause=None, price_paid=None, fraud_established=True
        )
        assert amounts(suggestion) == [(Remedy.REFUND, Decimal("0.00")), (Remedy.COMPENSATION, Decimal("500.00"))]
