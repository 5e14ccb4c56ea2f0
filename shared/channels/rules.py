"""Who may do what inside a channel: one table, checked by the use cases on every write."""

from __future__ import annotations

from typing import Literal

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
