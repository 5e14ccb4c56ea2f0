"""The channel's audit log for its owners and admins: filtered by time, actor and action,
paged by cursor (newest first), as JSON or as a CSV export, with the result of verifying the
channel's whole hash chain (a field in JSON, headers with CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from shared.channels import check_channel_id, require
from shared.platform.audit import verify_chain
from shared.platform.db import transaction
from shared.platform.pagination import decode_cursor, page
from shared.privacy import rules

CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "action",
    "actor_user_id",
    "target_type",
    "target_id",
    "request_id",
    "details",
    "hash",
)
TOP = 2**62
EXPORT_PAGE = 500


def _filters(
    frm: datetime | None, to: datetime | None, actor: str | None, action: str | None
) -> tuple[str, dict[str, Any]]:
    sql = ""
    params: dict[str, Any] = {}
    if frm is not None:
        sql += " AND a.occurred_at >= :frm"
        params["frm"] = frm
    if to is not None:
        sql += " AND a.occurred_at < :to"
        params["to"] = to
    if actor is not None:
        sql += " AND a.actor_user_id = CAST(:actor AS uuid)"
        params["actor"] = actor
    if action is not None:
        # a trailing `.*` selects a family (`member.*`)
        if action.endswith(".*"):
            sql += " AND a.action LIKE :action ESCAPE '\\'"
            params["action"] = action[:-1].replace("%", "\\%").replace("_", "\\_") + "%"
        else:
            sql += " AND a.action = :action"
            params["action"] = action
    return sql, params


def _rows(tx: Any, before: int, n: int, where: str, params: dict[str, Any]) -> list[dict]:
    rows = tx.all(
        "SELECT a.seq, a.action, a.actor_user_id, a.target_type, a.target_id, a.request_id,"
        " a.details, a.occurred_at, encode(a.hash, 'hex') AS hash, p.data AS personal"
        " FROM audit_log a LEFT JOIN audit_personal_data p"
        "   ON p.ref = CAST(nullif(a.details->>'ip_ref', '') AS uuid)"
        " WHERE a.channel_id = app_channel_id() AND a.seq < :before"
        + where
        + " ORDER BY a.seq DESC LIMIT :n",
        before=before,
        n=n,
        **params,
    )
    return [_out(r) for r in rows]


def _out(r: dict[str, Any]) -> dict[str, Any]:
    details = r["details"]
    details = json.loads(details) if isinstance(details, str) else dict(details or {})
    personal = r.pop("personal", None)
    if personal:
        personal = json.loads(personal) if isinstance(personal, str) else personal
        details.update(personal)  # the address, while it is kept
    return {
        "seq": r["seq"],
        "action": r["action"],
        "actor_user_id": str(r["actor_user_id"]) if r["actor_user_id"] else None,
        "target_type": r["target_type"],
        "target_id": r["target_id"],
        "request_id": r["request_id"],
        "details": details,
        "occurred_at": r["occurred_at"],
        "hash": r["hash"],
    }


def audit_log(
    *,
    channel_id: str,
    user_id: str | None,
    limit: int,
    cursor: str | None,
    frm: datetime | None = None,
    to: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    after = decode_cursor(cursor) or {}
    where, params = _filters(frm, to, actor, action)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "audit.read")
        broken = verify_chain(tx, check_channel_id(channel_id))
        items = _rows(tx, int(after.get("seq", TOP)), limit + 1, where, params)
    out = page(items, limit, lambda r: {"seq": r["seq"]})
    return {**out, "chain_verified": broken is None, "chain_broken_at": broken}


def audit_csv(
    *,
    channel_id: str,
    user_id: str | None,
    frm: datetime | None = None,
    to: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> tuple[Iterator[str], dict[str, str]]:
    """Every matching row, newest first, as CSV lines produced page by page; and the headers
    carrying the chain's verification."""
    channel_id = check_channel_id(channel_id)
    where, params = _filters(frm, to, actor, action)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "audit.read")
        broken = verify_chain(tx, channel_id)
    headers = {
        "X-Audit-Chain-Verified": "true" if broken is None else "false",
        "Content-Disposition": f'attachment; filename="audit-log-{channel_id}.csv"',
    }
    if broken is not None:
        headers["X-Audit-Chain-Broken-At"] = str(broken)

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        before = TOP
        while True:
            with transaction(channel_id=channel_id, user_id=user_id) as tx:
                rows = _rows(tx, before, EXPORT_PAGE, where, params)
            for r in rows:
                w.writerow([rules.csv_cell(_cell(r[c])) for c in CSV_COLUMNS])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if len(rows) < EXPORT_PAGE:
                return
            before = rows[-1]["seq"]

    return lines(), headers


def _cell(v: Any) -> Any:
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, default=str)
    if isinstance(v, datetime):
        return v.isoformat()
    return v
