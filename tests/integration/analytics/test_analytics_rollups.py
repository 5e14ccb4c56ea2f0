"""Analytics rollups roll forward (migration 0025): each event is counted once, distinct users
stay distinct across runs, the lag holds back what has not settled, and a day recomputed whole
takes in an event written after the rollups had passed its time."""

from __future__ import annotations

import json

import pytest

from shared.analytics import maintenance as analytics_maintenance
from tests.factories import new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db(role="superuser")
    yield conn
    conn.close()


def add_event(admin, channel, user, *, ago: str, watch: float) -> None:
    admin.run(
        "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata, occurred_at)"
        " VALUES (:c, :u, 'lesson.heartbeat', CAST(:m AS jsonb), now() - CAST(:ago AS interval))",
        c=channel,
        u=user,
        m=json.dumps({"watch_seconds": watch}),
        ago=ago,
    )


def rollup(admin, channel):
    rows = admin.run(
        "SELECT sum(events)::int, sum(users)::int, sum(watch_seconds)::float FROM analytics_daily"
        " WHERE channel_id = :c AND event_type = 'lesson.heartbeat'",
        c=channel,
    )
    return tuple(rows[0])


def test_each_event_is_counted_once_and_users_stay_distinct(admin):
    channel, alice, bob = new_channel(new_user()), new_user(), new_user()
    analytics_maintenance.maintain(lag_seconds=0)  # settle everything before this test's events
    add_event(admin, channel, alice, ago="0 seconds", watch=5)
    add_event(admin, channel, alice, ago="0 seconds", watch=2.5)
    analytics_maintenance.maintain(lag_seconds=0)
    assert rollup(admin, channel) == (2, 1, 7.5)
    analytics_maintenance.maintain(lag_seconds=0)  # nothing new: nothing added twice
    assert rollup(admin, channel) == (2, 1, 7.5)
    add_event(admin, channel, alice, ago="0 seconds", watch=1)  # same user: not a new one
    add_event(admin, channel, bob, ago="0 seconds", watch=1)
    analytics_maintenance.maintain(lag_seconds=0)
    assert rollup(admin, channel) == (4, 2, 9.5)


def test_the_lag_holds_back_events_that_have_not_settled(admin):
    channel, user = new_channel(new_user()), new_user()
    analytics_maintenance.maintain(lag_seconds=0)
    add_event(admin, channel, user, ago="0 seconds", watch=3)
    analytics_maintenance.maintain(lag_seconds=3600)  # an hour's lag: this event is too new
    assert rollup(admin, channel) == (None, None, None)
    analytics_maintenance.maintain(lag_seconds=0)
    assert rollup(admin, channel) == (1, 1, 3.0)


def test_a_day_recomputed_whole_takes_in_a_late_event_and_counts_users_exactly(admin):
    channel, user, other = new_channel(new_user()), new_user(), new_user()
    analytics_maintenance.maintain(lag_seconds=0)
    add_event(admin, channel, user, ago="0 seconds", watch=4)
    analytics_maintenance.maintain(lag_seconds=0)
    # written now, but it occurred a minute ago: the rollups had already passed that time
    add_event(admin, channel, other, ago="1 minute", watch=6)
    analytics_maintenance.maintain(lag_seconds=0)
    assert rollup(admin, channel) == (1, 1, 4.0)
    # the day is recomputed whole once it is over; here: ask for today's recompute now
    settled = admin.run("SELECT settled_until FROM analytics_rollup_state")[0][0]
    admin.run(
        "SELECT analytics_rollup_day((CAST(:s AS timestamptz) AT TIME ZONE 'UTC')::date,"
        " CAST(:s AS timestamptz))",
        s=settled,
    )
    assert rollup(admin, channel) == (2, 2, 10.0)
    # and rolling forward afterwards adds nothing twice
    analytics_maintenance.maintain(lag_seconds=0)
    assert rollup(admin, channel) == (2, 2, 10.0)


def test_the_cron_recomputes_yesterday_once_after_it_ended(admin):
    channel, user = new_channel(new_user()), new_user()
    analytics_maintenance.maintain(lag_seconds=0)
    # an event of yesterday that was never rolled up (written after its day was passed)
    admin.run(
        "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata, occurred_at)"
        " VALUES (:c, :u, 'lesson.heartbeat', '{\"watch_seconds\": 8}',"
        " date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 hour')",
        c=channel,
        u=user,
    )
    admin.run(
        "UPDATE analytics_rollup_state SET settled_day = (now() AT TIME ZONE 'UTC')::date - 2"
    )
    analytics_maintenance.maintain(lag_seconds=0)
    assert rollup(admin, channel) == (1, 1, 8.0)
    state = admin.run(
        "SELECT settled_day = (settled_until AT TIME ZONE 'UTC')::date - 1"
        " FROM analytics_rollup_state"
    )
    assert state == [[True]]
    analytics_maintenance.maintain(lag_seconds=0)  # once: not recomputed again
    assert rollup(admin, channel) == (1, 1, 8.0)
