"""Phone numbers: validated and normalised to E.164 with `phonenumbers` before anything is stored or sent."""

from __future__ import annotations

import phonenumbers

from gravity_platform.kernel.errors import UnprocessableError

MAX_INPUT_LENGTH = 64


class InvalidPhoneNumberError(UnprocessableError):
    """The number cannot be dialled (422, code `invalid-phone-number`)."""

    status, code, title = 422, "invalid-phone-number", "Invalid phone number"


def normalize_phone(number: str, default_region: str | None = None) -> str:
    """`number` in E.164 (`+14155552671`); 422 `invalid-phone-number` if it is not a valid number.

    Without a `default_region` the number must be international (start with `+`); spaces, dashes and
    brackets are allowed and dropped."""
    if not isinstance(number, str) or not number.strip() or len(number) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumberError("A phone number in international format (E.164, e.g. +14155552671) is needed")
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumberError(f"{number!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumberError(f"{number!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
