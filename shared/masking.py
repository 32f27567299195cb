"""Masking contact details in free text, in time linear in the text.

Every pattern here starts only where a token starts (a lookbehind refuses the middle of a run) and
has no two ways to match the same characters, so the regular-expression engine tries each start
once and backtracks at most the length of one run: a megabyte of ``aaaa…``, ``a.a.a.…`` or
``1 1 1 …`` is scanned in a fraction of a second instead of minutes. The unanchored e-mail pattern
this replaced restarted its scan of a long run at every character of it (quadratic).

The tests in ``tests/unit/test_masking.py`` feed such input and bound the time; keep them passing
when touching a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Local part from the start of its run (the lookbehind), then labels separated by single dots.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A resident identity card number: 17 digits and a check digit or X.
ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
# Seven or more digits, optionally split by spaces, dashes or brackets, not inside a longer token,
# a decimal number or a date like 2026-11-25 (CJK letters around it are fine: 请拨13812345678).
PHONE = re.compile(
    r"(?<![0-9A-Za-z_])(?<!\d[-/.])(?!\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d))"
    r"\+?\(?\d(?:[ ()-]{0,2}\d){6,}(?![0-9A-Za-z_])(?!\.\d)"
)
# Shorter known values (a one-letter name) would blank ordinary words.
_MIN_KNOWN = 2
_NOT_DIGIT = re.compile(r"\D")


def mask_contact(text: str, known: dict[str, str | None] | None = None) -> str:
    """``text`` with contact details replaced by ``[field]``: the customer's own ``known`` values
    (e.g. ``{"name": "王芳", "phone": ...}``) wherever they occur literally, then any e-mail address,
    identity card number or phone number.

    Best effort: a name or address written differently from the one given is not recognised.
    """
    return mask_patterns(mask_known(text, known or {}))


def mask_known(text: str, known: dict[str, str | None]) -> str:
    """``text`` with each of the customer's ``known`` values replaced by ``[field]`` (longest first, any case)."""
    for field, value in sorted(_known_values(known), key=lambda item: -len(item[1])):
        text = _replace_ignoring_case(text, value, f"[{field}]")
    return text


def mask_patterns(text: str, email: str = "[email]", id_card: str = "[id]", phone: str = "[phone]") -> str:
    """``text`` with every e-mail address, identity card number and phone number replaced."""
    return PHONE.sub(phone, ID_CARD.sub(id_card, EMAIL.sub(email, text)))


def phone_digits(phone: str) -> str:
    """The digits of a phone number without China's country code (``+86 138-0013-8000`` → ``13800138000``)."""
    digits = _NOT_DIGIT.sub("", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _replace_ignoring_case(text: str, value: str, replacement: str) -> str:
    # A literal search (linear): compiling a pattern per customer value cost more than the rest of filing.
    lowered, needle = text.lower(), value.lower()
    if len(lowered) != len(text):  # lowercasing changed lengths (rare scripts): let the regex engine do it
        return re.sub(re.escape(value), replacement, text, flags=re.IGNORECASE)
    parts, start = [], 0
    while (found := lowered.find(needle, start)) != -1:
        parts += [text[start:found], replacement]
        start = found + len(needle)
    return "".join(parts) + text[start:] if parts else text


def _known_values(known: dict[str, str | None]) -> Iterable[tuple[str, str]]:
    for field, value in known.items():
        value = (value or "").strip()
        variants = {value}
        if field == "phone":
            # The same number written without its separators or its country code.
            digits = _NOT_DIGIT.sub("", value)
            variants |= {digits, phone_digits(value)}
        for variant in variants:
            if len(variant) >= _MIN_KNOWN:
                yield field, variant
