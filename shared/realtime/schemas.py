"""Response body of POST /v1/me/realtime-token (API.md "Community")."""

from __future__ import annotations

from pydantic import Field

from shared.platform.models import Out


class RealtimeToken(Out):
    token: str = Field(
        description="A Firebase custom token (RS256 JWT) for signInWithCustomToken. Its claims:"
        " `ch` {channel_id: role code o|a|i|m|s}, `sp` [ids of the course and batch spaces a"
        " student may read]; or `g: 1` when those would not fit, and the same facts are in the"
        " server-written document realtime_grants/{uid}."
    )
    expires_in: int = Field(description="Seconds until the custom token expires (at most 3600)")
