-- Rollups that keep up with heartbeats.
--
-- analytics_refresh_rollups() (0017) recomputed whole days from the raw events every five
-- minutes. With one event per heartbeat that reads every event of the day, every time, and
-- grows through the day (~9 s over ~1M events on the 2-core dev machine). Now the cron rolls
-- forward: it adds the events that have settled since its last run (occurred_at in
-- (settled_until, now() - lag]) to their days' figures, and recomputes a day whole once,
-- after the day is over, to take in any event written later than the lag allowed (say a
-- heartbeat batch retried for longer than the lag).
--
-- Distinct users per day are not additive, so the (day, key, user) pairs are kept: a pair new
-- to its day adds one to `users`. Today's user counts from before this migration are not
-- known pair by pair; they are made exact when today is recomputed tomorrow.

CREATE TABLE analytics_daily_users (
    channel_id  uuid NOT NULL,
    day         date NOT NULL,
    event_type  text NOT NULL,
    course_id   uuid,
    lesson_id   uuid,
    user_id     uuid NOT NULL
);
CREATE UNIQUE INDEX analytics_daily_users_key ON analytics_daily_users (
    channel_id, day, event_type,
    coalesce(course_id, '00000000-0000-0000-0000-000000000000'::uuid),
    coalesce(lesson_id, '00000000-0000-0000-0000-000000000000'::uuid), user_id);
SELECT apply_tenant_policy('analytics_daily_users');
REVOKE INSERT, UPDATE, DELETE ON analytics_daily_users FROM platform_app;
GRANT SELECT, INSERT, DELETE ON analytics_daily_users TO platform_system;
GRANT UPDATE ON analytics_daily TO platform_system;

-- One row: how far the rollups are complete. Not tenant data; only the functions below read it.
CREATE TABLE analytics_rollup_state (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    settled_until  timestamptz NOT NULL,  -- every event at or before this is in the rollups
    settled_day    date NOT NULL          -- the last day recomputed whole after it ended
);
INSERT INTO analytics_rollup_state (settled_until, settled_day)
SELECT coalesce(max(refreshed_at), now()), (coalesce(max(refreshed_at), now()) AT TIME ZONE 'UTC')::date - 1
  FROM analytics_daily;
REVOKE ALL ON analytics_rollup_state FROM platform_app;
GRANT SELECT, UPDATE ON analytics_rollup_state TO platform_system;

-- Add the events that occurred in (p_from, p_to] to the rollups. Returns rollup rows written.
CREATE FUNCTION analytics_rollup_add(p_from timestamptz, p_to timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    WITH win AS (
        SELECT channel_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type,
               analytics_uuid_or_null(metadata->>'course_id') AS course_id,
               analytics_uuid_or_null(metadata->>'lesson_id') AS lesson_id,
               user_id,
               CASE WHEN jsonb_typeof(metadata->'watch_seconds') = 'number'
                    THEN (metadata->>'watch_seconds')::numeric END AS watch_seconds
          FROM analytics_events
         WHERE occurred_at > p_from AND occurred_at <= p_to
    ),
    new_users AS (
        INSERT INTO analytics_daily_users (channel_id, day, event_type, course_id, lesson_id,
                                           user_id)
        SELECT DISTINCT channel_id, day, event_type, course_id, lesson_id, user_id
          FROM win
         WHERE user_id IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING channel_id, day, event_type, course_id, lesson_id
    ),
    users_added AS (
        SELECT channel_id, day, event_type, course_id, lesson_id, count(*) AS users
          FROM new_users
         GROUP BY 1, 2, 3, 4, 5
    ),
    added AS (
        SELECT channel_id, day, event_type, course_id, lesson_id, count(*) AS events,
               coalesce(sum(watch_seconds), 0) AS watch_seconds
          FROM win
         GROUP BY 1, 2, 3, 4, 5
    )
    INSERT INTO analytics_daily AS d (channel_id, day, event_type, course_id, lesson_id,
                                      events, users, watch_seconds)
    SELECT a.channel_id, a.day, a.event_type, a.course_id, a.lesson_id, a.events,
           coalesce(u.users, 0), a.watch_seconds
      FROM added a
      LEFT JOIN users_added u  -- equality on coalesced ids: a hash join, not a nested loop
             ON (u.channel_id, u.day, u.event_type) = (a.channel_id, a.day, a.event_type)
            AND coalesce(u.course_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(a.course_id, '00000000-0000-0000-0000-000000000000'::uuid)
            AND coalesce(u.lesson_id, '00000000-0000-0000-0000-000000000000'::uuid)
              = coalesce(a.lesson_id, '00000000-0000-0000-0000-000000000000'::uuid)
    ON CONFLICT (channel_id, day, event_type,
                 coalesce(course_id, '00000000-0000-0000-0000-000000000000'::uuid),
                 coalesce(lesson_id, '00000000-0000-0000-0000-000000000000'::uuid))
    DO UPDATE SET events = d.events + EXCLUDED.events,
                  users = d.users + EXCLUDED.users,
                  watch_seconds = d.watch_seconds + EXCLUDED.watch_seconds,
                  refreshed_at = now();
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;

-- Recompute one UTC day from its events up to p_upto (the rollups' settled point).
CREATE FUNCTION analytics_rollup_day(p_day date, p_upto timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    day_start timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
BEGIN
    DELETE FROM analytics_daily WHERE day = p_day;
    DELETE FROM analytics_daily_users WHERE day = p_day;
    RETURN analytics_rollup_add(day_start - interval '1 microsecond',
                                least(day_start + interval '1 day' - interval '1 microsecond',
                                      p_upto));
END $$;

-- The cron: add what settled since the last run, then recompute whole the days that ended
-- since the last recompute. One run at a time. Returns rollup rows written.
CREATE FUNCTION analytics_roll_forward(p_lag interval) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    st analytics_rollup_state;
    upto timestamptz := now() - p_lag;
    d date;
    written bigint := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('analytics_daily:refresh'));
    SELECT * INTO st FROM analytics_rollup_state FOR UPDATE;
    IF upto > st.settled_until THEN
        written := analytics_rollup_add(st.settled_until, upto);
        st.settled_until := upto;
    END IF;
    FOR d IN SELECT generate_series(st.settled_day + 1,
                                    (st.settled_until AT TIME ZONE 'UTC')::date - 1,
                                    interval '1 day')::date
    LOOP
        written := written + analytics_rollup_day(d, st.settled_until);
        st.settled_day := d;
    END LOOP;
    UPDATE analytics_rollup_state
       SET settled_until = st.settled_until, settled_day = st.settled_day;
    RETURN written;
END $$;

DROP FUNCTION analytics_refresh_rollups(timestamptz);
REVOKE EXECUTE ON FUNCTION analytics_rollup_add(timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics_rollup_day(date, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics_roll_forward(interval) FROM PUBLIC;
ALTER FUNCTION analytics_rollup_add(timestamptz, timestamptz) OWNER TO platform_system;
ALTER FUNCTION analytics_rollup_day(date, timestamptz) OWNER TO platform_system;
ALTER FUNCTION analytics_roll_forward(interval) OWNER TO platform_system;
GRANT EXECUTE ON FUNCTION analytics_roll_forward(interval) TO platform_app;
