"""Identity rules, pure (no I/O): passwords (OWASP ASVS 5.0 V6: length 10..128, byte cap
before hashing, no common ones), refresh-token rotation, access-token revocation."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

MIN_LENGTH = 10
MAX_LENGTH = 128
MAX_BYTES = 1024  # refused before hashing: argon2 on megabytes is a denial of service

# Frequent passwords of 10+ characters from public breach corpora (the short ones fail length).
COMMON = frozenset(
    """
1234567890 0123456789 12345678910 1234567891 1111111111 0000000000 123456789a 123456789q
qwertyuiop qwertyuiop1 1q2w3e4r5t 1qaz2wsx3edc password12 password123 password1234
passw0rd123 iloveyou12 abcdefghij abc1234567 qwerty1234 qwerty12345 asdfghjkl1 zxcvbnm123
1234qwerty a1b2c3d4e5 princess12 football12 baseball12 sunshine12 superman12 letmein123
welcome123 trustno1234 michael123 starwars12 dragon1234 monkey1234 computer12 internet12
administrator changeme123 q1w2e3r4t5 987654321a 9876543210 qazwsxedc123 aaaaaaaaaa
""".split()
)


def problems(password: str) -> list[str]:
    """Reasons the password is refused; empty when it is acceptable."""
    if len(password.encode()) > MAX_BYTES:
        return [f"must be at most {MAX_BYTES} bytes"]
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"must be at most {MAX_LENGTH} characters")
    if password.lower() in COMMON or len(set(password)) < 3:
        found.append("is too common; choose a less guessable password")
    return found


# --- Refresh-token rotation ---------------------------------------------------------------


class RefreshOutcome(StrEnum):
    """What presenting a refresh token leads to."""

    ROTATE = "rotate"  # valid and unused: spend it, issue the next of its family
    REUSED = "reused"  # already spent and not revoked: it leaked, revoke the family
    INVALID = "invalid"  # unknown, revoked or expired: 401


def refresh_outcome(*, found: bool, used: bool, revoked: bool, expired: bool) -> RefreshOutcome:
    """The rotation rule (OAuth 2.0 Security BCP 4.14.2): a spent token seen again means
    two parties hold it, so the whole family ends."""
    if not found or revoked:
        return RefreshOutcome.INVALID
    if used:
        return RefreshOutcome.REUSED
    if expired:
        return RefreshOutcome.INVALID
    return RefreshOutcome.ROTATE


# --- Access-token revocation ----------------------------------------------------------------

# A per-user "tokens valid after" instant ends every access token issued before it (logout,
# password reset, refresh-token reuse). Each process caches the instant this long: an access
# token outlives its revocation by at most this, instead of its whole lifetime.
VALID_AFTER_CACHE_SECONDS = 5.0


def issued_ms(claims: dict[str, Any]) -> int:
    """When the token was issued, in milliseconds: its `jti` is a UUIDv7, whose first 48 bits
    are the issuing instant (RFC 9562 5.7); `iat` (whole seconds) when it is not."""
    jti = claims.get("jti")
    if isinstance(jti, str) and len(jti) == 36 and jti[14] == "7":
        try:
            return int(jti.replace("-", "")[:12], 16)
        except ValueError:
            pass
    return int(claims.get("iat", 0)) * 1000


def revoked(issued_at_ms: int, valid_after_ms: int | None) -> bool:
    """A token issued before the user's "valid after" instant no longer authenticates."""
    return valid_after_ms is not None and issued_at_ms < valid_after_ms


def cache_is_fresh(fetched_at: float, now: float) -> bool:
    return 0 <= now - fetched_at < VALID_AFTER_CACHE_SECONDS


# --- Password reset by mail -----------------------------------------------------------------


class MailOutcome(StrEnum):
    """What the auth_mail worker did with one task."""

    SENT = "sent"
    NO_ACCOUNT = "ignored: no account"  # nothing to send; the requester learnt nothing either
    STALE = "ignored: stale"  # queued longer than a link lives: a late link helps nobody


def reset_request_is_stale(requested_at: float, now: float, ttl_seconds: int) -> bool:
    return now - requested_at > ttl_seconds


def reset_mail_text(*, link: str, minutes: int) -> str:
    return (
        "Someone asked to reset the password of this account.\n\n"
        f"Reset it here (valid {minutes} minutes, once):\n{link}\n\n"
        "If it was not you, ignore this message.\n"
    )


# --- Second factor (TOTP, RFC 6238) --------------------------------------------------------

TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted (clock drift, typing)
CHALLENGE_TTL_SECONDS = 300
CHALLENGE_MAX_ATTEMPTS = 5
RECOVERY_CODES = 10


class ChallengeOutcome(StrEnum):
    """What a second-factor login attempt against a challenge token leads to."""

    OPEN = "open"  # may be answered with a code
    INVALID = "invalid"  # unknown, used, expired or out of attempts: log in again


def challenge_outcome(*, found: bool, used: bool, expired: bool, attempts: int) -> ChallengeOutcome:
    if not found or used or expired or attempts >= CHALLENGE_MAX_ATTEMPTS:
        return ChallengeOutcome.INVALID
    return ChallengeOutcome.OPEN


def totp_steps(now: float) -> list[int]:
    """The time steps whose codes are accepted at `now`, the current one first."""
    current = int(now // TOTP_STEP_SECONDS)
    drift = range(1, TOTP_DRIFT_STEPS + 1)
    return [current, *(current - d for d in drift), *(current + d for d in drift)]


def accepted_step(matching: list[int], last_step: int) -> int | None:
    """The step a code is accepted for: one it matches that is later than the last accepted
    one, so a code (or an older one seen over a shoulder) works once (RFC 6238 5.2)."""
    fresh = [step for step in matching if step > last_step]
    return max(fresh) if fresh else None


def normalize_recovery_code(code: str) -> str:
    """Recovery codes are shown as `xxxxx-xxxxx`; typed with or without the dash or spaces."""
    return "".join(c for c in code.lower() if c.isalnum())


def notice_text(notice: str) -> tuple[str, str]:
    """Subject and body of the mail that tells a user their account's security changed."""
    texts = {
        "second_factor_enabled": (
            "Two-step sign-in is on",
            "An authenticator app was added to your account: signing in now asks for its code.",
        ),
        "second_factor_removed": (
            "Two-step sign-in is off",
            "The authenticator app was removed from your account: signing in asks only for "
            "your password.",
        ),
        "recovery_code_used": (
            "A recovery code was used",
            "Someone signed in to your account with one of your recovery codes.",
        ),
    }
    subject, line = texts[notice]
    return subject, f"{line}\n\nIf it was not you, reset your password now.\n"


def used_second_factor(claims: dict[str, Any]) -> bool:
    """Whether an access token's session was opened with a second factor (RFC 8176 `amr`)."""
    amr = claims.get("amr")
    return isinstance(amr, list) and "otp" in amr
