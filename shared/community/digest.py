"""The hourly email digest (function community_digest): each person with unread, not yet
mailed notifications gets one mail listing them, with a signed one-click unsubscribe link
(List-Unsubscribe + List-Unsubscribe-Post, RFC 8058). It reaches across channels and people
only through the definer functions community_digest_due() / community_digest_sent()."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from shared.community.notifications import unsubscribe_url
from shared.platform.config import settings
from shared.platform.db import transaction

log = logging.getLogger("community.digest")


def send_digests(*, min_age_minutes: int = 60, max_users: int = 200, per_user: int = 20) -> int:
    """Mail each person with unread, not yet mailed notifications older than `min_age_minutes`
    one digest; returns how many were mailed. A failed mail leaves theirs for the next run."""
    from shared.adapters import email

    with transaction() as tx:
        rows = tx.all(
            "SELECT * FROM community_digest_due(make_interval(mins => :a), :u, :p)",
            a=min_age_minutes,
            u=max_users,
            p=per_user,
        )
    by_user: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_user.setdefault(str(r["user_id"]), []).append(r)
    sent = 0
    for uid, items in by_user.items():
        latest = max(i["created_at"] for i in items)
        url = unsubscribe_url(uid)
        try:
            email.send(
                to=items[0]["email"],
                subject=f"{len(items)} unread notification{'s' if len(items) > 1 else ''}",
                text=digest_text(items[0]["display_name"], items, url),
                headers={
                    "List-Unsubscribe": f"<{url}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
        except Exception:
            log.warning("digest mail to %s failed; next run retries", uid, exc_info=True)
            continue
        with transaction() as tx:
            tx.scalar("SELECT community_digest_sent(CAST(:u AS uuid), :t)", u=uid, t=latest)
        sent += 1
    return sent


def digest_text(name: str, items: Sequence[Mapping[str, Any]], unsubscribe: str) -> str:
    base = settings().public_base_url.rstrip("/")
    lines = [f"Hello {name},", "", "You have unread notifications:", ""]
    for i in items:
        lines.append(f"- {i['title']}" + (f"  {base}{i['link']}" if i["link"] else ""))
    lines += ["", f"Stop these emails (one click, no sign-in needed): {unsubscribe}", ""]
    return "\n".join(lines)
