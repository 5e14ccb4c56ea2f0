"""Creator KPIs of a channel (issue 14, item 2): the summary and its CSV export.

Figures include events up to the moment of the request: the daily rollups (UTC days, kept
by the maintenance cron; read per course from `analytics_daily_courses`, migration 0061) hold
every event up to `analytics_settled_until()`,
and the raw events after that point (the tail, minutes of them) are added in the same
statement, so both come from one snapshot. Rollups are by UTC day: a period in another time
zone, or filtered by batch (events carry no batch: its students' events of its course count),
is read from the raw events of the period instead. Enrollments are those started in the
period; revenue is read from the ledger (integer minor units, per currency).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared import channels
from shared.analytics import rules
from shared.analytics.schemas import Csv, ExportQuery, SettingsIn, SummaryQuery
from shared.platform import audit
from shared.platform.db import Row, Tx, transaction
from shared.platform.errors import NotFound, Unprocessable
from shared.platform.ids import is_uuid

# lesson.watched: one per player session (0103); lesson.heartbeat: one per beat, before it.
TYPES = (
    "('lesson.watched', 'lesson.heartbeat', 'lesson.completed', 'course.completed',"
    " 'resource.downloaded')"
)
WATCH = (
    "coalesce(sum(CASE WHEN jsonb_typeof(e.metadata->'watch_seconds') = 'number'"
    " THEN (e.metadata->>'watch_seconds')::numeric END), 0)"
)
COURSE = "(CAST(:course AS uuid) IS NULL OR {col} = CAST(:course AS uuid))"
EVENT_FILTER = (
    f"e.channel_id = app_channel_id() AND e.event_type IN {TYPES}"
    " AND e.occurred_at >= :lo AND e.occurred_at < :hi"
    " AND " + COURSE.format(col="analytics_uuid_or_null(e.metadata->>'course_id')")
)

BATCH_USERS = (
    "SELECT en.user_id FROM enrollments en"
    " WHERE en.channel_id = app_channel_id() AND en.batch_id = CAST(:batch AS uuid)"
)
# Watch time of player sessions not yet reported as a `lesson.watched` event (migration
# 0103): on the day of their last beat. The reporter moves the seconds from here into its
# event in one transaction, so a statement sees them in one place or the other, never both.
OPEN_SESSIONS_SQL = f"""
SELECT (w.last_seen_at AT TIME ZONE :tz)::date AS day, 'lesson.watched' AS event_type,
       0::bigint AS events, sum(w.watch_seconds - w.reported_seconds) AS watch_seconds
  FROM watch_sessions w
  JOIN lessons l ON l.id = w.lesson_id AND l.channel_id = app_channel_id()
 WHERE w.channel_id = app_channel_id() AND w.watch_seconds > w.reported_seconds
   AND w.last_seen_at >= :lo AND w.last_seen_at < :hi
   AND {COURSE.format(col="l.course_id")}
   AND (CAST(:batch AS uuid) IS NULL OR w.user_id IN ({BATCH_USERS}))
 GROUP BY 1
"""

# UTC days without a batch: rollups, plus the raw events after the rollups' settled point.
ROLLED_EVENTS_SQL = f"""
SELECT day, event_type, sum(events)::bigint AS events, sum(watch_seconds) AS watch_seconds
  FROM (SELECT d.day, d.event_type, d.events, d.watch_seconds
          FROM analytics_daily_courses d
         WHERE d.channel_id = app_channel_id() AND d.event_type IN {TYPES}
           AND d.day BETWEEN :d0 AND :d1 AND {COURSE.format(col="d.course_id")}
        UNION ALL
        SELECT (e.occurred_at AT TIME ZONE 'UTC')::date, e.event_type, count(*), {WATCH}
          FROM analytics_events e
         WHERE {EVENT_FILTER} AND e.occurred_at > (SELECT analytics_settled_until())
         GROUP BY 1, 2
        UNION ALL
        {OPEN_SESSIONS_SQL}) AS figures
 GROUP BY 1, 2
"""

# Any time zone, any filter: the raw events of the period.
RAW_EVENTS_SQL = f"""
SELECT (e.occurred_at AT TIME ZONE :tz)::date AS day, e.event_type,
       count(*) AS events, {WATCH} AS watch_seconds
  FROM analytics_events e
 WHERE {EVENT_FILTER}
   AND (CAST(:batch AS uuid) IS NULL OR e.user_id IN ({BATCH_USERS}))
 GROUP BY 1, 2
UNION ALL
{OPEN_SESSIONS_SQL}
"""

ENROLLMENTS_SQL = f"""
SELECT (en.created_at AT TIME ZONE :tz)::date AS day, count(*) AS enrollments
  FROM enrollments en
 WHERE en.channel_id = app_channel_id() AND en.created_at >= :lo AND en.created_at < :hi
   AND {COURSE.format(col="en.course_id")}
   AND (CAST(:batch AS uuid) IS NULL OR en.batch_id = CAST(:batch AS uuid))
 GROUP BY 1
"""

LEDGER_SQL = f"""
SELECT (l.occurred_at AT TIME ZONE :tz)::date AS day, l.currency, l.kind,
       sum(l.amount)::bigint AS amount
  FROM ledger_entries l
  LEFT JOIN payments p ON p.id = l.payment_id
 WHERE l.channel_id = app_channel_id() AND l.occurred_at >= :lo AND l.occurred_at < :hi
   AND l.kind IN ({", ".join(f"'{k}'" for k in rules.REVENUE_KINDS)})
   AND {COURSE.format(col="coalesce(l.course_id, p.course_id)")}
   AND (CAST(:batch AS uuid) IS NULL OR p.batch_id = CAST(:batch AS uuid))
 GROUP BY 1, 2, 3
"""


# Issued certificates and views of certificates, per local day. A certificate belongs to the
# batch its holder is enrolled in for its course.
CERT_BATCH = """(CAST(:batch AS uuid) IS NULL OR EXISTS (
        SELECT 1 FROM enrollments en WHERE en.channel_id = app_channel_id()
           AND en.user_id = z.user_id AND en.course_id = z.course_id
           AND en.batch_id = CAST(:batch AS uuid)))"""
CERTIFICATES_SQL = f"""
SELECT day, sum(issued)::bigint AS issued, sum(views)::bigint AS views
  FROM (SELECT (z.issued_at AT TIME ZONE :tz)::date AS day, 1 AS issued, 0 AS views
          FROM certificates z
         WHERE z.channel_id = app_channel_id() AND z.issued_at >= :lo AND z.issued_at < :hi
           AND {COURSE.format(col="z.course_id")} AND {CERT_BATCH}
        UNION ALL
        SELECT (e.occurred_at AT TIME ZONE :tz)::date, 0, 1
          FROM analytics_events e
          JOIN certificates z ON z.channel_id = app_channel_id()
               AND z.id = analytics_uuid_or_null(e.metadata->>'certificate_id')
         WHERE e.channel_id = app_channel_id()
           AND e.event_type IN ('certificate.viewed', 'certificate.verified')
           AND e.occurred_at >= :lo AND e.occurred_at < :hi
           AND {COURSE.format(col="z.course_id")} AND {CERT_BATCH}) AS c
 GROUP BY 1
"""

TIMEZONE_SQL = "SELECT timezone FROM analytics_settings WHERE channel_id = app_channel_id()"


def _ids(tx: Tx, q: SummaryQuery) -> tuple[str | None, str | None]:
    """The course and batch filters, each of this channel (404 otherwise); a batch filters
    by its course too."""
    course, batch = q.course_id, q.batch_id
    if course is not None and not (
        is_uuid(course)
        and tx.scalar(
            "SELECT 1 FROM courses WHERE id = :c AND channel_id = app_channel_id()", c=course
        )
    ):
        raise NotFound("No such course.")
    if batch is not None:
        row = (
            tx.one(
                "SELECT course_id FROM batches WHERE id = :b AND channel_id = app_channel_id()",
                b=batch,
            )
            if is_uuid(batch)
            else None
        )
        if row is None or (course is not None and str(row["course_id"]) != course):
            raise NotFound("No such batch (of this course).")
        course = str(row["course_id"])
    return course, batch


def _figures(tx: Tx, p: rules.Period, course: str | None, batch: str | None) -> dict[str, Any]:
    lo, hi = p.bounds()
    args: dict[str, Any] = {"lo": lo, "hi": hi, "course": course, "tz": p.tz, "batch": batch}
    if p.utc_days() and batch is None:
        events: list[Row] = tx.all(
            ROLLED_EVENTS_SQL, d0=p.first, d1=p.last, **{**args, "tz": "UTC"}
        )
    else:
        events = tx.all(RAW_EVENTS_SQL, **args)
    return {
        "events": events,
        "enrollments": tx.all(ENROLLMENTS_SQL, **args),
        "ledger": tx.all(LEDGER_SQL, **args),
        "certificates": tx.all(CERTIFICATES_SQL, **args),
        "attendance": _attendance(tx, args),
    }


def _attendance(tx: Tx, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Per batch, the student-sessions attended and expected of the live sessions that ended in
    [lo, hi): computed by shared.live, whose rule decides who attended (one rule for both)."""
    from shared import live  # only the summary needs it: keeps the export cron's import small

    return live.batch_attendance_counts(
        tx, lo=args["lo"], hi=args["hi"], course_id=args["course"], batch_id=args["batch"]
    )


def _today(tz: str) -> date:
    return datetime.now(UTC).astimezone(rules.zone(tz)).date()


def _channel_zone(tx: Tx) -> str:
    """The channel's time zone for analytics days (UTC unless set)."""
    return str(tx.scalar(TIMEZONE_SQL) or "UTC")


def summary(*, channel_id: str, user_id: str, query: SummaryQuery) -> dict[str, Any]:
    """The KPIs of a period for the channel's staff (analytics.read), as API.md."""
    channels.check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "analytics.read")
        tz = query.tz or _channel_zone(tx)
        try:
            period = rules.period(query.first, query.last, tz=tz, today=_today(tz))
        except ValueError as e:
            raise Unprocessable(str(e)) from e
        course, batch = _ids(tx, query)
        period = _within_raw_window(tx, period, batch)
        figures = _figures(tx, period, course, batch)
    return rules.summary(period, **figures)


def _within_raw_window(tx: Tx, p: rules.Period, batch: str | None) -> rules.Period:
    """The period as it can be answered. Raw events are kept for the plan's window (0104):
    a period in another zone than UTC reaching further back is answered in UTC days, from
    the rollups (the answer's `tz` says so); figures by batch cannot be, a 422."""
    if p.utc_days() and batch is None:
        return p
    row = tx.one("SELECT plan, plan_status FROM channels WHERE id = app_channel_id()")
    days = rules.raw_window_days(row["plan"] if row else None, row["plan_status"] if row else None)
    if p.bounds()[0] >= datetime.now(UTC) - timedelta(days=days):
        return p
    if batch is not None:
        raise Unprocessable(f"Figures by batch reach back {days} days on this channel's plan.")
    return rules.Period(p.first, p.last, "UTC")


def get_settings(*, channel_id: str, user_id: str) -> dict[str, str]:
    """The channel's analytics settings (staff: analytics.read)."""
    channels.check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "analytics.read")
        return {"timezone": _channel_zone(tx)}


def put_settings(*, channel_id: str, user_id: str, body: SettingsIn) -> dict[str, str]:
    """Set the channel's analytics time zone (channel.update: owner or admin), audited."""
    channels.check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "channel.update")
        tx.exec(
            "INSERT INTO analytics_settings (channel_id, timezone) VALUES (app_channel_id(), :tz)"
            " ON CONFLICT (channel_id) DO UPDATE SET timezone = EXCLUDED.timezone,"
            " updated_at = now()",
            tz=body.timezone,
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="analytics.settings_updated",
            target_type="channel",
            target_id=channel_id,
            payload={"channel_id": channel_id, "timezone": body.timezone},
            details={"timezone": body.timezone},
        )
    return {"timezone": body.timezone}


def export_csv(*, channel_id: str, user_id: str, query: ExportQuery) -> Csv:
    """The summary's series as CSV (`kind` daily or revenue), cells safe for spreadsheets."""
    s = summary(channel_id=channel_id, user_id=user_id, query=query)
    header, rows = rules.export_rows(s, query.kind)
    return {
        "filename": f"analytics-{query.kind}-{s['from']}-{s['to']}.csv",
        "body": rules.to_csv(header, rows),
    }
