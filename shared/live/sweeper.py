"""The live sweeper (cron `live-sweep`): meetings a crash left at Zoom without a session row.

`schedule_session` commits an intent row before asking Zoom for a meeting, puts the intent id
in the meeting's agenda, and deletes the intent in the transaction that inserts the session.
An intent older than a Zoom call can take is therefore a create whose outcome was lost: this
lists the account's scheduled meetings, deletes the ones whose agenda names the intent (and
that no session points at), then forgets the intent. A failing Zoom keeps the intent for a
later run (claims back off by attempt).
"""

from __future__ import annotations

import logging
from typing import Any

from shared.live.rules import made_for_intent
from shared.platform.db import transaction

log = logging.getLogger("live_sweeper")
MIN_AGE_SECONDS = 600  # a Zoom create times out after 10 s; a request lives far less than this


def sweep_orphan_meetings(*, min_age_seconds: int = MIN_AGE_SECONDS, batch: int = 100) -> dict:
    """One pass over stale intents of every channel; answers counts for the cron's log."""
    from shared.adapters import zoom

    with transaction() as tx:
        claimed = tx.all(
            "SELECT channel_id, id FROM live_claim_stale_intents(make_interval(secs => :a), :n)",
            a=min_age_seconds,
            n=batch,
        )
    deleted = forgotten = kept = 0
    for c in claimed:
        channel_id, intent_id = str(c["channel_id"]), str(c["id"])
        try:
            deleted += _sweep_one(channel_id, intent_id)
            forgotten += 1
        except (zoom.LiveProviderUnavailable, zoom.LiveProviderError) as e:
            kept += 1
            log.warning("intent %s of channel %s kept for later: %s", intent_id, channel_id, e)
    return {
        "claimed": len(claimed),
        "meetings_deleted": deleted,
        "intents_done": forgotten,
        "intents_kept": kept,
    }


def _sweep_one(channel_id: str, intent_id: str) -> int:
    from shared.live.zoom_accounts import NotConnected, connected_account, meetings_of

    with transaction(channel_id=channel_id) as tx:
        intent = tx.one(
            "SELECT id, account_id FROM live_meeting_intents WHERE id = :i",
            i=intent_id,
        )
        current = connected_account(tx)
    if intent is None:
        return 0  # finished meanwhile
    deleted = 0
    if current is not None and current == intent["account_id"]:
        try:
            live = meetings_of(channel_id)
            for meeting in live.list_meetings():
                mine = made_for_intent(meeting, intent_id)
                if (
                    mine
                    and not _has_session(channel_id, meeting)
                    and live.delete_meeting(str(meeting["id"]))
                ):
                    deleted += 1
                    log.info("deleted orphan meeting %s of channel %s", meeting["id"], channel_id)
        except NotConnected:
            pass  # disconnected meanwhile: the account's meetings are its owner's now
    # Otherwise the account was disconnected or replaced: its tokens are gone, so its
    # meetings are its owner's to manage at Zoom; nothing of ours points at them.
    with transaction(channel_id=channel_id) as tx:
        tx.exec("DELETE FROM live_meeting_intents WHERE id = :i", i=intent_id)
    return deleted


def _has_session(channel_id: str, meeting: dict[str, Any]) -> bool:
    with transaction(channel_id=channel_id) as tx:
        return (
            tx.scalar(
                "SELECT 1 FROM live_sessions WHERE provider = 'zoom' AND provider_meeting_id = :m",
                m=str(meeting["id"]),
            )
            is not None
        )
