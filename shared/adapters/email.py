"""Outgoing mail through SMTP (locally the dev stack's sink, which writes .eml files)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from shared.platform.config import settings


def send(*, to: str, subject: str, text: str) -> None:
    s = settings()
    msg = EmailMessage()
    msg["From"] = s.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
        if s.smtp_user and s.smtp_password:
            smtp.starttls()
            smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
        smtp.send_message(msg)
