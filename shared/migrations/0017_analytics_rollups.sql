-- Daily rollup of analytics events: what KPIs (watch seconds, completions, downloads, ...)
-- are read from. Kept current by analytics_refresh_rollups(), which the maintenance cron runs
-- every few minutes: it recomputes whole UTC days from the raw events in one transaction, so
-- it is idempotent, late events within its window are picked up on the next run, and readers
-- see either the old or the new figures of a day, never half.

CREATE TABLE analytics_daily (
    channel_id     uuid NOT NULL,
    day            date NOT NULL,
    event_type     text NOT NULL,
    course_id      uuid,              -- NULL: the event is not about a course
    lesson_id      uuid,
    events         bigint NOT NULL,
    users          bigint NOT NULL,   -- distinct users that day (not additive across days)
    watch_seconds  numeric(14, 3) NOT NULL DEFAULT 0,
    refreshed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX analytics_daily_key ON analytics_daily (
    channel_id, day, event_type,
    coalesce(course_id, '00000000-0000-0000-0000-000000000000'::uuid),
    coalesce(lesson_id, '00000000-0000-0000-0000-000000000000'::uuid));
SELECT apply_tenant_policy('analytics_daily');
REVOKE INSERT, UPDATE, DELETE ON analytics_daily FROM platform_app;  -- only the refresh writes

CREATE FUNCTION analytics_uuid_or_null(t text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN t::uuid END
$$;

-- Recompute the UTC days from `since` to today, for every channel. Returns rows written.
CREATE FUNCTION analytics_refresh_rollups(since timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    first_day date := (since AT TIME ZONE 'UTC')::date;
    written bigint;
BEGIN
    IF since < now() - interval '400 days' THEN
        RAISE EXCEPTION 'refresh window too large';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('analytics_daily:refresh'));
    DELETE FROM analytics_daily WHERE day >= first_day;
    INSERT INTO analytics_daily (channel_id, day, event_type, course_id, lesson_id,
                                 events, users, watch_seconds)
    SELECT channel_id, (occurred_at AT TIME ZONE 'UTC')::date, event_type,
           analytics_uuid_or_null(metadata->>'course_id'),
           analytics_uuid_or_null(metadata->>'lesson_id'),
           count(*), count(DISTINCT user_id),
           coalesce(sum(CASE WHEN jsonb_typeof(metadata->'watch_seconds') = 'number'
                             THEN (metadata->>'watch_seconds')::numeric END), 0)
      FROM analytics_events
     WHERE occurred_at >= first_day::timestamp AT TIME ZONE 'UTC'
     GROUP BY 1, 2, 3, 4, 5;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
GRANT SELECT ON analytics_events TO platform_system;
GRANT SELECT, INSERT, DELETE ON analytics_daily TO platform_system;
ALTER FUNCTION analytics_refresh_rollups(timestamptz) OWNER TO platform_system;
GRANT EXECUTE ON FUNCTION analytics_refresh_rollups(timestamptz) TO platform_app;
