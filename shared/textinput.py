"""Text from outside: the annotated string types every request model uses for its string fields.

A string that reaches a command is capped, NFC-normalised (so "é" typed two ways is one value for
search, comparison and the blind index) and free of characters that only ever serve to hide or
reorder what a reader sees: NUL and the other C0/C1 controls (tab and newline excepted in free
text), and the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069, "Trojan
Source"). Such input is refused with 422 naming the field rather than silently cleaned, so what is
stored is exactly what the sender sees in the reply.

``text(...)`` is for free text (multi-line), ``line(...)`` for a single-line value (names, ids,
references); the cap and minimum length go into the type, so one annotation says everything and a
field can never be left unbounded (``Text`` and ``Line`` are the default caps)::

    reason: text(2_000, min_length=1)
    note: text(2_000) | None = None
    store_id: line(32, min_length=1)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

# Every class is a single code point, so one pass of ``search`` is linear in the text.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")  # tab (09) and newline (0a) are text
_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")

TEXT_MAX = 20_000  # the longest free text any form takes (a complaint's description)
LINE_MAX = 300  # the longest single-line value (an address, a URL)


def _refuse(pattern: re.Pattern[str], value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    found = pattern.search(value)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "contains a control or bidirectional-override character (U+{code}) at position {position}",
            {"code": f"{ord(found.group()):04X}", "position": found.start()},
        )
    return value


def clean_text(value: str) -> str:
    """``value`` NFC-normalised with line breaks as ``\\n``; refused if it holds a control or bidi character."""
    return _refuse(_IN_TEXT, value.replace("\r\n", "\n"))


def clean_line(value: str) -> str:
    """``value`` NFC-normalised; refused if it holds any control character (a line break included)."""
    return _refuse(_IN_LINE, value)


def scrub_text(value: str) -> str:
    """``value`` as ``clean_text`` would accept it, the refused characters dropped instead (for a channel where
    refusing is no option: an e-mail is filed whatever its sender's client put in it)."""
    return _IN_TEXT.sub("", unicodedata.normalize("NFC", value.replace("\r\n", "\n")))


def scrub_line(value: str, max_length: int = LINE_MAX) -> str:
    """``value`` as ``clean_line`` would accept it (line breaks as spaces, other refused characters dropped), cut
    to ``max_length``."""
    return _IN_LINE.sub("", unicodedata.normalize("NFC", " ".join(value.splitlines())))[:max_length]


def _no_bytes(value: object) -> object:
    # JSON never gives bytes, but Python callers (the CSV importer, the mail listener) may, and pydantic's lax
    # mode would decode them as UTF-8 without a word: a caller's bug should fail as loudly as a client's.
    if isinstance(value, bytes | bytearray):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return value


def text(max_length: int = TEXT_MAX, *, min_length: int = 0, strip: bool = False) -> Any:
    """Free text of at most ``max_length`` characters (tab and newline allowed), cleaned by ``clean_text``."""
    return _typed(clean_text, max_length, min_length, strip)


def line(max_length: int = LINE_MAX, *, min_length: int = 0, strip: bool = False) -> Any:
    """A single-line value of at most ``max_length`` characters, cleaned by ``clean_line``."""
    return _typed(clean_line, max_length, min_length, strip)


def _typed(clean: Callable[[str], str], max_length: int, min_length: int, strip: bool) -> Any:
    # The constraints sit on the inner ``str`` so their messages stay pydantic's own ("at most 100
    # characters"); the cap runs before the scan and so bounds the work done on hostile input.
    constraints = StringConstraints(min_length=min_length, max_length=max_length, strip_whitespace=strip or None)
    return Annotated[str, constraints, BeforeValidator(_no_bytes), AfterValidator(clean)]


Text = text()
Line = line()
