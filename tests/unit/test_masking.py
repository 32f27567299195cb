"""Masking and log redaction run in time linear in the text: a megabyte of pathological input takes a fraction of
a second (the unanchored e-mail pattern this replaced took minutes), and what they mask is unchanged."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable

import pytest
import structlog

from shared.logs import configure_logging, redact_text
from shared.masking import mask_contact

# Each is about 1 MB and defeated a pattern that restarts its scan at every character of a long run.
PATHOLOGICAL = {
    "letters": "a" * 1_000_000,
    "dotted": "a." * 500_000,
    "spaced digits": "1 " * 500_000,
    "digits then a letter": "1" * 999_999 + "x",
    "plus digits": "+1" * 500_000,
    "at signs": "a@" * 500_000,
    "one at, no dot": "a" * 500_000 + "@" + "b" * 499_999,
    "dashed digits": "1-" * 500_000,
    "underscores": "x_" * 500_000,
    "keys without values": "name " * 200_000,
}
BOUND_SECONDS = 0.6  # measured 0.02-0.2 s on a shared 2-core machine; quadratic would be hours


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_masking_a_megabyte_of_pathological_text_takes_well_under_a_second(text: str) -> None:
    started = time.perf_counter()
    mask_contact(text, {"name": "王芳", "phone": "13800138000"})
    assert time.perf_counter() - started < BOUND_SECONDS


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_redacting_a_megabyte_of_pathological_log_text_takes_well_under_a_second(text: str) -> None:
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < BOUND_SECONDS


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请联系 wang.fang+x@mail.example.com 谢谢", "请联系 [email] 谢谢"),
        ("请拨13812345678或 138-1234-5678", "请拨[phone]或 [phone]"),
        ("身份证11010519491231002X", "身份证[id]"),
        ("订单 2026-11-25 金额 3980.50", "订单 2026-11-25 金额 3980.50"),
        ("王芳说：我叫王芳", "[name]说：我叫[name]"),
    ],
)
def test_what_is_masked_is_unchanged(text: str, masked: str) -> None:
    assert mask_contact(text, {"name": "王芳"}) == masked


def _from_structlog() -> None:
    try:
        raise ValueError("bad customer {'name': '王芳', 'phone': '13800138000'} wang@example.com")
    except ValueError:
        structlog.get_logger().exception("filing.failed")


def _from_the_standard_library() -> None:
    try:
        raise KeyError("customer phone=13800138000 name=王芳")
    except KeyError:
        logging.getLogger("uvicorn.error").exception("handler crashed for wang@example.com")


@pytest.mark.parametrize("log_exception", [_from_structlog, _from_the_standard_library])
def test_a_logged_exception_has_its_personal_data_redacted(log_exception: Callable[[], None]) -> None:
    # Given logs written as JSON lines
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    # When an exception whose message holds a customer's name, phone and e-mail is logged with its traceback
    log_exception()
    # Then the rendered traceback is in the line, without the personal data
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert "Traceback" in line["exception"]
    for personal in ("王芳", "13800138000", "wang@example.com"):
        assert personal not in out.getvalue()


def test_pydantic_echoes_of_the_input_are_redacted() -> None:
    text = "1 validation error\nname\n  String too long [type=x, input_value='王芳的全名', input_type=str]"
    assert "王芳" not in redact_text(text) and "input_type=str" in redact_text(text)
