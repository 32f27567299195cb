"""Classification on the shipped taxonomy: Given a complaint text / When classified / Then category and evidence."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
import yaml

from services.routing.classification import Classification, Taxonomy, classify
from shared.configfiles import load_config
from shared.settings import REPO_ROOT
from shared.vocabulary import Category

TAXONOMY = load_config(REPO_ROOT / "config" / "taxonomy.yaml", Taxonomy)
LABELLED = REPO_ROOT / "tests" / "data" / "labelled_complaints.yaml"


class TestPrecedence:
    """DOMAIN.md "Category precedence": the rule decides even when another category has more words."""

    @pytest.mark.parametrize(
        "text",
        [
            "热水器质量太差，漏电把我电到了，手被烫伤，去医院包扎",
            "The hair dryer is faulty and defective: it sparked and burned my hand",
        ],
    )
    def test_someone_harmed_is_safety_over_product_quality(self, text: str) -> None:
        # Given a defective product that hurt someone; When classified
        result = classify(text, TAXONOMY)
        # Then safety, with the harm among the evidence
        assert result.category == Category.SAFETY
        assert result.subcategory == "injury"

    @pytest.mark.parametrize(
        "text",
        [
            "鞋子质量差，开胶了，店里却拒绝退货",
            "The toaster was broken and faulty out of the box and the shop refused to exchange it",
        ],
    )
    def test_refused_return_is_after_sales_over_product_quality(self, text: str) -> None:
        result = classify(text, TAXONOMY)
        assert result.category == Category.AFTER_SALES
        assert result.subcategory == "return_exchange"

    @pytest.mark.parametrize(
        "text",
        [
            "用优惠券结账后发现被多收了50元",
            "I used my coupon and loyalty points but was charged twice at the till",
        ],
    )
    def test_billing_error_is_price_over_promotion(self, text: str) -> None:
        result = classify(text, TAXONOMY)
        assert result.category == Category.PRICE
        assert result.subcategory == "billing_error"

    @pytest.mark.parametrize(
        "text",
        [
            "退货审核很慢，客服态度恶劣，还挂我电话",
            "My repair took weeks and the staff at the service centre were rude to me",
        ],
    )
    def test_staff_behaviour_is_service_over_after_sales(self, text: str) -> None:
        result = classify(text, TAXONOMY)
        assert result.category == Category.SERVICE
        assert result.subcategory == "attitude"

    def test_rude_courier_is_delivery_not_service(self) -> None:
        # Given bad behaviour by a courier, not by the store's staff: courier conduct is delivery
        assert classify("The courier was rude and threw the parcel at my door", TAXONOMY).category == Category.DELIVERY

    @pytest.mark.parametrize(
        ("text", "subcategory"),
        [
            ("快递在运输途中摔坏了，手机屏幕碎了", "damaged_in_transit"),
            ("The vase was damaged in transit, the box was crushed", "damaged_in_transit"),
        ],
    )
    def test_damaged_in_transit_is_delivery_over_product_quality(self, text: str, subcategory: str) -> None:
        result = classify(text, TAXONOMY)
        assert (result.category, result.subcategory) == (Category.DELIVERY, subcategory)

    def test_prepaid_balance_refused_is_contract_not_after_sales(self) -> None:
        assert classify("美容院关门了，储值卡余额不给退", TAXONOMY).category == Category.CONTRACT


class TestLanguagesAndEvidence:
    @pytest.mark.parametrize(
        ("text", "category"),
        [
            ("会员积分没有通知就清零了", Category.PROMOTION),
            ("My loyalty points vanished without notice", Category.PROMOTION),
            ("广告说三天美白，完全是虚假宣传", Category.ADVERTISING),
            ("The advert claimed it was waterproof; that is false advertising", Category.ADVERTISING),
            ("商场洗手间太脏了", Category.ENVIRONMENT),
            ("The restroom was filthy", Category.ENVIRONMENT),
            ("你们泄露了我的个人信息", Category.PRIVACY),
            ("You leaked my personal data", Category.PRIVACY),
        ],
    )
    def test_chinese_and_english(self, text: str, category: Category) -> None:
        assert classify(text, TAXONOMY).category == category

    def test_chinese_terms_are_segmented_as_words(self) -> None:
        # Given a taxonomy term jieba would not know on its own; When classified; Then it is found whole
        result = classify("导购爱答不理的", TAXONOMY)
        assert "爱答不理" in result.matched_terms

    def test_chinese_term_inside_an_unrelated_word_does_not_match(self) -> None:
        # "偷" (theft) must not match inside "偷偷" ("secretly") once jieba has segmented it
        assert "偷" not in classify("他偷偷把价格改了，多收了我钱", TAXONOMY).matched_terms

    def test_english_matches_at_word_starts_only(self) -> None:
        # "injur" matches "injured"; "ad" must not match inside "already"
        assert classify("My son was injured", TAXONOMY).matched_terms == ["injur*"]
        assert "ad" not in TAXONOMY.matcher().find("It was already broken")

    def test_masked_contact_details_are_not_evidence(self) -> None:
        # Given a description whose contact details intake masked; Then "[address]" is not a privacy term
        result = classify("请打电话 [phone] 找[name]，或写信到 [address]（[email]）。手镯戴了一周就断了", TAXONOMY)
        assert (result.category, result.matched_terms) == (Category.PRODUCT_QUALITY, ["断了"])

    def test_matched_terms_and_a_two_place_confidence_are_stored(self) -> None:
        result = classify("quality is bad, the bangle is broken", TAXONOMY)
        assert result.category == Category.PRODUCT_QUALITY
        assert set(result.matched_terms) >= {"quality", "broken"}
        assert Decimal(0) < result.confidence <= Decimal(1)
        assert result.confidence == result.confidence.quantize(Decimal("0.01"))

    def test_more_evidence_gives_more_confidence(self) -> None:
        thin = classify("the bangle is broken", TAXONOMY).confidence
        thick = classify("poor quality: the bangle is broken and the workmanship is faulty", TAXONOMY).confidence
        assert thin < thick

    @pytest.mark.parametrize("text", ["zzz qqq", "请问你们几点开门？", ""])
    def test_nothing_matched_is_other_with_zero_confidence(self, text: str) -> None:
        assert classify(text, TAXONOMY) == Classification(
            category=Category.OTHER, subcategory=None, confidence=Decimal(0), matched_terms=[]
        )

    def test_every_domain_category_is_in_the_taxonomy(self) -> None:
        assert {c.code for c in TAXONOMY.categories} == set(Category)


def test_labelled_set_accuracy() -> None:
    """A regression in the taxonomy or the classifier fails the build: ≥ 90% overall, every category ≥ 75%."""
    with open(LABELLED, encoding="utf-8") as f:
        items = yaml.safe_load(f)["complaints"]
    assert len(items) >= 150
    total, right = Counter[str](), Counter[str]()
    for item in items:
        total[item["category"]] += 1
        right[item["category"]] += classify(item["text"], TAXONOMY).category.value == item["category"]
    assert sum(right.values()) / sum(total.values()) >= 0.90
    per_category = {code: right[code] / total[code] for code in total}
    assert set(per_category) == {c.value for c in Category}
    assert min(per_category.values()) >= 0.75, per_category
