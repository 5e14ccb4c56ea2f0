"""A second factor for sign-in: TOTP (RFC 6238, pyotp) with single-use recovery codes.

Enrolling and removing take the account's password again (a stolen access token alone
cannot change the factor); enrolment is confirmed with a first code, which answers the
recovery codes once. A password login of an account with a factor answers a short-lived
challenge token instead of tokens (SecondFactorRequired, 401); `complete_login` redeems it
with a code or a recovery code. Every change is audited and mailed to the user (through the
auth_mail worker, so this module sends no mail itself).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters import passwords
from shared.identity.factors import enrolled
from shared.identity.rules import (
    CHALLENGE_TTL_SECONDS,
    RECOVERY_CODES,
    TOTP_STEP_SECONDS,
    ChallengeOutcome,
    accepted_step,
    challenge_outcome,
    normalize_recovery_code,
    totp_steps,
)
from shared.identity.schemas import RecoveryCodes, TotpEnrollment
from shared.platform import audit, ratelimit
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import Conflict, Forbidden, NotFound, Unauthorized
from shared.platform.ids import opaque_token, token_hash, uuid7

log = logging.getLogger("identity")
ISSUER = "Creator Platform"


class SecondFactorRequired(Unauthorized):
    """The password was right; the answer carries `challenge_token` for the second step."""

    slug, title = "second-factor-required", "Second factor required"


def open_challenge(tx: Tx, user_id: str) -> str:
    """A single-use token for the second step of this login."""
    token = "mc_" + opaque_token()
    tx.exec(
        "INSERT INTO login_challenges (token_hash, user_id, expires_at) VALUES (:h, :u, :x)",
        h=token_hash(token),
        u=user_id,
        x=datetime.now(UTC) + timedelta(seconds=CHALLENGE_TTL_SECONDS),
    )
    return token


def challenge_error(token: str) -> SecondFactorRequired:
    return SecondFactorRequired(
        "Enter the code of your authenticator app (or a recovery code).",
        challenge_token=token,
        expires_in=CHALLENGE_TTL_SECONDS,
    )


def _code_step(secret: str, code: str, last_step: int, now: float) -> int | None:
    import pyotp

    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    matching = [
        step
        for step in totp_steps(now)
        if hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), code)
    ]
    return accepted_step(matching, last_step)


def _check_password(tx: Tx, user_id: str, password: str) -> dict[str, Any]:
    ratelimit.hit(f"factor:acct:{user_id}", settings().rate_limit_login_account)
    row = tx.one(
        "SELECT email, password_hash FROM users WHERE id = :u AND erased_at IS NULL", u=user_id
    )
    if row is None or not passwords.matches(row["password_hash"] or "", password):
        raise Forbidden("The password is incorrect.")
    return row


def _notify(user_id: str, notice: str) -> None:
    """Mail the user about the change, through the auth_mail worker. Best effort: the change
    is committed and audited whether or not the notice can be queued."""
    try:
        from shared.adapters import tasks

        tasks.enqueue(
            queue="auth-mail",
            function="auth_mail",
            payload={
                "kind": "security_notice",
                "user_id": user_id,
                "notice": notice,
                "requested_at": time.time(),
            },
            task_id=f"notice-{uuid7()}",
        )
    except Exception:
        log.warning("could not queue the %s notice", notice, exc_info=True)


def start_totp(*, user_id: str, password: str) -> TotpEnrollment:
    """A new secret for the authenticator app; active once `confirm_totp` sees its first code."""
    import pyotp

    secret = pyotp.random_base32()
    with transaction(user_id=user_id) as tx:
        user = _check_password(tx, user_id, password)
        if enrolled(tx, user_id):
            raise Conflict("A second factor is already on; remove it first to replace it.")
        tx.exec(
            "INSERT INTO user_totp (user_id, secret) VALUES (:u, :s) ON CONFLICT (user_id)"
            " DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = now()",
            u=user_id,
            s=secret,
        )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=ISSUER)
    return {"secret": secret, "otpauth_uri": uri}


def confirm_totp(*, user_id: str, code: str) -> RecoveryCodes:
    codes = [f"{secrets.token_hex(5)}-{secrets.token_hex(5)}" for _ in range(RECOVERY_CODES)]
    with transaction(user_id=user_id) as tx:
        row = tx.one(
            "SELECT secret, last_step FROM user_totp WHERE user_id = :u"
            " AND confirmed_at IS NULL FOR UPDATE",
            u=user_id,
        )
        if row is None:
            raise NotFound("No enrolment in progress; start one first.")
        step = _code_step(row["secret"], code, row["last_step"], time.time())
        if step is None:
            raise Forbidden("The code is not the authenticator's current one.")
        tx.exec(
            "UPDATE user_totp SET confirmed_at = now(), last_step = :s WHERE user_id = :u",
            s=step,
            u=user_id,
        )
        tx.exec("DELETE FROM user_recovery_codes WHERE user_id = :u", u=user_id)
        for c in codes:
            tx.exec(
                "INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (:u, :h)",
                u=user_id,
                h=token_hash(normalize_recovery_code(c)),
            )
        audit.record(
            tx, action="auth.second_factor_enabled", channel_id=None, actor_user_id=user_id
        )
    _notify(user_id, "second_factor_enabled")
    return {"recovery_codes": codes}


def remove_totp(*, user_id: str, password: str) -> None:
    with transaction(user_id=user_id) as tx:
        _check_password(tx, user_id, password)
        removed = tx.exec("DELETE FROM user_totp WHERE user_id = :u", u=user_id)
        tx.exec("DELETE FROM user_recovery_codes WHERE user_id = :u", u=user_id)
        if not removed:
            raise NotFound("This account has no second factor.")
        audit.record(
            tx, action="auth.second_factor_removed", channel_id=None, actor_user_id=user_id
        )
    _notify(user_id, "second_factor_removed")


def redeem_challenge(
    *, challenge_token: str, code: str | None, recovery_code: str | None, client_ip: str
) -> str | None:
    """Check the second step of a login; the user id when it passes (the challenge is then
    spent), None otherwise (the attempt is counted)."""
    ratelimit.hit(f"login:ip:{client_ip}", settings().rate_limit_login_ip)
    with transaction() as tx:
        row = tx.one(
            "SELECT user_id, used_at, expires_at, attempts FROM login_challenges"
            " WHERE token_hash = :h FOR UPDATE",
            h=token_hash(challenge_token),
        )
        outcome = (
            challenge_outcome(
                found=True,
                used=row["used_at"] is not None,
                expired=row["expires_at"] <= datetime.now(UTC),
                attempts=row["attempts"],
            )
            if row is not None
            else ChallengeOutcome.INVALID
        )
        if row is None or outcome is ChallengeOutcome.INVALID:
            return None
        user_id = str(row["user_id"])
        passed = (
            _spend_totp(tx, user_id, code) if code else _spend_recovery(tx, user_id, recovery_code)
        )
        tx.exec(
            "UPDATE login_challenges SET attempts = attempts + 1,"
            " used_at = CASE WHEN :ok THEN now() END WHERE token_hash = :h",
            ok=passed,
            h=token_hash(challenge_token),
        )
        audit.record(
            tx,
            action="auth.second_factor_passed" if passed else "auth.second_factor_failed",
            channel_id=None,
            actor_user_id=user_id,
            details={"ip": client_ip, "factor": "totp" if code else "recovery_code"},
        )
    if passed and not code:
        _notify(user_id, "recovery_code_used")
    return user_id if passed else None


def _spend_totp(tx: Tx, user_id: str, code: str) -> bool:
    row = tx.one(
        "SELECT secret, last_step FROM user_totp WHERE user_id = :u"
        " AND confirmed_at IS NOT NULL FOR UPDATE",
        u=user_id,
    )
    if row is None:
        return False
    step = _code_step(row["secret"], code, row["last_step"], time.time())
    if step is None:
        return False
    tx.exec("UPDATE user_totp SET last_step = :s WHERE user_id = :u", s=step, u=user_id)
    return True


def _spend_recovery(tx: Tx, user_id: str, recovery_code: str | None) -> bool:
    if not recovery_code:
        return False
    return bool(
        tx.one(
            "UPDATE user_recovery_codes SET used_at = now() WHERE user_id = :u"
            " AND code_hash = :h AND used_at IS NULL RETURNING user_id",
            u=user_id,
            h=token_hash(normalize_recovery_code(recovery_code)),
        )
    )
