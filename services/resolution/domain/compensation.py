"""Remedies, their value, who may grant them (``config/authority.yaml``) and what the standards suggest
(``config/compensation.yaml``). Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.errors import InvalidTransition, InvalidValue
from shared.textinput import text
from shared.vocabulary import Category, Remedy, Role, Severity

CENT = Decimal("0.01")


class RootCause(StrEnum):
    """Root-cause taxonomy of an investigation (DOMAIN.md step 4)."""

    DESIGN = "design"
    PRODUCTION = "production"
    MATERIAL = "material"
    OPERATION = "operation"
    STAFF_CONDUCT = "staff_conduct"
    LOGISTICS = "logistics"
    CUSTOMER_MISUSE = "customer_misuse"


class RemedyLine(BaseModel):
    """One remedy of a proposal, with its value in CNY (Decimal, two places) and a note."""

    model_config = ConfigDict(frozen=True)

    remedy: Remedy
    amount: Decimal = Field(default=Decimal("0.00"), ge=0, max_digits=12, decimal_places=2)
    note: text(500) | None = None

    @field_validator("amount")
    @classmethod
    def _two_places(cls, value: Decimal) -> Decimal:
        return value.quantize(CENT, ROUND_HALF_UP)


class AuthorityTier(BaseModel):
    tier: str
    roles: list[Role]
    limit: Decimal | None = None  # None: no limit
    remedies: list[Remedy] | None = None  # None: every remedy


class AuthorityPolicy(BaseModel):
    """``config/authority.yaml``: tiers lowest first."""

    tiers: list[AuthorityTier] = Field(min_length=1)
    internal_remedies: list[Remedy] = []
    critical_tier: str
    without_value: list[Remedy] = []
    goods_valued: list[Remedy] = []
    before_appraisal: list[Remedy] = []

    @model_validator(mode="after")
    def _tiers_make_sense(self) -> AuthorityPolicy:
        names = [t.tier for t in self.tiers]
        if self.critical_tier not in names:
            raise ValueError(f"critical_tier {self.critical_tier!r} is not one of {names}")
        if self.tiers[-1].limit is not None or self.tiers[-1].remedies is not None:
            raise ValueError("the top tier must grant every remedy without limit")
        return self

    def rank(self, tier: str) -> int:
        return [t.tier for t in self.tiers].index(tier)

    def tier_of(self, role: Role) -> str | None:
        """The tier a role works at, or None for roles that grant nothing (auditors, appraisers, ...)."""
        return next((t.tier for t in self.tiers if role in t.roles), None)

    def tier_value(self, lines: list[RemedyLine], goods_value: Decimal | None) -> Decimal:
        """What the proposal is worth for the tiers: each granted remedy at its amount, a goods-valued one without an
        amount (an exchange, a repair, a service redone) at ``goods_value`` — the goods are what the customer gets."""
        value = Decimal("0.00")
        for line in lines:
            if line.remedy in self.internal_remedies:
                continue
            counts_goods = line.remedy in self.goods_valued and line.amount == 0 and goods_value is not None
            value += goods_value if counts_goods and goods_value is not None else line.amount
        return value

    def required_tier(self, lines: list[RemedyLine], severity: Severity, goods_value: Decimal | None = None) -> str:
        """The lowest tier that may grant these remedies for their value (``tier_value``); any critical case needs the
        critical tier."""
        granted = [line for line in lines if line.remedy not in self.internal_remedies]
        total = self.tier_value(lines, goods_value)
        for tier in self.tiers:
            fits_total = tier.limit is None or total <= tier.limit
            fits_kinds = tier.remedies is None or all(line.remedy in tier.remedies for line in granted)
            if fits_total and fits_kinds:
                if severity is Severity.CRITICAL and self.rank(tier.tier) < self.rank(self.critical_tier):
                    return self.critical_tier
                return tier.tier
        return self.tiers[-1].tier  # unreachable: the top tier grants everything

    def check_lines(
        self, lines: list[RemedyLine], appraised: bool, authenticity_dispute: bool, goods_value: Decimal | None = None
    ) -> None:
        """Refuse a proposal that is empty, values what has no value, values goods below ``goods_value`` without a
        note saying why, or gives substance before an appraisal."""
        if not lines:
            raise InvalidValue("remedies", "a proposal needs at least one remedy", allowed=[r.value for r in Remedy])
        for index, line in enumerate(lines):
            if line.remedy in self.without_value and line.amount != 0:
                raise InvalidValue(f"remedies.{index}.amount", f"{line.remedy.value} has no money value")
            below = goods_value is not None and 0 < line.amount < goods_value
            if line.remedy in self.goods_valued and below and not (line.note and line.note.strip()):
                raise InvalidValue(
                    f"remedies.{index}.note",
                    f"{line.remedy.value} counts at the goods' value ({goods_value}); say why it is worth less",
                )
        if authenticity_dispute and not appraised:
            early = [line.remedy.value for line in lines if line.remedy not in self.before_appraisal]
            if early:
                raise AppraisalRequired(early, [r.value for r in self.before_appraisal])


class AppraisalRequired(InvalidTransition):
    """An authenticity dispute (真伪) gets no substantive remedy before the appraisal report (HTTP 409)."""

    def __init__(self, remedies: list[str], allowed: list[str]) -> None:
        super().__init__(
            f"authenticity dispute: {', '.join(remedies)} need the appraisal report first; "
            f"before it only {', '.join(allowed)}"
        )


def total_of(lines: list[RemedyLine]) -> Decimal:
    """The proposal's value: every remedy at face value."""
    return sum((line.amount for line in lines), Decimal("0.00"))


class CompensationStandards(BaseModel):
    """``config/compensation.yaml``."""

    defect_root_causes: list[RootCause]
    service_root_causes: list[RootCause]
    service_failure_coupon: Decimal
    inconvenience_compensation: Decimal
    fraud_multiple: int = Field(gt=0)
    fraud_minimum: Decimal


class Suggestion(BaseModel):
    """What the standards suggest, and on what basis; a person decides."""

    basis: str
    remedies: list[RemedyLine]
    total: Decimal


def suggest(
    standards: CompensationStandards,
    *,
    category: Category,
    root_cause: RootCause | None,
    price_paid: Decimal | None,
    fraud_established: bool = False,
    direct_loss: Decimal = Decimal("0.00"),
    inconvenience: bool = False,
) -> Suggestion:
    """The compensation the chain's standards suggest for a case (CPL art. 55 for established fraud)."""
    price = (price_paid or Decimal("0.00")).quantize(CENT, ROUND_HALF_UP)
    direct_loss = direct_loss.quantize(CENT, ROUND_HALF_UP)
    lines: list[RemedyLine]
    if fraud_established:
        compensation = max(price * standards.fraud_multiple, standards.fraud_minimum)
        basis = "fraud_cpl_art_55"
        lines = [
            RemedyLine(remedy=Remedy.REFUND, amount=price),
            RemedyLine(remedy=Remedy.COMPENSATION, amount=compensation),
        ]
    elif category is Category.ADVERTISING:
        basis = "false_advertising"
        lines = [RemedyLine(remedy=Remedy.REFUND, amount=price)]
        if direct_loss > 0:
            lines.append(RemedyLine(remedy=Remedy.COMPENSATION, amount=direct_loss, note="direct loss"))
    elif root_cause in standards.defect_root_causes:
        basis = "product_defect"
        lines = [RemedyLine(remedy=Remedy.EXCHANGE, amount=price, note="or return or repair, at the store's cost")]
    elif root_cause in standards.service_root_causes or category is Category.SERVICE:
        basis = "service_failure"
        lines = [
            RemedyLine(remedy=Remedy.APOLOGY),
            RemedyLine(remedy=Remedy.COUPON, amount=standards.service_failure_coupon),
            RemedyLine(remedy=Remedy.STAFF_ACTION, note="training"),
        ]
    else:
        basis = "explanation"
        lines = [RemedyLine(remedy=Remedy.APOLOGY), RemedyLine(remedy=Remedy.EXPLANATION)]
    if inconvenience:
        lines.append(
            RemedyLine(remedy=Remedy.COMPENSATION, amount=standards.inconvenience_compensation, note="inconvenience")
        )
    return Suggestion(basis=basis, remedies=lines, total=total_of(lines))
