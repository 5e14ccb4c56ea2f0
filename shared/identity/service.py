"""Identity use cases: signup, login, refresh rotation with reuse detection, logout,
password reset, and the caller's own profile."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pg8000.native import DatabaseError

from shared.adapters import passwords
from shared.identity import second_factor
from shared.identity.rules import RefreshOutcome, refresh_outcome
from shared.identity.schemas import Membership, Profile, Session, TokenPair, UserView
from shared.identity.tokens import issue_access_token, revoke_before
from shared.platform import audit, db, ratelimit
from shared.platform.config import settings
from shared.platform.db import UNIQUE_VIOLATION, Tx, sqlstate, transaction
from shared.platform.errors import BadRequest, Conflict, Unauthorized
from shared.platform.ids import opaque_token, token_hash, uuid7

log = logging.getLogger("identity")


_BAD_LOGIN = "The email or password is incorrect."


def _now() -> datetime:
    return datetime.now(UTC)


def _user_out(row: dict[str, Any]) -> UserView:
    return {"id": str(row["id"]), "email": row["email"], "display_name": row["display_name"]}


def _session(user: UserView, pair: TokenPair) -> Session:
    return {"user": user, **pair}


def _issue_pair(
    tx: Tx, user_id: str, family_id: str | None = None, *, second_factor: bool = False
) -> TokenPair:
    """A refresh token (a new family unless `family_id`) and an access token; both remember
    whether the session was opened with a second factor."""
    refresh = "rt_" + opaque_token()
    tx.exec(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at,"
        " second_factor) VALUES (:id, :u, :f, :h, :e, :sf)",
        id=uuid7(),
        u=user_id,
        f=family_id or uuid7(),
        h=token_hash(refresh),
        e=_now() + timedelta(seconds=settings().refresh_token_ttl_seconds),
        sf=second_factor,
    )
    access, ttl = issue_access_token(user_id, second_factor=second_factor)
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": ttl,
        "token_type": "Bearer",
    }


def signup(
    *,
    email: str,
    password: str,
    display_name: str,
    client_ip: str,
    terms_version: str | None = None,
    privacy_version: str | None = None,
    analytics_consent: bool | None = None,
) -> Session:
    ratelimit.hit(f"signup:ip:{client_ip}", settings().rate_limit_signup_ip)
    password_hash = passwords.hash_password(password)
    user_id = uuid7()
    try:
        with transaction(user_id=user_id) as tx:
            # consent (migration 0097): what was accepted, and when
            tx.exec(
                "INSERT INTO users (id, email, display_name, password_hash, terms_version,"
                " privacy_version, analytics_consent, consented_at)"
                " VALUES (:id, :e, :n, :h, CAST(:tv AS text), CAST(:pv AS text),"
                " CAST(:ac AS boolean), CASE WHEN CAST(:tv AS text) IS NOT NULL"
                " OR CAST(:pv AS text) IS NOT NULL OR CAST(:ac AS boolean) IS NOT NULL"
                " THEN now() END)",
                id=user_id,
                e=email.strip(),
                n=display_name,
                h=password_hash,
                tv=terms_version,
                pv=privacy_version,
                ac=analytics_consent,
            )
            audit.record(
                tx,
                action="auth.signup",
                channel_id=None,
                actor_user_id=user_id,
                target_type="user",
                target_id=user_id,
            )
            pair = _issue_pair(tx, user_id)
    except DatabaseError as e:
        if sqlstate(e) == UNIQUE_VIOLATION:
            raise Conflict("An account with this email already exists.") from e
        raise
    user: UserView = {"id": user_id, "email": email.strip(), "display_name": display_name}
    return _session(user, pair)


def login(*, email: str, password: str, client_ip: str) -> Session:
    s = settings()
    ratelimit.hit(f"login:ip:{client_ip}", s.rate_limit_login_ip)
    ratelimit.hit(f"login:acct:{email.strip().lower()}", s.rate_limit_login_account)
    with transaction() as tx:
        row = tx.one(
            "SELECT id, email, display_name, password_hash FROM users"
            " WHERE lower(email) = lower(:e) AND erased_at IS NULL",
            e=email.strip(),
        )
    stored = row["password_hash"] if row is not None else None
    # Unknown accounts verify against a dummy hash: both failures cost the same time.
    matches = passwords.matches(stored or passwords.dummy_hash(), password)
    user_id = str(row["id"]) if row is not None else None
    challenge: str | None = None
    result: Session | None = None
    with transaction(user_id=user_id) as tx:
        if row is None or user_id is None or stored is None or not matches:
            audit.record(
                tx,
                action="auth.login_failed",
                channel_id=None,
                actor_user_id=user_id,
                details={"ip": client_ip},
            )
        elif second_factor.enrolled(tx, user_id):
            challenge = second_factor.open_challenge(tx, user_id)
            audit.record(
                tx,
                action="auth.login_second_factor_required",
                channel_id=None,
                actor_user_id=user_id,
                details={"ip": client_ip},
            )
        else:
            if passwords.needs_rehash(stored):
                tx.exec(
                    "UPDATE users SET password_hash = :h WHERE id = :u",
                    h=passwords.hash_password(password),
                    u=user_id,
                )
            audit.record(
                tx,
                action="auth.login",
                channel_id=None,
                actor_user_id=user_id,
                details={"ip": client_ip},
            )
            result = _session(_user_out(row), _issue_pair(tx, user_id))
    if challenge is not None:
        raise second_factor.challenge_error(challenge)
    if result is None:
        raise Unauthorized(_BAD_LOGIN)
    return result


def complete_login(
    *, challenge_token: str, code: str | None, recovery_code: str | None, client_ip: str
) -> Session:
    """The second step of a login that needs a second factor: tokens for a valid code."""
    user_id = second_factor.redeem_challenge(
        challenge_token=challenge_token, code=code, recovery_code=recovery_code, client_ip=client_ip
    )
    if user_id is None:
        raise Unauthorized("The code is wrong, or the sign-in expired: sign in again.")
    with transaction(user_id=user_id) as tx:
        row = tx.one(
            "SELECT id, email, display_name FROM users WHERE id = :u AND erased_at IS NULL",
            u=user_id,
        )
        if row is None:
            raise Unauthorized("This account no longer exists.")
        audit.record(
            tx,
            action="auth.login",
            channel_id=None,
            actor_user_id=user_id,
            details={"ip": client_ip, "second_factor": True},
        )
        return _session(_user_out(row), _issue_pair(tx, user_id, second_factor=True))


def refresh(*, refresh_token: str) -> Session:
    """Rotate: the presented token is spent and a new one of the same family is issued.
    A spent token presented again means it leaked: the whole family is revoked."""
    result: Session | None = None
    with transaction() as tx:
        row = tx.one(
            "SELECT t.id, t.user_id, t.family_id, t.expires_at, t.used_at, t.revoked_at,"
            " t.second_factor,"
            " u.email, u.display_name FROM refresh_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.token_hash = :h AND u.erased_at IS NULL FOR UPDATE OF t",
            h=token_hash(refresh_token),
        )
        outcome = (
            refresh_outcome(
                found=True,
                used=row["used_at"] is not None,
                revoked=row["revoked_at"] is not None,
                expired=row["expires_at"] <= _now(),
            )
            if row is not None
            else RefreshOutcome.INVALID
        )
        if row is not None and outcome is RefreshOutcome.REUSED:
            _revoke_family(tx, user_id=str(row["user_id"]), family_id=str(row["family_id"]))
            ended = _end_access_tokens(tx, str(row["user_id"]))
        elif row is not None and outcome is RefreshOutcome.ROTATE:
            tx.exec("UPDATE refresh_tokens SET used_at = now() WHERE id = :id", id=row["id"])
            result = _session(
                _user_out({**row, "id": row["user_id"]}),
                _issue_pair(
                    tx,
                    str(row["user_id"]),
                    str(row["family_id"]),
                    second_factor=row["second_factor"],
                ),
            )
    if row is not None and outcome is RefreshOutcome.REUSED:
        revoke_before(str(row["user_id"]), ended)
        log.warning("refresh token reuse; family revoked, access tokens ended")
    if result is None:
        raise Unauthorized("The refresh token is invalid, expired or already used.")
    return result


def _revoke_family(tx: Tx, *, user_id: str, family_id: str) -> None:
    tx.exec(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = :f AND revoked_at IS NULL",
        f=family_id,
    )
    audit.record(
        tx,
        action="auth.refresh_reuse_detected",
        channel_id=None,
        actor_user_id=user_id,
        target_type="token_family",
        target_id=family_id,
    )


def _end_access_tokens(tx: Tx, user_id: str) -> int:
    """Every access token of the user issued until now stops authenticating (within the
    verification cache's window elsewhere). Returns the new "valid after" instant (epoch ms),
    taken from this process's clock, the clock that stamps the tokens it issues."""
    valid_after = time.time_ns() // 1_000_000
    tx.exec(
        "UPDATE users SET tokens_valid_after ="
        " greatest(tokens_valid_after, to_timestamp(CAST(:ms AS bigint) / 1000.0)) WHERE id = :u",
        ms=valid_after,
        u=user_id,
    )
    return valid_after


def _revoke_all(tx: Tx, user_id: str) -> int:
    """End every session of the user: refresh tokens now, access tokens within seconds."""
    tx.exec(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL",
        u=user_id,
    )
    return _end_access_tokens(tx, user_id)


def logout(*, refresh_token: str) -> None:
    """Ends every session of the token's owner (RELIABILITY: logout revokes all families),
    access tokens included."""
    with transaction() as tx:
        user_id = tx.scalar(
            "SELECT user_id FROM refresh_tokens WHERE token_hash = :h", h=token_hash(refresh_token)
        )
        if user_id is not None:
            ended = _revoke_all(tx, str(user_id))
            audit.record(tx, action="auth.logout", channel_id=None, actor_user_id=str(user_id))
    if user_id is not None:
        revoke_before(str(user_id), ended)


def logout_all(*, user_id: str) -> None:
    """The caller, signed in with an access token, ends all their sessions everywhere."""
    with transaction(user_id=user_id) as tx:
        ended = _revoke_all(tx, user_id)
        audit.record(tx, action="auth.logout_all", channel_id=None, actor_user_id=user_id)
    revoke_before(user_id, ended)


def request_password_reset(*, email: str, client_ip: str) -> None:
    """Always 'accepted', after the same work whatever the email (no account lookup here):
    the auth_mail worker mails a single-use link when the account exists (reset_mail.py)."""
    from shared.adapters import tasks

    s = settings()
    ratelimit.hit(f"reset:ip:{client_ip}", s.rate_limit_login_ip)
    ratelimit.hit(f"reset:acct:{email.strip().lower()}", s.rate_limit_reset_account)
    tasks.enqueue(
        queue="auth-mail",
        function="auth_mail",
        payload={"email": email.strip(), "client_ip": client_ip, "requested_at": time.time()},
        task_id=f"reset-{uuid7()}",
    )


def confirm_password_reset(*, token: str, new_password: str) -> None:
    new_hash = passwords.hash_password(new_password)
    with transaction() as tx:
        row = tx.one(
            "SELECT user_id FROM password_reset_tokens WHERE token_hash = :h"
            " AND used_at IS NULL AND expires_at > now() FOR UPDATE",
            h=token_hash(token),
        )
        if row is not None:
            user_id = str(row["user_id"])
            tx.exec(
                "UPDATE password_reset_tokens SET used_at = now() WHERE user_id = :u"
                " AND used_at IS NULL",
                u=user_id,
            )
            tx.exec(
                "UPDATE users SET password_hash = :p, password_changed_at = now() WHERE id = :u",
                p=new_hash,
                u=user_id,
            )
            ended = _revoke_all(tx, user_id)
            audit.record(tx, action="auth.password_reset", channel_id=None, actor_user_id=user_id)
    if row is None:
        raise BadRequest("The reset link is invalid, expired or already used.")
    revoke_before(str(row["user_id"]), ended)


def me(*, user_id: str) -> Profile:
    # One round trip: me_read() sets the caller's context itself (migration 0024).
    rows = db.call("SELECT * FROM me_read(:u)", u=user_id)
    if not rows:
        raise Unauthorized("This account no longer exists.")
    memberships: list[Membership] = [
        {"channel_id": str(r["channel_id"]), "role": r["role"]}
        for r in rows
        if r["channel_id"] is not None
    ]
    return {
        **_user_out(rows[0]),
        "second_factor": bool(rows[0]["second_factor"]),
        "memberships": memberships,
    }
