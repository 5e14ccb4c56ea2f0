"""How the caller of this request signed in, as its verified access token says: what the
permission check of a channel that requires a second factor asks. Apart from tokens.py so
that asking reads no signing keys (functions that verify no token do not mount them)."""

from __future__ import annotations

from contextvars import ContextVar

# Who the last access token verified in this context belongs to, and whether its session used
# a second factor.
_session: ContextVar[tuple[str, bool] | None] = ContextVar("access_session", default=None)


def remember(user_id: str, *, second_factor: bool) -> None:
    _session.set((user_id, second_factor))


def session_used_second_factor(user_id: str) -> bool | None:
    """Whether `user_id`'s access token, verified in this request, was issued after a second
    factor; None when no token of theirs was (an in-process caller, a task)."""
    session = _session.get()
    if session is None or session[0] != user_id:
        return None
    return session[1]
