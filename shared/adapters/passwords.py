"""Password hashing with argon2id (argon2-cffi), OWASP Password Storage Cheat Sheet
parameters: m=19 MiB, t=2, p=1.

argon2 is imported on first use so that /v1/me and token refreshes do not pay for it on a
cold start."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def matches(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False


def needs_rehash(password_hash: str) -> bool:
    return bool(_hasher().check_needs_rehash(password_hash))


@cache
def dummy_hash() -> str:
    """Verified against when the account is unknown, so both failures cost the same time.
    Made on first use: hashing at import would add ~35 ms to every cold start."""
    return hash_password("not-a-real-password-0")
