"""Explainable complaint classification from ``config/taxonomy.yaml``, Chinese and English. Pure.

How a category is chosen, so that a person can follow it from the stored matched terms:

1. Terms are found in the text. Chinese is segmented with jieba (the taxonomy's Chinese terms are
   loaded into a dedicated tokenizer so they come out as words) and a Chinese term counts only where
   it starts and ends on word boundaries, so ``活动`` does not match inside an unrelated longer word.
   English is matched on the lower-cased text as whole words with common inflections (``refund``
   matches ``refunded``, not ``nonrefundable``); a term ending in ``*`` is a stem (``injur*``). The
   longest term starting at a place wins.
2. Each category scores the weights of its distinct matched terms (``keywords`` weigh 1, ``phrases``
   2; a sub-category's terms count for its category too).
3. DOMAIN.md's precedence rules (``precedence`` in the YAML, in order) come first: the first rule
   whose terms (and, if given, one of its ``with`` terms) are present decides the category, and its
   terms join the category's evidence (weight 2). Otherwise the highest score wins; a tie goes to
   the category listed first.
4. The sub-category is the chosen category's sub-category with the highest score, if any matched.
5. Confidence is the category's share of all matched weight, damped when the evidence is thin:
   ``share * score / (score + 1)``; ``other`` with confidence 0 when nothing matched.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import jieba
from pydantic import BaseModel, Field, PrivateAttr, model_validator

from shared.vocabulary import Category

# jieba reports loading its dictionary on stderr in plain text; the service's logs are JSON lines.
jieba.setLogLevel(logging.WARNING)

KEYWORD_WEIGHT = 1
PHRASE_WEIGHT = 2
_CJK = re.compile(r"[\u3400-\u9fff]")
# English inflections a term matches with ("refund" matches "refunds", "refunded"); a term ending in
# "*" is a stem and matches any word it starts ("injur*" matches "injured", "injuries").
_SUFFIXES = ("", "'s", "s", "es", "ed", "d", "ing", "ly", "y")
_CENT = Decimal("0.01")
# shared.privacy.mask_contact leaves "[address]", "[phone]"...: they say nothing about the complaint.
_PLACEHOLDER = re.compile(r"\[[a-z_]+\]")


class SubCategoryTerms(BaseModel):
    """A free sub-category (DOMAIN.md) of one category, with the words that point to it."""

    code: str
    label_zh: str = ""
    label_en: str = ""
    keywords: list[str] = Field(default_factory=list)
    phrases: list[str] = Field(default_factory=list)


class CategoryTerms(BaseModel):
    """The words and phrases (Chinese and English) that point to one category."""

    code: Category
    label_zh: str
    label_en: str
    keywords: list[str] = Field(min_length=1)
    phrases: list[str] = Field(default_factory=list)
    subcategories: list[SubCategoryTerms] = Field(default_factory=list)


class PrecedenceRule(BaseModel):
    """DOMAIN.md "Category precedence": these terms decide the category whatever else matched."""

    category: Category
    reason: str
    terms: list[str] = Field(min_length=1)
    # When given, one of these must be present too (e.g. a behaviour word *and* a staff word).
    with_: list[str] = Field(default_factory=list, alias="with")


class Taxonomy(BaseModel):
    """``config/taxonomy.yaml``: categories in tie-break order, then the precedence rules."""

    categories: list[CategoryTerms]
    precedence: list[PrecedenceRule] = Field(default_factory=list)
    _matcher: _Matcher | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_codes(self) -> Taxonomy:
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ValueError("a category is listed twice")
        missing = {rule.category for rule in self.precedence} - set(codes)
        if missing:
            raise ValueError(f"precedence names categories not in the taxonomy: {sorted(missing)}")
        return self

    def matcher(self) -> _Matcher:
        """The compiled term matcher, built once per set of terms (jieba's dictionary load takes ~0.5 s)."""
        if self._matcher is None:
            self._matcher = _matcher_for(frozenset(self._all_terms()))
        return self._matcher

    def _all_terms(self) -> set[str]:
        terms: set[str] = set()
        for cat in self.categories:
            terms.update(cat.keywords, cat.phrases)
            for sub in cat.subcategories:
                terms.update(sub.keywords, sub.phrases)
        for rule in self.precedence:
            terms.update(rule.terms, rule.with_)
        return terms


class Classification(BaseModel):
    """A category (and sub-category) with the evidence for it: a person sees why."""

    category: Category
    subcategory: str | None = None
    confidence: Decimal
    matched_terms: list[str]


@dataclass
class _Matcher:
    """Finds which of a fixed set of terms occur in a text."""

    terms: frozenset[str]

    def __post_init__(self) -> None:
        self.chinese = {t for t in self.terms if _CJK.search(t)}
        self.longest = max(map(len, self.chinese), default=0)
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        for term in sorted(self.chinese):
            # jieba's own suggested frequency: the term stays whole where it is the natural reading,
            # without forcing it onto text that reads otherwise ("能不能换成" keeps "不能", "换成").
            self.tokenizer.add_word(term)
        english = sorted((t for t in self.terms if not _CJK.search(t)), key=len, reverse=True)
        self.original = {t.lower().rstrip("*"): t for t in english}
        self.stems = [t.lower().rstrip("*") for t in english if t.endswith("*")]
        inflected = "(?:" + "|".join(re.escape(s) for s in _SUFFIXES if s) + ")?"
        alternatives = "|".join(
            re.escape(t.lower().rstrip("*")) + ("[a-z0-9]*" if t.endswith("*") else inflected + "(?![a-z0-9])")
            for t in english
        )
        # A lookahead finds a term at every word start, the longest first (alternatives are sorted by length).
        self.english = re.compile(rf"(?<![a-z0-9])(?=({alternatives or '(?!)'}))")
        self.inside = _inner_terms(self.terms)

    def find(self, text: str) -> set[str]:
        """The terms present in ``text`` (where terms overlap, the longest); masking placeholders are skipped."""
        text = _PLACEHOLDER.sub(" ", text)
        found = {self._term(m.group(1)) for m in self.english.finditer(text.lower())}
        if _CJK.search(text):
            found.update(self._chinese(text))
        return found

    def _term(self, matched: str) -> str:
        for suffix in _SUFFIXES:
            base = matched[: len(matched) - len(suffix)] if suffix else matched
            if matched.endswith(suffix) and base in self.original:
                return self.original[base]
        return self.original[max((s for s in self.stems if matched.startswith(s)), key=len)]

    def implied(self, found: set[str]) -> set[str]:
        """``found`` with the shorter terms inside each ("态度恶劣" holds "态度", "late delivery" holds "late")."""
        return found.union(*(self.inside[t] for t in found))

    def _chinese(self, text: str) -> set[str]:
        # A term counts where it spans whole tokens: look up every token-aligned span up to the longest term.
        bounds = [0]
        for token in self.tokenizer.cut(text, HMM=False):
            bounds.append(bounds[-1] + len(token))
        found = set()
        for i, start in enumerate(bounds):
            for end in bounds[i + 1 :]:
                if end - start > self.longest:
                    break
                if text[start:end] in self.chinese:
                    found.add(text[start:end])
        return found


@lru_cache(maxsize=8)
def _matcher_for(terms: frozenset[str]) -> _Matcher:
    # Every application instance loads the same taxonomy; they share one tokenizer instead of one each.
    return _Matcher(terms)


def _inner_terms(terms: frozenset[str]) -> dict[str, list[str]]:
    """For each term, the other terms inside it: Chinese as substrings, English as whole words."""
    by_text: dict[str, list[str]] = {}
    for term in terms:
        by_text.setdefault(_words(term) if not _CJK.search(term) else term, []).append(term)
    inside: dict[str, list[str]] = {}
    for term in terms:
        if _CJK.search(term):
            parts = {term[i:j] for i in range(len(term)) for j in range(i + 1, len(term) + 1)}
        else:
            words = _words(term).split()
            parts = {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
        inside[term] = [t for part in parts for t in by_text.get(part, []) if t != term]
    return inside


def _words(term: str) -> str:
    # "won't take it back" -> "won t take it back": the same split for the longer and the shorter term.
    return re.sub(r"[^a-z0-9]+", " ", term.lower()).strip()


def classify(text: str, taxonomy: Taxonomy) -> Classification:
    """Classify a complaint text by the taxonomy: category, sub-category, confidence and matched terms."""
    matcher = taxonomy.matcher()
    found = matcher.find(text)
    # Scores count the terms as matched; the shorter terms they hold still trigger rules and sub-categories.
    implied = matcher.implied(found)
    weighted: dict[Category, dict[str, int]] = {}
    for cat in taxonomy.categories:
        terms = _weighted(found, cat.keywords, cat.phrases)
        for sub in cat.subcategories:
            for term, weight in _weighted(found, sub.keywords, sub.phrases).items():
                terms[term] = max(weight, terms.get(term, 0))
        if terms:
            weighted[cat.code] = terms
    chosen, rule_terms = _by_precedence(implied, taxonomy.precedence)
    if chosen is not None:
        # The rule's terms are the deciding evidence, so they are stored with the category's own.
        weighted[chosen] = {t: PHRASE_WEIGHT for t in rule_terms} | weighted.get(chosen, {})
    if not weighted:
        return Classification(category=Category.OTHER, confidence=Decimal(0), matched_terms=[])
    scores = {code: sum(terms.values()) for code, terms in weighted.items()}
    if chosen is None:
        chosen = max(scores, key=scores.__getitem__)  # max keeps the first of equals: taxonomy order
    score, total = scores[chosen], sum(scores.values())
    confidence = Decimal(score * score) / Decimal(total * (score + 1))
    return Classification(
        category=chosen,
        subcategory=_subcategory(implied, next(c for c in taxonomy.categories if c.code == chosen)),
        confidence=confidence.quantize(_CENT, rounding=ROUND_HALF_UP),
        matched_terms=_in_text_order(text, weighted[chosen]),
    )


def _weighted(found: set[str], keywords: list[str], phrases: list[str]) -> dict[str, int]:
    weights = {t: KEYWORD_WEIGHT for t in keywords if t in found}
    weights.update({t: PHRASE_WEIGHT for t in phrases if t in found})
    return weights


def _in_text_order(text: str, terms: dict[str, int]) -> list[str]:
    lowered = text.lower()
    return sorted(terms, key=lambda t: (lowered.find(t.lower()), t))


def _by_precedence(found: set[str], rules: list[PrecedenceRule]) -> tuple[Category | None, list[str]]:
    for rule in rules:
        hits = [t for t in rule.terms if t in found]
        companions = [t for t in rule.with_ if t in found]
        if hits and (companions or not rule.with_):
            return rule.category, hits + companions
    return None, []


def _subcategory(found: set[str], category: CategoryTerms) -> str | None:
    best: tuple[int, str] | None = None
    for sub in category.subcategories:
        score = sum(_weighted(found, sub.keywords, sub.phrases).values())
        if score and (best is None or score > best[0]):
            best = (score, sub.code)
    return best[1] if best else None
