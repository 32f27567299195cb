"""The annotated text and bound types every request model uses: capped, NFC-normalised, control characters
and bidi overrides refused naming the field; instants, days and pages in a usable range."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.bounds import AnyInstant, Day, Instant
from shared.textinput import Line, Text, line, scrub_line, scrub_text, text


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: line(10, min_length=1)
    note: text(20) | None = None
    anything: Text = ""
    code: Line = ""
    details: dict[line(8), line(12)] = {}


class Moments(BaseModel):
    at: Instant | None = None
    naive_ok: AnyInstant | None = None
    day: Day | None = None


def refusal(**values: object) -> tuple[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as raised:
        Form(**values)
    [error] = raised.value.errors()
    return error["loc"], error["type"]


def test_text_is_nfc_normalised_with_plain_line_breaks() -> None:
    form = Form(name="  Cafe\u0301 ", note="a\r\nb\tc")
    assert (form.name, form.note) == ("Caf\u00e9", "a\nb\tc")


@pytest.mark.parametrize(
    "bad", ["\u0000", "\u0007", "\u001b[31m", "\u007f", "\u0085", "\u202a", "\u202e", "\u2066", "\u2069"]
)
def test_a_control_or_bidi_character_is_refused_naming_the_field(bad: str) -> None:
    assert refusal(name="ab", note=f"x{bad}y") == (("note",), "control_character")
    assert refusal(name=f"a{bad}b") == (("name",), "control_character")


def test_a_single_line_value_refuses_line_breaks_and_tabs() -> None:
    assert refusal(name="a\nb") == (("name",), "control_character")
    assert refusal(name="a\tb") == (("name",), "control_character")


def test_every_field_has_a_cap_even_when_it_declares_none() -> None:
    assert refusal(name="a", anything="x" * 20_001)[0] == ("anything",)
    assert refusal(name="a", code="x" * 301)[0] == ("code",)
    assert refusal(name="x" * 11)[1] == "string_too_long"


def test_keys_and_values_of_a_map_are_checked_too() -> None:
    assert refusal(name="a", details={"k\u0000": "v"})[0] == ("details", "k\u0000", "[key]")
    assert refusal(name="a", details={"k": "v" * 13})[0] == ("details", "k")


@pytest.mark.parametrize("value", [["a"], {"a": 1}, 5, b"bytes"])
def test_a_value_of_another_type_is_refused(value: object) -> None:
    assert refusal(name=value)[0] == ("name",)


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"]
)
def test_an_instant_outside_2000_to_2100_is_refused(moment: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Moments(at=moment)
    assert raised.value.errors()[0]["type"] == "instant_range"


def test_instants_and_days_inside_the_range_pass() -> None:
    moments = Moments(at="2026-11-25T10:00:00+08:00", naive_ok="2026-11-25T10:00:00", day="2099-12-31")
    assert moments.at == datetime.fromisoformat("2026-11-25T10:00:00+08:00")
    assert moments.naive_ok is not None and moments.day == date(2099, 12, 31)
    with pytest.raises(ValidationError):
        Moments(at="2026-11-25T10:00:00")  # an Instant needs its time zone
    with pytest.raises(ValidationError):
        Moments(day="9999-12-31")


def test_scrubbing_drops_what_cleaning_refuses_for_channels_that_cannot_refuse() -> None:
    # An e-mail is filed whatever its sender's client wrote: the characters are dropped instead
    assert scrub_text("Cafe\u0301\r\n\u202e断了\u0000\t!") == "Caf\u00e9\n断了\t!"
    assert scrub_line("Re: 投诉\n第二行\u0007" + "x" * 400) == "Re: 投诉 第二行" + "x" * 290
