"""The mail side of a password reset, run by the auth_mail Cloud Tasks worker.

The request (service.request_password_reset) only queues the address, for known and unknown
accounts alike, so its answer takes the same work and time whatever the email; the worker
looks the account up and, when it exists, stores a single-use token and mails the link.
A failed send raises: the task is retried (a retried send mails a fresh token)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from shared.adapters import email as mail
from shared.identity.rules import (
    MailOutcome,
    notice_text,
    reset_mail_text,
    reset_request_is_stale,
)
from shared.identity.schemas import ResetMailTask, SecurityNoticeTask
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.ids import opaque_token, token_hash

log = logging.getLogger("identity")


def send_password_reset(task: ResetMailTask, *, now: float | None = None) -> MailOutcome:
    s = settings()
    now = time.time() if now is None else now
    if reset_request_is_stale(task.requested_at, now, s.password_reset_ttl_seconds):
        return MailOutcome.STALE
    token = "pr_" + opaque_token()
    with transaction() as tx:
        user = tx.one(
            "SELECT id, email FROM users WHERE lower(email) = lower(:e) AND erased_at IS NULL",
            e=task.email.strip(),
        )
        if user is None:
            return MailOutcome.NO_ACCOUNT
        tx.exec(
            "INSERT INTO password_reset_tokens (token_hash, user_id, expires_at)"
            " VALUES (:h, :u, :x)",
            h=token_hash(token),
            u=user["id"],
            x=datetime.now(UTC) + timedelta(seconds=s.password_reset_ttl_seconds),
        )
        audit.record(
            tx,
            action="auth.password_reset_requested",
            channel_id=None,
            actor_user_id=str(user["id"]),
            details={"ip": task.client_ip},
        )
    mail.send(
        to=user["email"],
        subject="Reset your password",
        text=reset_mail_text(
            link=f"{s.public_base_url}/reset-password?token={token}",
            minutes=s.password_reset_ttl_seconds // 60,
        ),
    )
    return MailOutcome.SENT


def send_security_notice(task: SecurityNoticeTask) -> MailOutcome:
    """Tell a user that their account's sign-in changed (second factor on or off, a recovery
    code used): if it was not them, they learn it at once."""
    with transaction() as tx:
        to = tx.scalar(
            "SELECT email FROM users WHERE id = CAST(:u AS uuid) AND erased_at IS NULL",
            u=task.user_id,
        )
    if to is None:
        return MailOutcome.NO_ACCOUNT
    subject, text = notice_text(task.notice)
    mail.send(to=to, subject=subject, text=text)
    return MailOutcome.SENT
