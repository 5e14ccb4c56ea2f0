-- The KPI summary's rollup: analytics_daily (0017/0025) summed over lessons, per channel, UTC
-- day, event type and course. analytics_daily keeps a row per lesson, so 90 days of a channel
-- with a few hundred lessons are ~100k rows to add up per request; this holds a row per
-- course (a few thousand). Kept by statement triggers on analytics_daily: every change the
-- rollups' writers make (roll forward, a day recomputed whole) adds its delta here in the same
-- transaction, so the two never disagree.

CREATE TABLE analytics_daily_courses (
    channel_id     uuid NOT NULL,
    day            date NOT NULL,
    event_type     text NOT NULL,
    course_id      uuid,              -- NULL: the events are not about a course
    events         bigint NOT NULL,
    watch_seconds  numeric(16, 3) NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX analytics_daily_courses_key ON analytics_daily_courses (
    channel_id, day, event_type,
    coalesce(course_id, '00000000-0000-0000-0000-000000000000'::uuid));
SELECT apply_tenant_policy('analytics_daily_courses');
REVOKE INSERT, UPDATE, DELETE ON analytics_daily_courses FROM platform_app;  -- triggers write
GRANT SELECT, INSERT, UPDATE ON analytics_daily_courses TO platform_system;

-- Add the change of one statement on analytics_daily, as signed deltas per course.
CREATE FUNCTION analytics_daily_courses_add() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_daily_courses AS t (channel_id, day, event_type, course_id,
                                                  events, watch_seconds)
        SELECT channel_id, day, event_type, course_id, sum(events), sum(watch_seconds)
          FROM new_rows
         GROUP BY 1, 2, 3, 4
        ON CONFLICT (channel_id, day, event_type,
                     coalesce(course_id, '00000000-0000-0000-0000-000000000000'::uuid))
        DO UPDATE SET events = t.events + EXCLUDED.events,
                      watch_seconds = t.watch_seconds + EXCLUDED.watch_seconds;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE analytics_daily_courses AS t
           SET events = t.events - d.events, watch_seconds = t.watch_seconds - d.watch_seconds
          FROM (SELECT channel_id, day, event_type, course_id, sum(events) AS events,
                       sum(watch_seconds) AS watch_seconds
                  FROM old_rows
                 GROUP BY 1, 2, 3, 4) AS d
         WHERE (t.channel_id, t.day, t.event_type) = (d.channel_id, d.day, d.event_type)
           AND t.course_id IS NOT DISTINCT FROM d.course_id;
    ELSE
        UPDATE analytics_daily_courses AS t
           SET events = t.events + d.events, watch_seconds = t.watch_seconds + d.watch_seconds
          FROM (SELECT channel_id, day, event_type, course_id, sum(events) AS events,
                       sum(watch_seconds) AS watch_seconds
                  FROM (SELECT channel_id, day, event_type, course_id, events, watch_seconds
                          FROM new_rows
                        UNION ALL
                        SELECT channel_id, day, event_type, course_id, -events, -watch_seconds
                          FROM old_rows) AS u
                 GROUP BY 1, 2, 3, 4) AS d
         WHERE (t.channel_id, t.day, t.event_type) = (d.channel_id, d.day, d.event_type)
           AND t.course_id IS NOT DISTINCT FROM d.course_id;
    END IF;
    RETURN NULL;
END $$;

-- A transition table serves one event per trigger: three triggers.
CREATE TRIGGER analytics_daily_courses_ins AFTER INSERT ON analytics_daily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_daily_courses_add();
CREATE TRIGGER analytics_daily_courses_upd AFTER UPDATE ON analytics_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_daily_courses_add();
CREATE TRIGGER analytics_daily_courses_del AFTER DELETE ON analytics_daily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_daily_courses_add();
REVOKE EXECUTE ON FUNCTION analytics_daily_courses_add() FROM PUBLIC;  -- only as a trigger

-- What the rollups hold now.
INSERT INTO analytics_daily_courses (channel_id, day, event_type, course_id, events,
                                     watch_seconds)
SELECT channel_id, day, event_type, course_id, sum(events), sum(watch_seconds)
  FROM analytics_daily
 GROUP BY 1, 2, 3, 4;
