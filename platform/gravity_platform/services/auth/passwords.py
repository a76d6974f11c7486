"""Password hashing (argon2id, RFC 9106 low-memory profile) and the password policy (NIST SP 800-63B)."""

from __future__ import annotations

import asyncio
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from gravity_platform.kernel.errors import UnprocessableError

_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
DUMMY_HASH = _hasher.hash("gravity-dummy-password-for-timing")


@cache
def common_passwords() -> frozenset[str]:
    """Commonly used passwords (lower-cased): zxcvbn's list of the 30,000 most frequent in leaked password
    sets, plus a few of our own (product and service names)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    text = files("gravity_platform.services.auth").joinpath("common-passwords.txt").read_text()
    ours = (line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return frozenset(ours) | frozenset(password.lower() for password in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str = "", min_length: int = 8, max_length: int = 128) -> str | None:
    """Why `password` is refused, or None. Length and known-bad lists only: no composition rules."""
    if len(password) < min_length:
        return f"The password must be at least {min_length} characters"
    if len(password) > max_length:
        return f"The password must be at most {max_length} characters"
    lowered = password.lower()
    if lowered in common_passwords() or len(set(password)) <= 2:
        return "This password is too common; choose another"
    local_part = email.split("@", 1)[0].lower()
    if email and (lowered == email.lower() or (len(local_part) >= 4 and lowered == local_part)):
        return "The password must not be the email address"
    return None


def check_password(password: str, *, email: str = "", min_length: int = 8, max_length: int = 128) -> None:
    """Raise 422 for a password the policy refuses."""
    problem = password_problem(password, email=email, min_length=min_length, max_length=max_length)
    if problem:
        raise UnprocessableError(problem, extra={"errors": [{"field": "password", "message": problem}]})


async def hash_password(password: str) -> str:
    """Hash off the event loop (argon2 is deliberately slow)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work verification; an unknown account is checked against a dummy hash."""

    def verify() -> bool:
        try:
            return _hasher.verify(stored_hash or DUMMY_HASH, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
