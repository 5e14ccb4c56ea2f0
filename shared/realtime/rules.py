"""The realtime projection's decisions and the custom token's claims. Pure: no I/O.

Firestore holds a projection of the community (never the system of record) at the paths
API.md fixes. Every domain event becomes a few operations on documents (`ops_for_event`);
each operation is judged against the document's versions record (`decide`), which the
projection keeps beside the document in `projection_versions` (a collection no client rule
opens). The record is what makes the projection converge whatever the delivery order:

- a document's content (`Upsert`/`Delete`) carries the row's version: an event at or below the
  recorded version is a duplicate or arrived late and changes nothing, so an older create never
  brings back a removed post (the record keeps `deleted` and the version of the removal);
- counts and read marks (`Facet`) have versions of their own (a post's reactions version, a
  notification's read version) and are kept in the record too: a reaction that arrives before
  its post is applied when the post lands, and a post written later carries the counts.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

# -- documents ----------------------------------------------------------------------------------

VERSIONS_COLLECTION = "projection_versions"
GRANTS_COLLECTION = "realtime_grants"

POST_FIELDS = ("title", "body_html", "author", "pinned", "created_at", "updated_at")
COMMENT_FIELDS = ("parent_id", "body_html", "author", "created_at", "updated_at")
NOTIFICATION_FIELDS = ("kind", "title", "body", "link", "actor", "created_at")

EVENT_TYPES: tuple[str, ...] = (
    "post.created",
    "post.updated",
    "post.restored",
    "post.removed",
    "comment.created",
    "comment.updated",
    "comment.restored",
    "comment.removed",
    "reaction.created",
    "reaction.removed",
    "notification.created",
    "notification.read",
    "member.banned",
    "member.unbanned",
)


@dataclass(frozen=True)
class Upsert:
    """Write the whole document (its content), if `version` is newer than the recorded one."""

    path: str
    version: int
    data: dict[str, Any]


@dataclass(frozen=True)
class Delete:
    """Remove the document, if `version` is newer; the record keeps the removal's version."""

    path: str
    version: int


@dataclass(frozen=True)
class Facet:
    """Fields versioned apart from the content (reaction counts, read marks)."""

    path: str
    name: str
    version: int
    fields: dict[str, Any]


Op = Upsert | Delete | Facet


def post_path(channel_id: str, space_id: str, post_id: str) -> str:
    return f"channels/{channel_id}/spaces/{space_id}/posts/{post_id}"


def comment_path(channel_id: str, space_id: str, post_id: str, comment_id: str) -> str:
    return post_path(channel_id, space_id, post_id) + f"/comments/{comment_id}"


def notification_path(user_id: str, notification_id: str) -> str:
    return f"users/{user_id}/notifications/{notification_id}"


def ban_path(channel_id: str, user_id: str) -> str:
    return f"channels/{channel_id}/bans/{user_id}"


def person_of(path: str) -> str | None:
    """The person a document is about (their notifications, their ban), for the privacy
    export and erasure, which find a person's records by a `user_id` field."""
    parts = path.split("/")
    if parts[0] == "users":
        return parts[1]
    if len(parts) == 4 and parts[2] == "bans":
        return parts[3]
    return None


def record_id(path: str) -> str:
    """The versions record's document id: the path, flattened (ids are UUIDs, never `~`)."""
    return path.replace("/", "~")


# -- events -> operations -----------------------------------------------------------------------


class Malformed(ValueError):
    """An event that will never project: acked and logged, never retried."""


def _uuid(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise Malformed(f"{key} is not a UUID") from None


def _version(data: dict[str, Any], key: str = "version") -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Malformed(f"{key} must be a positive integer")
    return value


def _micros(occurred_at: Any) -> int:
    """Events with no row version (bans) are ordered by when they committed."""
    try:
        at = datetime.fromisoformat(str(occurred_at))
    except ValueError:
        raise Malformed("occurred_at is not a timestamp") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1_000_000)


def _timestamp(value: Any) -> datetime | None:
    """Rules compare ban ends with `request.time`: they must be Firestore timestamps."""
    if value in (None, ""):
        return None
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise Malformed("ends_at is not a timestamp") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: data.get(k) for k in keys}


def ops_for_event(envelope: Any) -> list[Op] | None:
    """The operations a domain event asks of the projection; None when it projects nothing.
    Raises Malformed when the event is one of ours but can never be projected."""
    if not isinstance(envelope, dict):
        raise Malformed("the envelope is not an object")
    kind = str(envelope.get("type", ""))
    if kind not in EVENT_TYPES:
        return None
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    data = {**data, "channel_id": envelope.get("channel_id", data.get("channel_id"))}
    entity, action = kind.split(".", 1)
    if entity == "post":
        return [_post_op(data, action)]
    if entity == "comment":
        return [_comment_op(data, action)]
    if entity == "reaction":
        return [_reaction_op(data)]
    if entity == "notification":
        return _notification_ops(data, action, envelope.get("occurred_at"))
    return [_ban_op(data, action, envelope.get("occurred_at"))]


def _shown(data: dict[str, Any], action: str) -> bool:
    """Only visible content is projected: an edit or a pin of a hidden, removed or deleted row
    (its payload says its status) must not bring it back."""
    return action != "removed" and data.get("status", "visible") == "visible"


def _post_op(data: dict[str, Any], action: str) -> Op:
    c, s, p = _uuid(data, "channel_id"), _uuid(data, "space_id"), _uuid(data, "post_id")
    path, version = post_path(c, s, p), _version(data)
    if not _shown(data, action):
        return Delete(path, version)
    doc = {"post_id": p, "space_id": s, "channel_id": c, **_pick(data, POST_FIELDS)}
    return Upsert(path, version, {**doc, "version": version})


def _comment_op(data: dict[str, Any], action: str) -> Op:
    c, s, p = _uuid(data, "channel_id"), _uuid(data, "space_id"), _uuid(data, "post_id")
    cm = _uuid(data, "comment_id")
    path, version = comment_path(c, s, p, cm), _version(data)
    if not _shown(data, action):
        return Delete(path, version)
    doc = {"comment_id": cm, "post_id": p, "space_id": s, "channel_id": c}
    return Upsert(path, version, {**doc, **_pick(data, COMMENT_FIELDS), "version": version})


def _reaction_op(data: dict[str, Any]) -> Op:
    c, s, p = _uuid(data, "channel_id"), _uuid(data, "space_id"), _uuid(data, "post_id")
    counts = data.get("counts")
    if not isinstance(counts, dict) or not all(
        isinstance(k, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0
        for k, n in counts.items()
    ):
        raise Malformed("counts must map reaction kinds to counts")
    clean = {k: n for k, n in counts.items() if n > 0}
    return Facet(post_path(c, s, p), "reactions", _version(data), {"reactions": clean})


def _notification_ops(data: dict[str, Any], action: str, occurred_at: Any) -> list[Op]:
    user = _uuid(data, "user_id")
    version = _version(data)
    if action == "created":
        n = _uuid(data, "notification_id")
        doc = {"notification_id": n, "channel_id": data.get("channel_id")}
        doc |= _pick(data, NOTIFICATION_FIELDS) | {"read": False, "read_at": None}
        return [Upsert(notification_path(user, n), version, {**doc, "version": version})]
    ids = data.get("notification_ids")
    if not isinstance(ids, list) or not ids:
        raise Malformed("notification_ids must be a non-empty list")
    read = {"read": True, "read_at": str(occurred_at) if occurred_at else None}
    return [
        Facet(notification_path(user, _uuid({"id": i}, "id")), "read", version, read) for i in ids
    ]


def _ban_op(data: dict[str, Any], action: str, occurred_at: Any) -> Op:
    c, u = _uuid(data, "channel_id"), _uuid(data, "user_id")
    version = _micros(occurred_at)
    if action == "unbanned":
        return Delete(ban_path(c, u), version)
    doc = {"user_id": u, "ends_at": _timestamp(data.get("ends_at")), "version": version}
    return Upsert(ban_path(c, u), version, doc)


# -- the versions record ------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What the projection remembers of one document, live or removed."""

    version: int = 0
    deleted: bool = False
    facets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {version, fields}

    @property
    def live(self) -> bool:
        return self.version > 0 and not self.deleted

    def to_doc(self) -> dict[str, Any]:
        return {"version": self.version, "deleted": self.deleted, "facets": self.facets}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Record:
        if not doc:
            return cls()
        return cls(int(doc.get("version", 0)), bool(doc.get("deleted")), doc.get("facets") or {})

    def facet_fields(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name in sorted(self.facets):
            merged |= self.facets[name].get("fields") or {}
        return merged


@dataclass(frozen=True)
class Write:
    data: dict[str, Any]


@dataclass(frozen=True)
class Update:
    fields: dict[str, Any]


@dataclass(frozen=True)
class Remove:
    pass


Action = Write | Update | Remove


@dataclass(frozen=True)
class Decision:
    record: Record
    action: Action | None  # None: only the record changes (a facet of a document not yet live)


def decide(record: Record, op: Op) -> Decision | None:
    """What to do with `op` given the document's record; None: stale or duplicate, nothing."""
    if isinstance(op, Facet):
        seen = record.facets.get(op.name, {}).get("version", 0)
        if op.version <= seen:
            return None
        facets = {**record.facets, op.name: {"version": op.version, "fields": op.fields}}
        new = replace(record, facets=facets)
        return Decision(new, Update(op.fields) if record.live else None)
    if op.version <= record.version:
        return None
    if isinstance(op, Delete):
        was_live = record.live
        return Decision(replace(record, version=op.version, deleted=True),
                        Remove() if was_live else None)  # fmt: skip
    data = {**op.data, **record.facet_fields()}
    return Decision(replace(record, version=op.version, deleted=False), Write(data))


# -- custom token claims ------------------------------------------------------------------------

# Firebase refuses custom claims over 1000 bytes; keep a margin for the JSON framing.
CLAIMS_BUDGET = 900
ROLE_CODES = {"owner": "o", "admin": "a", "instructor": "i", "moderator": "m", "student": "s"}
STAFF_CODES = frozenset({"o", "a", "i", "m"})  # firestore.rules: staff read every space


def claims_for(
    *, roles: dict[str, str], spaces: dict[str, list[str]]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The token's claims: `ch` {channel_id: role code}, `sp` [space ids a student may read]
    (staff read every space of their channel by role). When that would not fit Firebase's
    claims limit, the claims say `g: 1` and the same facts go to the caller's grants document
    (returned second), which the rules read with get()."""
    ch = {c: ROLE_CODES[r] for c, r in sorted(roles.items()) if r in ROLE_CODES}
    sp = sorted({s for c, ids in spaces.items() if ch.get(c) == "s" for s in ids})
    claims: dict[str, Any] = {"ch": ch, "sp": sp}
    if claims_size(claims) <= CLAIMS_BUDGET:
        return claims, None
    return {"g": 1}, {"ch": ch, "sp": dict.fromkeys(sp, True)}


def claims_size(claims: dict[str, Any]) -> int:
    return len(json.dumps(claims, separators=(",", ":")).encode())
