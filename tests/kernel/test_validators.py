"""Property tests of the account validators: the password policy (length and known-bad lists only, no
composition rules) and the email pattern of the auth API."""

from __future__ import annotations

import msgspec
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from gravity_platform.services.auth.passwords import common_passwords, password_problem
from gravity_platform.services.auth.schemas import Email, RegisterRequest

FAST = settings(max_examples=120, deadline=None, database=None)

printable = st.characters(codec="utf-8")  # every code point UTF-8 can carry (no lone surrogates)


def acceptable(password: str, email: str = "") -> bool:
    """What the policy promises to accept: 8-128 characters, not commonly used, not the email (nor its local
    part), and not a run of one or two repeated characters (NIST SP 800-63B: repetitive strings count as
    commonly used)."""
    local_part = email.split("@", 1)[0].lower()
    return (8 <= len(password) <= 128 and password.lower() not in common_passwords()
            and len(set(password)) > 2 and password.lower() not in (email.lower(), local_part))


# --- password policy -------------------------------------------------------------------------------------------


@FAST
@given(password=st.text(printable, min_size=8, max_size=128), email=st.emails())
@example(password="alllowercaseletters", email="ada@example.com")
@example(password="12345678901234567890", email="ada@example.com")
@example(password="съешь же ещё этих мягких булок", email="ada@example.com")
@example(password="        spaces   ", email="ada@example.com")
@example(password="😀😀😀🙂🙂🙃🙃🙃", email="ada@example.com")
def test_long_enough_uncommon_passwords_are_accepted(password: str, email: str) -> None:
    assume(acceptable(password, email))
    assert password_problem(password, email=email) is None


@FAST
@given(password=st.text(printable, max_size=7))
def test_short_passwords_are_refused(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None
    assert "at least 8" in problem


@FAST
@given(password=st.text(printable, min_size=129, max_size=300))
def test_overlong_passwords_are_refused(password: str) -> None:
    assert password_problem(password) is not None


ALPHABETS = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", " .-_!")


@FAST
@given(password=st.sampled_from(ALPHABETS).flatmap(lambda letters: st.text(letters, min_size=8, max_size=128)))
def test_no_composition_rules(password: str) -> None:
    assume(acceptable(password))
    assert password_problem(password) is None, "one kind of character is enough"


@FAST
@given(password=st.sampled_from(sorted(common_passwords())), upper=st.booleans())
def test_common_passwords_are_refused(password: str, upper: bool) -> None:
    candidate = password.upper() if upper else password
    assume(len(candidate) >= 8)
    assert password_problem(candidate) is not None


@FAST
@given(email=st.emails())
def test_the_email_itself_is_refused(email: str) -> None:
    assume(8 <= len(email) <= 128)
    assert password_problem(email, email=email) is not None
    assert password_problem(email.upper(), email=email) is not None
    local_part = email.split("@")[0]
    if len(local_part) >= 8:
        assert password_problem(local_part, email=email) is not None


def test_the_email_is_refused_whatever_its_local_part() -> None:
    assert password_problem("ab@example.com", email="ab@example.com") is not None


def test_repetitive_passwords_are_refused() -> None:
    assert password_problem("aaaaaaaaaaaa") is not None
    assert password_problem("abababababab") is not None
    assert password_problem("abcabcabcabc") is None


def test_policy_limits_are_configurable() -> None:
    assert password_problem("x1y2z3w4", min_length=10) is not None
    assert password_problem("x1y2z3w4" * 10, max_length=64) is not None
    assert password_problem("x1y2z3w4" * 10, max_length=128) is None


# --- email pattern ---------------------------------------------------------------------------------------------

no_at_or_space = st.characters(codec="utf-8", exclude_categories=("Z", "C"), exclude_characters="@")
part = st.text(no_at_or_space, min_size=1, max_size=30)


def email_ok(value: str) -> bool:
    try:
        msgspec.convert(value, Email)
    except msgspec.ValidationError:
        return False
    return True


@FAST
@given(email=st.emails())
def test_ordinary_addresses_are_accepted(email: str) -> None:
    assume(len(email) <= 320)
    assert email_ok(email)


@FAST
@given(local=part, domain=part, tld=part)
def test_local_at_domain_dot_tld_is_accepted(local: str, domain: str, tld: str) -> None:
    assert email_ok(f"{local}@{domain}.{tld}")


@FAST
@given(text=st.text(no_at_or_space, max_size=60))
def test_without_at_is_refused(text: str) -> None:
    assert not email_ok(text)
    assert not email_ok(f"{text}.com")


@FAST
@given(local=part, domain=part, tld=part, extra=part)
def test_two_at_signs_are_refused(local: str, domain: str, tld: str, extra: str) -> None:
    assert not email_ok(f"{local}@{extra}@{domain}.{tld}")


@FAST
@given(local=part, domain=part, tld=part, space=st.sampled_from([" ", "\t", "\n", "\u00a0", "\u2003"]),
       where=st.integers(0, 2), after=st.booleans())
def test_whitespace_is_refused(local: str, domain: str, tld: str, space: str, where: int, after: bool) -> None:
    parts = [local, domain, tld]
    parts[where] = parts[where] + space if after and where < 2 else space + parts[where]
    assert not email_ok(f"{parts[0]}@{parts[1]}.{parts[2]}")
    assert not email_ok(f"{local}@{domain}.{tld}{space}x")


def test_a_trailing_newline_is_refused() -> None:
    assert not email_ok("ada@example.com\n")


@FAST
@given(local=part, domain=st.text(st.characters(codec="utf-8", exclude_categories=("Z", "C"),
                                                exclude_characters="@."), min_size=1, max_size=30))
def test_a_domain_needs_a_dot(local: str, domain: str) -> None:
    assert not email_ok(f"{local}@{domain}")


def test_length_limits() -> None:
    assert email_ok("a@b." + "c" * 316)
    assert not email_ok("a@b." + "c" * 317), "longer than 320 characters"
    assert not email_ok("")
    assert not email_ok("@b.c")
    assert not email_ok("a@.")


@FAST
@given(email=st.emails(), password=st.text(printable, max_size=40))
def test_registration_body_decodes(email: str, password: str) -> None:
    assume(len(email) <= 320)
    body = msgspec.json.encode({"email": email, "password": password, "unknown": 1})
    request = msgspec.json.decode(body, type=RegisterRequest)
    assert request.email == email
    assert request.display_name is None


def test_frequently_leaked_passwords_are_refused() -> None:
    for password in ("corvette", "qwer1234", "midnight", "asdfasdf", "Liverpool1"):
        assert password_problem(password) is not None, password
    assert len(common_passwords()) > 25_000
