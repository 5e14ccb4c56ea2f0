-- The course-viewing rule in one SQL function.
--
-- Who may view a course (and so its lessons and resources): the channel's staff see every
-- course, drafts included; everyone sees a published course; an archived course (retired by
-- its creator) stays viewable to the students still enrolled in it. The Python copy is
-- shared.catalog.rules.course_viewable; tests/integration/learning/test_course_viewable_sql.py
-- holds the two to one truth table. Before this migration the rule was written out three
-- times (catalog, learning's access queries, and record_channel_heartbeats of 0021).
--
-- p_staff: the viewer's role is a staff role of the channel (shared.channels POLICY
-- "lesson.watch_any"; the caller passes it in, as record_heartbeats() receives p_staff_roles).
-- p_enrolled: the viewer has an active enrollment in the course. NULLs (no membership, no
-- course) count as false: the answer is never NULL.
CREATE FUNCTION course_viewable(p_status text, p_staff boolean, p_enrolled boolean)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(p_staff, false)
        OR coalesce(p_status = 'published', false)
        OR coalesce(p_status = 'archived' AND p_enrolled, false)
$$;
COMMENT ON FUNCTION course_viewable(text, boolean, boolean) IS
    'May a viewer see this course? staff: any; published: all; archived: its enrolled students.'
    ' Python copy: shared.catalog.rules.course_viewable.';
REVOKE EXECUTE ON FUNCTION course_viewable(text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION course_viewable(text, boolean, boolean) TO platform_app;

-- record_channel_heartbeats() of 0021, unchanged but for its access check, which now calls
-- course_viewable() instead of spelling the rule out.
CREATE OR REPLACE FUNCTION record_channel_heartbeats(
    p_channel uuid,
    p_beats jsonb,
    p_max_rate numeric,
    p_completion_ratio numeric,
    p_staff_roles text[]
) RETURNS SETOF heartbeat_result LANGUAGE plpgsql AS $$
BEGIN
RETURN QUERY
WITH beats AS (
    SELECT * FROM heartbeat_rows(p_beats, p_channel)
),
-- Who may view: shared.learning.authorize_viewer, in its order; the course-viewing rule is
-- course_viewable() (above), the one SQL copy of shared.catalog.rules.course_viewable.
checked AS (
    SELECT b.*, l.course_id, l.duration_seconds AS dur,
           CASE WHEN m.role IS NULL THEN 'no_channel'
                WHEN l.course_id IS NULL
                     OR NOT course_viewable(c.status, m.role = ANY (p_staff_roles),
                                            e.id IS NOT NULL)
                     THEN 'no_lesson'
                WHEN NOT m.role = ANY (p_staff_roles) AND e.id IS NULL THEN 'not_enrolled'
                WHEN l.status IS DISTINCT FROM 'ready' OR coalesce(l.video_object, '') = ''
                     OR coalesce(l.duration_seconds, 0) = 0 THEN 'no_video'
                ELSE 'ok' END AS status
      FROM beats b
      LEFT JOIN memberships m ON m.channel_id = app_channel_id() AND m.user_id = b.u
      LEFT JOIN lessons l ON l.id = b.l AND l.channel_id = app_channel_id()
      LEFT JOIN courses c ON c.id = l.course_id AND c.channel_id = app_channel_id()
      LEFT JOIN enrollments e ON e.channel_id = app_channel_id() AND e.course_id = l.course_id
            AND e.user_id = b.u AND e.status = 'active'
),
-- Each beat's previous beat: the one before it in the batch (arrival order), else the
-- session's stored one. Late beats (older than the stored one) take no part in the chain.
-- No row lock is needed to read the stored beat: every writer of this student's lesson holds
-- its advisory lock, taken before this statement's snapshot.
chain AS (
    SELECT c.*,
           st.last_seen_at IS NOT NULL AND c.at < st.last_seen_at AS late,
           st.position AS st_pos, st.playing AS st_pl, st.last_seen_at AS st_at
      FROM checked c
      LEFT JOIN watch_sessions st
             ON (st.user_id, st.lesson_id, st.session_id) = (c.u, c.l, c.s)
            AND st.channel_id = app_channel_id()
     WHERE c.status = 'ok'
),
seq AS (
    SELECT c.*,
           CASE WHEN row_number() OVER w = 1 THEN c.st_pos ELSE lag(c.pos) OVER w END AS p_pos,
           CASE WHEN row_number() OVER w = 1 THEN c.st_pl ELSE lag(c.pl) OVER w END AS p_pl,
           CASE WHEN row_number() OVER w = 1 THEN c.st_at ELSE lag(c.at) OVER w END AS p_at,
           row_number() OVER w AS k,
           count(*) OVER (PARTITION BY c.u, c.l, c.s) AS n,
           min(c.at) OVER (PARTITION BY c.u, c.l, c.s) AS first_at
      FROM chain c
     WHERE NOT c.late
    WINDOW w AS (PARTITION BY c.u, c.l, c.s ORDER BY c.at, c.i)
),
-- shared.learning.rules.credited_interval: nothing for the first beat, after a pause, for a
-- backward seek or without server time passing; a forward span is capped at
-- elapsed * MAX_PLAYBACK_RATE; positions clamped to [0, duration]; rounded to 3 decimals.
spans AS (
    SELECT q.*, watch_clamp(q.p_pos, q.dur) AS a0, watch_clamp(q.pos, q.dur) AS b0,
           extract(epoch FROM q.at) - extract(epoch FROM q.p_at) AS elapsed
      FROM seq q
),
credits AS (
    SELECT sp.i, sp.u, sp.l, sp.dur, round(sp.a0, 3) AS a,
           round(least(sp.b0, sp.a0 + sp.elapsed * p_max_rate), 3) AS b
      FROM spans sp
     WHERE sp.p_pl AND sp.b0 > sp.a0 AND sp.elapsed > 0
       AND round(least(sp.b0, sp.a0 + sp.elapsed * p_max_rate), 3) > round(sp.a0, 3)
),
swapped AS (
    INSERT INTO watch_sessions AS w (channel_id, user_id, lesson_id, session_id, position,
                                     playing, started_at, last_seen_at, beats)
    SELECT p_channel, q.u, q.l, q.s, q.pos, q.pl, q.first_at, q.at, q.n
      FROM seq q
     WHERE q.k = q.n
    ON CONFLICT (user_id, lesson_id, session_id) DO UPDATE SET
        position = EXCLUDED.position, playing = EXCLUDED.playing,
        last_seen_at = EXCLUDED.last_seen_at, beats = w.beats + EXCLUDED.beats
),
events AS (
    INSERT INTO analytics_events (channel_id, user_id, event_type, metadata, occurred_at)
    SELECT p_channel, c.u, 'lesson.heartbeat', jsonb_build_object(
               'lesson_id', c.l, 'course_id', c.course_id, 'session_id', c.s,
               'position', c.pos, 'playing', c.pl, 'watch_seconds', coalesce(cr.b - cr.a, 0)),
           c.at
      FROM chain c
      LEFT JOIN credits cr ON cr.i = c.i
),
-- Merge each lesson's credited spans into its union, under the row lock; completion flips
-- at shared.learning.rules.completion_threshold.
merged AS (
    INSERT INTO lesson_progress AS lp (channel_id, user_id, lesson_id, course_id, watched,
                                       watched_seconds, completed_at, completed_by)
    SELECT p_channel, g.u, g.l, g.course_id, g.watched, multirange_length(g.watched),
           CASE WHEN multirange_length(g.watched) >= g.threshold THEN now() END,
           CASE WHEN multirange_length(g.watched) >= g.threshold THEN 'watch' END
      FROM (SELECT cr.u, cr.l, min(c.course_id::text)::uuid AS course_id,
                   range_agg(numrange(cr.a, cr.b)) AS watched,
                   round(min(cr.dur) * p_completion_ratio, 3) AS threshold
              FROM credits cr JOIN chain c ON c.i = cr.i
             GROUP BY cr.u, cr.l) AS g
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET
        watched = lp.watched + EXCLUDED.watched,
        watched_seconds = multirange_length(lp.watched + EXCLUDED.watched),
        completed_at = CASE
            WHEN lp.completed_at IS NULL AND multirange_length(lp.watched + EXCLUDED.watched)
                 >= (SELECT round(l.duration_seconds * p_completion_ratio, 3)
                       FROM lessons l WHERE l.id = EXCLUDED.lesson_id)
            THEN now() ELSE lp.completed_at END,
        completed_by = CASE
            WHEN lp.completed_at IS NULL AND multirange_length(lp.watched + EXCLUDED.watched)
                 >= (SELECT round(l.duration_seconds * p_completion_ratio, 3)
                       FROM lessons l WHERE l.id = EXCLUDED.lesson_id)
            THEN 'watch' ELSE lp.completed_by END,
        updated_at = now()
    RETURNING lp.user_id, lp.lesson_id, lp.watched_seconds, lp.completed_at,
              lp.completion_emitted
),
-- The lesson's outcome is reported on its last crediting beat of the batch.
last_credit AS (
    SELECT DISTINCT ON (cr.u, cr.l) cr.i, cr.u, cr.l
      FROM credits cr JOIN chain c ON c.i = cr.i
     ORDER BY cr.u, cr.l, c.at DESC, cr.i DESC
)
SELECT c.i, c.status, CASE WHEN c.status = 'ok' THEN c.course_id END,
       coalesce(cr.b - cr.a, 0),
       CASE WHEN cr.i IS NOT NULL THEN mg.watched_seconds END,
       coalesce(lc.i IS NOT NULL AND pr.completed_at IS NULL AND mg.completed_at IS NOT NULL,
                false),
       coalesce(lc.i IS NOT NULL AND mg.completed_at IS NOT NULL AND NOT mg.completion_emitted,
                false)
  FROM checked c
  LEFT JOIN credits cr ON cr.i = c.i
  LEFT JOIN last_credit lc ON lc.i = c.i
  LEFT JOIN merged mg ON (mg.user_id, mg.lesson_id) = (c.u, c.l)
  -- the progress row as it was before this statement (its snapshot): did the batch complete it?
  LEFT JOIN lesson_progress pr ON (pr.user_id, pr.lesson_id) = (c.u, c.l)
        AND pr.channel_id = app_channel_id();
END $$;
