"""Channel use cases: create, read, update, members and roles, audit log."""

from __future__ import annotations

import json
from typing import Any, cast

from pg8000.native import DatabaseError

from shared.channels.access import check_channel_id, require, signed_in_with_second_factor
from shared.channels.rules import MemberChange, can_assign, removal, removal_permission, role_change
from shared.channels.schemas import (
    Channel,
    ChannelPatch,
    Member,
    MemberPage,
    ThemeTokens,
)
from shared.platform.audit import record_change
from shared.platform.db import UNIQUE_VIOLATION, Tx, sqlstate, transaction
from shared.platform.errors import Conflict, Forbidden, NotFound
from shared.platform.ids import is_uuid, uuid7
from shared.platform.pagination import decode_cursor, page

_CHANNEL_COLS = "id, slug, name, theme, require_second_factor, redirect_origins, created_at"
_NO_OWNER_LEFT = "A channel keeps at least one owner; make someone else owner first."


def _channel_out(row: dict[str, Any]) -> Channel:
    theme = row["theme"]
    return {
        "id": str(row["id"]),
        "slug": row["slug"],
        "name": row["name"],
        "theme": json.loads(theme) if isinstance(theme, str) else theme,
        "require_second_factor": row["require_second_factor"],
        "redirect_origins": list(row["redirect_origins"]),
        "created_at": row["created_at"],
    }


def _one(tx: Tx, sql: str, **params: Any) -> dict[str, Any]:
    """A statement that always answers one row (INSERT/UPDATE ... RETURNING, the channel)."""
    row = tx.one(sql, **params)
    if row is None:
        raise NotFound("No such channel.")
    return row


def create_channel(*, user_id: str, slug: str, name: str, theme: ThemeTokens) -> Channel:
    channel_id = uuid7()
    try:
        with transaction(user_id=user_id) as tx:
            row = _one(
                tx,
                f"INSERT INTO channels (id, slug, name, theme, created_by) VALUES"
                f" (:id, :slug, :name, CAST(:theme AS jsonb), :u) RETURNING {_CHANNEL_COLS}",
                id=channel_id,
                slug=slug,
                name=name,
                theme=json.dumps(theme),
                u=user_id,
            )
            tx.set_channel(channel_id)
            tx.exec(
                "INSERT INTO memberships (channel_id, user_id, role)"
                " VALUES (app_channel_id(), :u, 'owner')",
                u=user_id,
            )
            record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=user_id,
                action="channel.created",
                target_type="channel",
                target_id=channel_id,
                payload={"channel_id": channel_id, "owner_id": user_id, "slug": slug},
                details={"slug": slug},
            )
            _member_event(tx, "member.added", channel_id, user_id, user_id, {"role": "owner"})
    except DatabaseError as e:
        if sqlstate(e) == UNIQUE_VIOLATION:
            raise Conflict("This slug is taken.") from e
        raise
    return _channel_out(row)


def get_channel(*, channel_id: str, user_id: str | None) -> Channel:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.read")
        row = _one(tx, f"SELECT {_CHANNEL_COLS} FROM channels WHERE id = app_channel_id()")
    return _channel_out(row)


def update_channel(*, channel_id: str, user_id: str | None, patch: ChannelPatch) -> Channel:
    """Only the fields the request sent change (a field sent as null keeps its value)."""
    fields = sorted(patch.model_fields_set)
    theme = patch.theme.tokens() if patch.theme is not None else None
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        if patch.require_second_factor and not (
            user_id and signed_in_with_second_factor(tx, user_id)
        ):
            raise Conflict(
                "Sign in with a second factor of your own before requiring one of owners and"
                " admins (POST /v1/auth/second-factor/totp adds one)."
            )
        row = _one(
            tx,
            f"UPDATE channels SET name = coalesce(:name, name),"
            f" theme = coalesce(CAST(:theme AS jsonb), theme),"
            f" require_second_factor = coalesce(:rsf, require_second_factor),"
            f" redirect_origins = coalesce(CAST(:ro AS text[]), redirect_origins),"
            f" updated_at = now() WHERE id = app_channel_id() RETURNING {_CHANNEL_COLS}",
            name=patch.name,
            theme=json.dumps(theme) if theme is not None else None,
            rsf=patch.require_second_factor,
            ro=sorted(set(patch.redirect_origins)) if patch.redirect_origins is not None else None,
        )
        record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="channel.updated",
            target_type="channel",
            target_id=channel_id,
            payload={"channel_id": channel_id, "fields": fields},
            details={"fields": fields},
        )
    return _channel_out(row)


def list_members(
    *, channel_id: str, user_id: str | None, limit: int, cursor: str | None
) -> MemberPage:
    after = decode_cursor(cursor) or {}
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "members.read")
        rows = tx.all(
            "SELECT m.user_id, u.email, u.display_name, m.role FROM memberships m"
            " JOIN users u ON u.id = m.user_id WHERE m.channel_id = app_channel_id()"
            " AND m.user_id > CAST(:after AS uuid) ORDER BY m.user_id LIMIT :n",
            after=after.get("user_id", "00000000-0000-0000-0000-000000000000"),
            n=limit + 1,
        )
    items = [_member_out(r) for r in rows]
    return cast(MemberPage, page(items, limit, lambda r: {"user_id": r["user_id"]}))


def _member_out(row: dict[str, Any]) -> Member:
    return {
        "user_id": str(row["user_id"]),
        "email": row["email"],
        "display_name": row["display_name"],
        "role": row["role"],
    }


def _member_event(
    tx: Tx, action: str, channel_id: str, actor_id: str | None, member_id: str, details: dict
) -> None:
    """A membership change goes to the audit log and, as a domain event, to the outbox."""
    record_change(
        tx,
        channel_id=channel_id,
        actor_user_id=actor_id,
        action=action,
        target_type="user",
        target_id=member_id,
        payload={"user_id": member_id, **details},
        details=details,
    )


def _lock_owners(tx: Tx) -> int:
    """Lock the owner rows so two concurrent demotions cannot both pass the last-owner rule."""
    return len(
        tx.all(
            "SELECT user_id FROM memberships WHERE channel_id = app_channel_id()"
            " AND role = 'owner' FOR UPDATE"
        )
    )


def _member(tx: Tx, member_id: str) -> Member:
    row = tx.one(
        "SELECT m.user_id, u.email, u.display_name, m.role FROM memberships m"
        " JOIN users u ON u.id = m.user_id"
        " WHERE m.channel_id = app_channel_id() AND m.user_id = :m",
        m=member_id,
    )
    if row is None:
        raise NotFound("No such member.")
    return _member_out(row)


def add_member(*, channel_id: str, user_id: str | None, email: str, role: str) -> Member:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        actor = require(tx, user_id, "members.manage")
        if not can_assign(actor, None, role):
            raise Forbidden(f"An {actor} cannot grant the {role} role.")
        target = tx.one(
            "SELECT id FROM users WHERE lower(email) = lower(:e) AND erased_at IS NULL",
            e=email.strip(),
        )
        if target is None:
            raise NotFound("No account with this email; ask them to sign up first.")
        added = tx.one(
            "INSERT INTO memberships (channel_id, user_id, role)"
            " VALUES (app_channel_id(), :u, :r) ON CONFLICT DO NOTHING"
            " RETURNING user_id",
            u=target["id"],
            r=role,
        )
        if added is None:
            raise Conflict("This user is already a member.")
        member_id = str(target["id"])
        _member_event(tx, "member.added", channel_id, user_id, member_id, {"role": role})
        return _member(tx, member_id)


def change_role(*, channel_id: str, user_id: str | None, member_id: str, role: str) -> Member:
    if not is_uuid(member_id):
        raise NotFound("No such member.")
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        actor = require(tx, user_id, "members.manage")
        owners = _lock_owners(tx)
        current = _member(tx, member_id)["role"]
        verdict = role_change(actor=actor, current=current, new=role, owners=owners)
        if verdict is MemberChange.NOT_PERMITTED:
            raise Forbidden(f"An {actor} cannot change a {current} to {role}.")
        if verdict is MemberChange.LAST_OWNER:
            raise Conflict(_NO_OWNER_LEFT)
        tx.exec(
            "UPDATE memberships SET role = :r, updated_at = now()"
            " WHERE channel_id = app_channel_id() AND user_id = :m",
            r=role,
            m=member_id,
        )
        _member_event(
            tx, "member.role_changed", channel_id, user_id, member_id, {"from": current, "to": role}
        )
        return _member(tx, member_id)


def remove_member(*, channel_id: str, user_id: str | None, member_id: str) -> None:
    if not is_uuid(member_id):
        raise NotFound("No such member.")
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        leaving_self = member_id == user_id
        actor = require(tx, user_id, removal_permission(leaving_self=leaving_self))
        owners = _lock_owners(tx)
        current = _member(tx, member_id)["role"]
        verdict = removal(actor=actor, current=current, owners=owners, leaving_self=leaving_self)
        if verdict is MemberChange.NOT_PERMITTED:
            raise Forbidden(f"An {actor} cannot remove a {current}.")
        if verdict is MemberChange.LAST_OWNER:
            raise Conflict("The last owner cannot be removed.")
        tx.exec(
            "DELETE FROM memberships WHERE channel_id = app_channel_id() AND user_id = :m",
            m=member_id,
        )
        _member_event(tx, "member.removed", channel_id, user_id, member_id, {"role": current})
