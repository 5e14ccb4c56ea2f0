"""Consumer of `certificate.issued` (function certificate_mailer): mail the holder the links.

At least once: the event is marked processed in the transaction that reads the holder, and the
mail is sent before that transaction commits; a relay failure raises (Pub/Sub redelivers) and
rolls the mark back, so a mail can be sent twice (a crash between sending and committing) but
never lost. Malformed events are logged and acked."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shared.adapters import email
from shared.certificates import rules
from shared.platform.config import settings
from shared.platform.consumers import first_delivery
from shared.platform.db import transaction

log = logging.getLogger("certificate_mailer")
CONSUMER = "certificate_mailer"


def on_certificate_issued(*, envelope: Any, attributes: Mapping[str, str]) -> str:
    """Entry for certificate_mailer: sent, duplicate, skipped or malformed."""
    if not isinstance(envelope, dict) or envelope.get("type") != rules.CERTIFICATE_ISSUED:
        log.warning("not a certificate.issued event; dropped")
        return "malformed"
    event_id, channel_id, data = (
        envelope.get("id"),
        envelope.get("channel_id"),
        envelope.get("data"),
    )
    if not (isinstance(event_id, str) and rules.is_uuid(channel_id) and isinstance(data, dict)):
        log.warning("malformed certificate.issued event dropped")
        return "malformed"
    if not rules.is_uuid(data.get("certificate_id")) or attributes.get("channel_id") not in (
        None,
        channel_id,
    ):
        log.warning("event %s: malformed certificate.issued dropped", event_id)
        return "malformed"
    with transaction(channel_id=channel_id) as tx:
        if not first_delivery(tx, consumer=CONSUMER, event_id=event_id):
            return "duplicate"
        row = tx.one(
            "SELECT z.code, z.holder_name, z.course_title, ch.name AS channel_name, u.email,"
            "       u.erased_at"
            "  FROM certificates z JOIN channels ch ON ch.id = z.channel_id"
            "  JOIN users u ON u.id = z.user_id"
            " WHERE z.id = :i AND z.channel_id = app_channel_id()",
            i=data["certificate_id"],
        )
        if row is None or row["erased_at"] is not None:
            return "skipped"
        email.send(to=row["email"], subject=subject(row), text=body(row))
    return "sent"


def subject(row: Mapping[str, Any]) -> str:
    return f"Your certificate: {row['course_title']}"


def body(row: Mapping[str, Any]) -> str:
    base = settings().public_base_url.rstrip("/")
    code = rules.display_code(row["code"])
    page = rules.verify_url(row["code"], base_url=base)
    return (
        f"Congratulations, {row['holder_name']}!\n\n"
        f"You completed {row['course_title']} at {row['channel_name']}.\n\n"
        f"Your certificate, which anyone can check: {page}\n"
        f"Certificate code: {code}\n"
        f"Signed credential (Open Badges 3.0, for your wallet):"
        f" {base}/v1/certificates/{code}/credential\n"
    )
