"""POST /v1/me/realtime-token: a Firebase custom token whose claims say what the caller may
read of the projection (firestore.rules checks them): its channels with its role in each, and
for the channels where it is a student, the spaces it may see (rules.claims_for). A caller
whose claims would pass Firebase's size limit gets `g: 1` and a grants document instead.

Claims are a snapshot: a role change, a new enrollment or a lapsed one shows at the next token
(at most an hour). A ban shows at once: the rules read the ban document the projection writes.
"""

from __future__ import annotations

from shared.platform import db, ratelimit
from shared.platform.db import transaction
from shared.platform.errors import Unauthorized
from shared.realtime import rules
from shared.realtime.schemas import RealtimeToken

TOKEN_SECONDS = 3600
# A client asks again about hourly (and on reconnects); every mint is an IAM signBlob call in
# the cloud, which has a per-project quota one caller must not drain.
MINT_LIMIT = "60/600"


def mint_token(*, user_id: str) -> RealtimeToken:
    from shared.adapters import custom_tokens, firestore

    ratelimit.hit(f"realtime-token:{user_id}", MINT_LIMIT,
                  detail="Too many realtime tokens; reuse the one you have.")  # fmt: skip
    roles = _roles(user_id)
    spaces = {c: _visible_spaces(c, user_id) for c, role in roles.items() if role == "student"}
    claims, grant = rules.claims_for(roles=roles, spaces=spaces)
    if grant is not None:
        # user_id: the privacy export and erasure find a person's documents by it.
        firestore.put(f"{rules.GRANTS_COLLECTION}/{user_id}", {**grant, "user_id": user_id})
    token = custom_tokens.sign_custom_token(uid=user_id, claims=claims, seconds=TOKEN_SECONDS)
    return RealtimeToken(token=token, expires_in=TOKEN_SECONDS)


def _roles(user_id: str) -> dict[str, str]:
    """{channel_id: role} of the caller, in one round trip (me_read of migration 0024: the
    caller's own memberships under row-level security; no row: the account is gone)."""
    rows = db.call("SELECT channel_id, role FROM me_read(:u)", u=user_id)
    if not rows:
        raise Unauthorized("This account no longer exists.")
    return {str(r["channel_id"]): str(r["role"]) for r in rows if r["channel_id"] is not None}


def _visible_spaces(channel_id: str, user_id: str) -> list[str]:
    """The student's spaces in one channel, by the one visibility rule (SQL
    community_space_visible of migration 0080, which shared.community owns)."""
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        rows = tx.all(
            "SELECT id FROM spaces WHERE channel_id = app_channel_id()"
            " AND community_space_visible(id, CAST(:u AS uuid))",
            u=user_id,
        )
    return [str(r["id"]) for r in rows]
