"""Outgoing mail through SMTP (locally the dev stack's sink, which writes .eml files)."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.message import EmailMessage

from shared.platform.config import settings


def send(*, to: str, subject: str, text: str, headers: Mapping[str, str] | None = None) -> None:
    """`headers`: extra ones, e.g. List-Unsubscribe and List-Unsubscribe-Post (RFC 8058)."""
    s = settings()
    msg = EmailMessage()
    msg["From"] = s.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
        if s.smtp_user and s.smtp_password:
            smtp.starttls()
            smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
        smtp.send_message(msg)
