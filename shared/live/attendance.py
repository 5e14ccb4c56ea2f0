"""Attendance of a batch's live classes, from the participant events Zoom's webhooks stored.

Nothing is precomputed: each read pairs the stored joins and leaves per device and unions them
per person (attendance_rules), so a late, duplicated or reordered delivery can never leave a
wrong total behind. Students are the batch's enrollments, matched by Zoom registrant id, else
by email (case-insensitive); devices nobody matches are guests, listed apart.

Only staff (`live.view_any`) read attendance; a non-member gets 404, another member 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.channels import check_channel_id, require
from shared.live import attendance_rules as rules
from shared.platform.db import Tx, transaction
from shared.platform.errors import NotFound
from shared.platform.ids import is_uuid

_SESSIONS = (
    "SELECT id, title, starts_at, duration_minutes, status, started_at, ended_at"
    " FROM live_sessions WHERE batch_id = :b AND channel_id = app_channel_id()"
    " AND status <> 'cancelled'"
)


@dataclass
class _Batch:
    threshold: int
    sessions: list[dict[str, Any]]
    students: list[dict[str, Any]]  # user_id, display_name, email
    rows: dict[str, list[rules.Row]]  # session id -> participant rows
    registrants: dict[str, dict[str, str]]  # session id -> registrant id -> user id


def _load(tx: Tx, batch_id: str, session_id: str | None = None) -> _Batch:
    if not is_uuid(batch_id) or not tx.scalar(
        "SELECT 1 FROM batches WHERE id = :b AND channel_id = app_channel_id()", b=batch_id
    ):
        raise NotFound("No such batch.")
    sessions = tx.all(
        _SESSIONS + (" AND id = :s" if session_id else "") + " ORDER BY starts_at, id",
        b=batch_id,
        **({"s": session_id} if session_id else {}),
    )
    if session_id and not sessions:
        raise NotFound("No such live session.")
    ids = [str(s["id"]) for s in sessions]
    students = tx.all(
        "SELECT e.user_id, u.display_name, u.email FROM enrollments e"
        " JOIN users u ON u.id = e.user_id"
        " WHERE e.batch_id = :b AND e.channel_id = app_channel_id()"
        " ORDER BY lower(u.display_name), e.user_id",
        b=batch_id,
    )
    rows: dict[str, list[rules.Row]] = {i: [] for i in ids}
    registrants: dict[str, dict[str, str]] = {i: {} for i in ids}
    if ids:
        for e in tx.all(
            "SELECT session_id, device_key, kind, at, registrant_id, email, display_name"
            " FROM live_participant_events WHERE channel_id = app_channel_id()"
            " AND session_id = ANY(CAST(:ids AS uuid[]))",
            ids=ids,
        ):
            rows[str(e["session_id"])].append(
                rules.Row(
                    e["device_key"],
                    e["kind"],
                    e["at"],
                    e["registrant_id"],
                    e["email"],
                    e["display_name"],
                )
            )
        for g in tx.all(
            "SELECT session_id, registrant_id, user_id FROM live_registrants"
            " WHERE channel_id = app_channel_id() AND session_id = ANY(CAST(:ids AS uuid[]))",
            ids=ids,
        ):
            registrants[str(g["session_id"])][g["registrant_id"]] = str(g["user_id"])
    threshold = tx.scalar(
        "SELECT live_attendance_threshold_pct FROM channels WHERE id = app_channel_id()"
    )
    for s in students:
        s["user_id"] = str(s["user_id"])
    return _Batch(
        int(threshold or rules.DEFAULT_THRESHOLD_PCT), sessions, students, rows, registrants
    )


def _session_figures(b: _Batch, s: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """One row per student of the batch (absent ones with 0 s), then one per guest device."""
    sid = str(s["id"])
    opened, closed = rules.window(
        scheduled_start=s["starts_at"],
        started_at=s["started_at"],
        ended_at=s["ended_at"],
        duration_minutes=s["duration_minutes"],
        now=now,
    )
    emails = {str(u["email"]).lower(): u["user_id"] for u in b.students}
    known = {u["user_id"] for u in b.students}
    registrants = {k: v for k, v in b.registrants[sid].items() if v in known}
    by_student, guests = rules.attribute(b.rows[sid], registrants=registrants, emails=emails)

    def figures(rows: Sequence[rules.Row]) -> dict[str, Any]:
        secs = rules.seconds_of(rows, opened_at=opened, closed_at=closed)
        joins = [r.at for r in rows if r.kind == "join"]
        leaves = [r.at for r in rows if r.kind == "leave"]
        return {
            "attended_seconds": secs,
            "attended": rules.attended(secs, s["duration_minutes"], b.threshold),
            "first_join_at": min(joins) if joins else None,
            "last_leave_at": max(leaves) if leaves else None,
        }

    out = [
        {
            "user_id": u["user_id"],
            "display_name": u["display_name"],
            "email": u["email"],
            "guest": False,
            **figures(by_student.get(u["user_id"], [])),
        }
        for u in b.students
    ]
    for device, rows in sorted(guests.items()):
        named = next((r for r in rows if r.display_name or r.email), None)
        out.append(
            {
                "user_id": None,
                "display_name": named.display_name if named else device,
                "email": named.email if named else None,
                "guest": True,
                **figures(rows),
            }
        )
    return out


def _now() -> datetime:
    return datetime.now(UTC)


def session_attendance(
    *, channel_id: str, user_id: str, batch_id: str, session_id: str
) -> dict[str, Any]:
    """Each student's attended seconds and flag for one session, then the guests apart."""
    if not is_uuid(session_id):
        raise NotFound("No such live session.")
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "live.view_any")
        b = _load(tx, batch_id, session_id)
    return {"items": _session_figures(b, b.sessions[0], _now()), "next_cursor": None}


def _batch_figures(b: _Batch) -> dict[str, Any]:
    now = _now()
    per_session = [(s, _session_figures(b, s, now)) for s in b.sessions]
    ended = [(s, rows) for s, rows in per_session if s["status"] == "ended"]
    sessions = []
    for s, rows in per_session:
        students = [r for r in rows if not r["guest"]]
        counted = s["status"] in ("live", "ended")
        present = sum(r["attended"] for r in students)
        sessions.append(
            {
                "session_id": str(s["id"]),
                "title": s["title"],
                "starts_at": s["starts_at"],
                "status": s["status"],
                "attendance_rate": rules.rate(present, len(students)) if counted else None,
            }
        )
    students_out = []
    for u in b.students:
        n = sum(
            1 for _, rows in ended for r in rows if r["user_id"] == u["user_id"] and r["attended"]
        )
        students_out.append(
            {
                "user_id": u["user_id"],
                "display_name": u["display_name"],
                "sessions_attended": n,
                "attendance_rate": rules.rate(n, len(ended)),
            }
        )
    return {"sessions": sessions, "students": students_out, "per_session": per_session}


def batch_attendance(*, channel_id: str, user_id: str, batch_id: str) -> dict[str, Any]:
    """Per session: the share of students present (null until it starts); per student: the
    ended sessions attended and their share."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "live.view_any")
        b = _load(tx, batch_id)
    figures = _batch_figures(b)
    return {"sessions": figures["sessions"], "students": figures["students"]}


CSV_COLUMNS = (
    "session_id",
    "session_title",
    "starts_at",
    "status",
    "user_id",
    "display_name",
    "email",
    "attended_seconds",
    "attended",
    "first_join_at",
    "last_leave_at",
)


def batch_attendance_csv(*, channel_id: str, user_id: str, batch_id: str) -> dict[str, str]:
    """One row per student and session (guests left out), cells safe for spreadsheets."""
    from shared import analytics  # its CSV writer: formula-injection-safe cells, RFC 4180

    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "live.view_any")
        b = _load(tx, batch_id)
    figures = _batch_figures(b)
    rows = [
        [
            str(s["id"]),
            s["title"],
            s["starts_at"].isoformat(),
            s["status"],
            r["user_id"],
            r["display_name"],
            r["email"],
            r["attended_seconds"],
            "yes" if r["attended"] else "no",
            r["first_join_at"].isoformat() if r["first_join_at"] else None,
            r["last_leave_at"].isoformat() if r["last_leave_at"] else None,
        ]
        for s, per in figures["per_session"]
        for r in per
        if not r["guest"]
    ]
    return {
        "filename": f"attendance-{batch_id}.csv",
        "body": analytics.to_csv(CSV_COLUMNS, rows),
    }


def student_attendance_rate(channel_id: UUID, batch_id: UUID, user_id: UUID) -> float | None:
    """Ended sessions of the batch the student attended / ended sessions of the batch; None
    when none has ended. For other capabilities (the batch certificate rule): no caller check."""
    with transaction(channel_id=str(channel_id)) as tx:
        b = _load(tx, str(batch_id))
    b.sessions = [s for s in b.sessions if s["status"] == "ended"]
    if not b.sessions:
        return None
    uid = str(user_id)
    if uid not in {u["user_id"] for u in b.students}:
        return 0.0  # not a student of this batch: attended none of its sessions
    now = _now()
    attended = sum(
        1
        for s in b.sessions
        for r in _session_figures(b, s, now)
        if r["user_id"] == uid and r["attended"]
    )
    return rules.rate(attended, len(b.sessions))


def batch_attendance_counts(
    tx: Tx, *, lo: datetime, hi: datetime, course_id: str | None, batch_id: str | None
) -> list[dict[str, Any]]:
    """Per batch of the caller's channel (optionally one course or batch), the student-sessions
    attended and expected over the sessions that ended in [lo, hi): expected = active students
    x those sessions. The same attended flag as the batch report (one rule, computed here);
    for other capabilities (analytics' summary) inside their tenant transaction: no caller
    check."""
    batches = tx.all(
        "SELECT DISTINCT s.batch_id FROM live_sessions s"
        " WHERE s.channel_id = app_channel_id() AND s.status = 'ended'"
        " AND coalesce(s.ended_at, s.starts_at) >= :lo AND coalesce(s.ended_at, s.starts_at) < :hi"
        " AND (CAST(:batch AS uuid) IS NULL OR s.batch_id = CAST(:batch AS uuid))"
        " AND (CAST(:course AS uuid) IS NULL OR s.batch_id IN (SELECT id FROM batches"
        "  WHERE course_id = CAST(:course AS uuid) AND channel_id = app_channel_id()))"
        " ORDER BY s.batch_id",
        lo=lo,
        hi=hi,
        course=course_id,
        batch=batch_id,
    )
    now = _now()
    out = []
    for row in batches:
        bid = str(row["batch_id"])
        b = _load(tx, bid)
        active = {
            str(r["user_id"])
            for r in tx.all(
                "SELECT user_id FROM enrollments WHERE batch_id = :b"
                " AND channel_id = app_channel_id() AND status = 'active'",
                b=bid,
            )
        }
        ended = [
            s
            for s in b.sessions
            if s["status"] == "ended" and lo <= (s["ended_at"] or s["starts_at"]) < hi
        ]
        attended = sum(
            1
            for s in ended
            for r in _session_figures(b, s, now)
            if r["user_id"] in active and r["attended"]
        )
        out.append({"batch_id": bid, "attended": attended, "expected": len(active) * len(ended)})
    return out
