"""Cursor pagination and the JSON shape of stored values, shared by use cases and the web
toolkit: a cursor is the sort key of the last item, base64url JSON, opaque to clients."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from shared.platform.errors import Unprocessable


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, default=to_json, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, UnicodeDecodeError) as e:
        raise Unprocessable(
            "Invalid cursor.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
        ) from e


def page(
    items: list[Any], limit: int, cursor_of: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """`items` was fetched with LIMIT limit+1; the extra row only says there is a next page."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(cursor_of(items[-1])) if more else None}
