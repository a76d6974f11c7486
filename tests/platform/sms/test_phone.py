"""The phone number validator: every valid number in any common spelling normalises to the same E.164 form,
anything else is a 422 `invalid-phone-number`, and nothing else ever escapes."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gravity_platform.services.sms.phone import InvalidPhoneNumberError, normalize_phone

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
REGIONS = sorted(region for region in phonenumbers.SUPPORTED_REGIONS
                 if phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE) is not None)
FORMATS = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
           phonenumbers.PhoneNumberFormat.RFC3966]


@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(a valid mobile number spelled some way, its E.164 form)."""
    region = draw(st.sampled_from(REGIONS))
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    spelled = phonenumbers.format_number(number, draw(st.sampled_from(FORMATS))).removeprefix("tel:")
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    if separator:
        spelled = spelled.replace(" ", separator).replace("-", separator)
    padding = draw(st.sampled_from(["", " ", "  "]))
    return f"{padding}{spelled}{padding}", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@given(valid_numbers())
def test_valid_numbers_normalise_to_e164(case: tuple[str, str]) -> None:
    spelled, expected = case
    normalised = normalize_phone(spelled)
    assert normalised == expected
    assert E164.match(normalised)
    assert normalize_phone(normalised) == normalised


@given(st.text(max_size=80))
def test_anything_else_is_refused_cleanly(text: str) -> None:
    try:
        normalised = normalize_phone(text)
    except InvalidPhoneNumberError:
        return
    assert E164.match(normalised)
    assert phonenumbers.is_valid_number(phonenumbers.parse(normalised))


@pytest.mark.parametrize("number", ["", "   ", "+", "12345", "+1 555 000", "+999 1234567", "4155552671",
                                    "+1" + "4" * 70, "+44 20 7946 0958 ext"])
def test_invalid_examples(number: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as raised:
        normalize_phone(number)
    assert (raised.value.status, raised.value.code) == (422, "invalid-phone-number")


def test_national_numbers_need_a_default_region() -> None:
    assert normalize_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    with pytest.raises(InvalidPhoneNumberError):
        normalize_phone("(415) 555-2671")
