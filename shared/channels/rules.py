"""Who may do what inside a channel: one table, checked by the use cases on every write;
and the rules of membership changes. Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

Role = Literal["owner", "admin", "instructor", "moderator", "student"]
ROLES: tuple[Role, ...] = ("owner", "admin", "instructor", "moderator", "student")
RANK: dict[str, int] = {"owner": 5, "admin": 4, "instructor": 3, "moderator": 2, "student": 1}

ALL = frozenset(ROLES)
STAFF = frozenset({"owner", "admin", "instructor", "moderator"})
MANAGERS = frozenset({"owner", "admin"})
AUTHORS = frozenset({"owner", "admin", "instructor"})

POLICY: dict[str, frozenset[str]] = {
    "channel.read": ALL,
    "channel.update": MANAGERS,
    "members.read": STAFF,
    "members.manage": MANAGERS,
    "audit.read": MANAGERS,
    "course.read": ALL,
    "course.read_drafts": STAFF,
    "course.write": AUTHORS,
    "course.publish": AUTHORS,
    "batch.write": AUTHORS,
    "live.view_any": STAFF,  # every live class of the channel, with its join link
    "live.host": AUTHORS,  # the host's start link; schedule and cancel go with batch.write
    "upload.create": AUTHORS,
    "upload.read": AUTHORS,
    "lesson.watch": ALL,
    "lesson.watch_any": STAFF,  # staff preview without enrolling
    "enrollment.create": ALL,
    "analytics.read": AUTHORS,
    "billing.manage": MANAGERS,
    "billing.onboard": frozenset({"owner"}),
    "disputes.read": MANAGERS,
    "certificates.read": STAFF,  # the channel's issued certificates
    "certificates.revoke": MANAGERS,
    "webhooks.manage": MANAGERS,  # outbound webhook endpoints, their deliveries and replays
    "community.post": ALL,
    "community.moderate": STAFF,
}


def allows(role: str | None, action: str) -> bool:
    return role is not None and role in POLICY[action]


def can_assign(actor: str, current: str | None, new: str | None) -> bool:
    """Managers change roles below their own; owner and admin seats are the owner's to give."""
    if actor == "owner":
        return True
    if actor != "admin":
        return False
    return all(r is None or RANK[r] < RANK["admin"] for r in (current, new))


class MemberChange(StrEnum):
    """The verdict on a membership change (role change or removal)."""

    ALLOWED = "allowed"
    NOT_PERMITTED = "not_permitted"  # 403: the actor's role cannot touch this seat
    LAST_OWNER = "last_owner"  # 409: a channel keeps at least one owner


def role_change(*, actor: str, current: str, new: str, owners: int) -> MemberChange:
    """May `actor` turn a `current` member into `new`, with `owners` owners in the channel?"""
    if not can_assign(actor, current, new):
        return MemberChange.NOT_PERMITTED
    if current == "owner" and new != "owner" and owners <= 1:
        return MemberChange.LAST_OWNER
    return MemberChange.ALLOWED


def removal(*, actor: str, current: str, owners: int, leaving_self: bool) -> MemberChange:
    """May `actor` remove a `current` member (themselves when `leaving_self`)?"""
    if not leaving_self and not can_assign(actor, current, None):
        return MemberChange.NOT_PERMITTED
    if current == "owner" and owners <= 1:
        return MemberChange.LAST_OWNER
    return MemberChange.ALLOWED


def removal_permission(*, leaving_self: bool) -> str:
    """Anyone may leave a channel they can read; removing someone else is members.manage."""
    return "channel.read" if leaving_self else "members.manage"


SECOND_FACTOR_ROLES = MANAGERS  # who holds payouts, refunds and members


def second_factor_applies(*, role: str, action: str, channel_requires: bool) -> bool:
    """A channel may require owners and admins to have a second factor: without one they can
    still read the channel (and leave it), nothing more."""
    return channel_requires and role in SECOND_FACTOR_ROLES and action != "channel.read"


REDIRECT_ORIGINS_MAX = 10


def redirect_origin(value: str) -> str:
    """A channel's redirect origin as stored: `https://host[:port]`, lower-cased, the default
    port dropped. Checkout and onboarding links may send buyers back only to these (and to the
    platform's own origin), so anything else is refused: http, a path, a query, credentials."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as e:
        raise ValueError("not a URL") from e
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("must be an https origin, e.g. https://school.example.com")
    if parts.username or parts.password or parts.path not in ("", "/") or parts.query:
        raise ValueError("an origin only: https://host[:port], no path, query or credentials")
    if parts.fragment:
        raise ValueError("an origin only: https://host[:port], no fragment")
    host = parts.hostname.lower()
    return f"https://{host}" if port in (None, 443) else f"https://{host}:{port}"
