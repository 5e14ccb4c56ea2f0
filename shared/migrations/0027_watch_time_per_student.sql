-- Parallel players no longer multiply watch time (issue 16, item 4).
--
-- The cap on credited seconds (elapsed * MAX_PLAYBACK_RATE) ran per player session, so N
-- sessions of one student at staggered positions of one lesson each credited their own span
-- over the same minutes of real time, completing the lesson N times faster than real time
-- allows. Now the wall-clock window a beat is credited for is claimed for the student's lesson:
-- a beat whose session was playing claims the window since its session's previous beat, and
-- a later beat of any session of that student and lesson is credited only for real time after
-- the latest claim. Whatever the number of players, the wall-clock seconds credited to a
-- student's lesson never exceed the real time elapsed (and its seconds of video never exceed
-- MAX_PLAYBACK_RATE times it). A single player is credited exactly as before: its own claims
-- never reach past its previous beat.
--
-- Each session row keeps the end of the last window it claimed (claimed_until); the latest of
-- a student's lesson is the max over its sessions (the primary key's prefix), read under the
-- (student, lesson) advisory lock every writer holds (0021). The Python reference is
-- shared.learning.rules (credited_interval's `claimed_until`, LessonWatch); the model tests in
-- tests/integration/learning hold both the set-based statement and the one-by-one fallback
-- to it.

ALTER TABLE watch_sessions ADD COLUMN claimed_until timestamptz;
COMMENT ON COLUMN watch_sessions.claimed_until IS
    'End of the last wall-clock window this session was credited for (0027); NULL: none.';

-- record_channel_heartbeats() of 0026 with the claims above; nothing else changed.
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
-- Real time is credited once per student and lesson, whatever the number of players (0027).
-- A beat whose session was playing claims the wall-clock window since that session's previous
-- beat; what any session of the student's lesson claimed before is not credited again.
-- `claimed`: the end of the latest window claimed before this beat, by the stored sessions
-- (stored_claims) or by earlier beats of the batch (arrival time, then array order: the order
-- the one-by-one fallback takes them in). `s_claim`: the session's latest claim in the batch.
stored_claims AS (
    SELECT ws.user_id AS u, ws.lesson_id AS l, max(ws.claimed_until) AS claimed
      FROM watch_sessions ws
     WHERE ws.channel_id = app_channel_id()
       AND (ws.user_id, ws.lesson_id) IN (SELECT q.u, q.l FROM seq q)
     GROUP BY ws.user_id, ws.lesson_id
),
owned AS (
    SELECT q.*,
           greatest(sc.claimed, max(CASE WHEN q.p_pl THEN q.at END) OVER (
                        PARTITION BY q.u, q.l ORDER BY q.at, q.i
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS claimed,
           max(CASE WHEN q.p_pl THEN q.at END) OVER (PARTITION BY q.u, q.l, q.s) AS s_claim
      FROM seq q
      LEFT JOIN stored_claims sc ON (sc.u, sc.l) = (q.u, q.l)
),
-- shared.learning.rules.credited_interval: nothing for the first beat, after a pause, for a
-- backward seek or without server time passing; a forward span is capped at
-- elapsed * MAX_PLAYBACK_RATE, `elapsed` running from the later of the session's previous
-- beat and the student's lesson's last claim; positions clamped to [0, duration]; rounded
-- to 3 decimals.
spans AS (
    SELECT q.*, watch_clamp(q.p_pos, q.dur) AS a0, watch_clamp(q.pos, q.dur) AS b0,
           extract(epoch FROM q.at) - extract(epoch FROM greatest(q.p_at, q.claimed)) AS elapsed
      FROM owned q
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
                                     playing, started_at, last_seen_at, beats, claimed_until)
    SELECT p_channel, q.u, q.l, q.s, q.pos, q.pl, q.first_at, q.at, q.n, q.s_claim
      FROM owned q
     WHERE q.k = q.n
    ON CONFLICT (user_id, lesson_id, session_id) DO UPDATE SET
        position = EXCLUDED.position, playing = EXCLUDED.playing,
        last_seen_at = EXCLUDED.last_seen_at, beats = w.beats + EXCLUDED.beats,
        claimed_until = greatest(w.claimed_until, EXCLUDED.claimed_until)
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
