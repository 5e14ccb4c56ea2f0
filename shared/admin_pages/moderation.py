"""The moderation page (issue 12 item 3): the queue of flagged posts and comments, oldest
first, with the moderator's actions, and the active bans with a lift button.

Reads and actions are community's own use cases (`moderation_queue`, `moderate`, `list_bans`,
`lift_ban`, each checking community.moderate); this module adds the forms' CSRF check and
answers every action with a redirect back to the page (PRG), naming what was done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from shared import community
from shared.admin_pages import rules
from shared.admin_pages.service import Page, StaffSession, check_csrf, nav, redirect, render
from shared.community.schemas import ModerationActionIn
from shared.platform.errors import Unprocessable

DONE = {  # ?done= -> the notice shown after the redirect (never the client's own text)
    "remove": "Removed.",
    "restore": "Restored.",
    "dismiss": "Flags dismissed.",
    "ban_user": "Author banned.",
    "lift_ban": "Ban lifted.",
}
QUEUE_PAGE = 50


def moderation_page(*, session: StaffSession, params: Mapping[str, str]) -> Page:
    cursor = (params.get("cursor") or "").strip() or None
    queue = community.moderation_queue(
        channel_id=session.channel_id, user_id=session.user_id, limit=QUEUE_PAGE, cursor=cursor
    )
    bans = community.list_bans(channel_id=session.channel_id, user_id=session.user_id)
    more: str | None = None
    if queue.get("next_cursor"):
        more = (
            rules.admin_path(session.slug, "moderation")
            + "?"
            + urlencode({"cursor": queue["next_cursor"]})
        )
    return render(
        "moderation.html",
        200,
        title=f"Moderation · {session.channel_name}",
        nav=nav(session, "moderation"),
        queue=queue["items"],
        more=more,
        bans=bans["items"],
        notice=DONE.get(params.get("done") or "", ""),
        max_ban_days=rules.MAX_BAN_DAYS,
    )


def _back(session: StaffSession, done: str) -> Page:
    return redirect(rules.admin_path(session.slug, "moderation") + "?" + urlencode({"done": done}))


def moderate(*, session: StaffSession, form: Mapping[str, str]) -> Page:
    """One action of the queue's forms (CSRF first: nothing changes without the token)."""
    check_csrf(session, form)
    parsed = rules.moderation_form(form)
    if isinstance(parsed, str):
        raise Unprocessable(parsed)
    result: dict[str, Any] = community.moderate(
        channel_id=session.channel_id,
        user_id=session.user_id,
        data=ModerationActionIn(
            target_type=parsed.target_type,  # type: ignore[arg-type]
            target_id=parsed.target_id,
            action=parsed.action,  # type: ignore[arg-type]
            reason=parsed.reason,
            ban_days=parsed.ban_days,
        ),
    )
    return _back(session, str(result.get("action", parsed.action)))


def lift_ban(*, session: StaffSession, form: Mapping[str, str], banned_user_id: str) -> Page:
    check_csrf(session, form)
    community.lift_ban(
        channel_id=session.channel_id, user_id=session.user_id, banned_user_id=banned_user_id
    )
    return _back(session, "lift_ban")
