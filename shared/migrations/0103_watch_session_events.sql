-- One analytics event per watch session and lesson, not one per heartbeat (issue 14, item 4).
--
-- record_channel_heartbeats() (0021, 0026, 0027) wrote a `lesson.heartbeat` row into
-- analytics_events for every beat: ~150M rows a day at 1M students, all in Cloud SQL. The
-- detail a beat carries is already kept where it is used (the session row, the student's
-- watched intervals in lesson_progress); analytics only ever summed its credited seconds.
-- Now the batch adds what it credited to its sessions' rows (watch_sessions.watch_seconds),
-- and learning_report_sessions(), run by the analytics maintenance cron, writes ONE
-- `lesson.watched` event per session that went idle, carrying the seconds credited since
-- the session was last reported (normally all of them; a session resumed after going idle is
-- reported again for the rest). The KPI summary adds the seconds of sessions not yet
-- reported, so figures stay current to the last beat. Old `lesson.heartbeat` events keep
-- counting; nothing new writes them.

ALTER TABLE watch_sessions
    ADD COLUMN watch_seconds numeric(14, 3) NOT NULL DEFAULT 0,
    ADD COLUMN reported_seconds numeric(14, 3) NOT NULL DEFAULT 0;
COMMENT ON COLUMN watch_sessions.watch_seconds IS
    'Seconds credited to this session by its beats (0103).';
COMMENT ON COLUMN watch_sessions.reported_seconds IS
    'Of watch_seconds, those already in a lesson.watched analytics event (0103).';
-- The summary's "not yet reported" tail and the reporter's scan: only sessions with seconds
-- to report, which go idle and leave the index within minutes.
CREATE INDEX watch_sessions_unreported ON watch_sessions (channel_id, last_seen_at)
    WHERE watch_seconds > reported_seconds;

-- record_channel_heartbeats() of 0027: credits are added to the sessions' rows, and no
-- analytics event is written per beat; nothing else changed.
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
    SELECT sp.i, sp.u, sp.l, sp.s, sp.dur, round(sp.a0, 3) AS a,
           round(least(sp.b0, sp.a0 + sp.elapsed * p_max_rate), 3) AS b
      FROM spans sp
     WHERE sp.p_pl AND sp.b0 > sp.a0 AND sp.elapsed > 0
       AND round(least(sp.b0, sp.a0 + sp.elapsed * p_max_rate), 3) > round(sp.a0, 3)
),
-- What the batch credited each session: added to the session's row, which the analytics
-- maintenance turns into one `lesson.watched` event once the session goes idle.
session_credits AS (
    SELECT cr.u, cr.l, cr.s, sum(cr.b - cr.a) AS credited
      FROM credits cr
     GROUP BY cr.u, cr.l, cr.s
),
swapped AS (
    INSERT INTO watch_sessions AS w (channel_id, user_id, lesson_id, session_id, position,
                                     playing, started_at, last_seen_at, beats, claimed_until,
                                     watch_seconds)
    SELECT p_channel, q.u, q.l, q.s, q.pos, q.pl, q.first_at, q.at, q.n, q.s_claim,
           coalesce(sc.credited, 0)
      FROM owned q
      LEFT JOIN session_credits sc ON (sc.u, sc.l, sc.s) = (q.u, q.l, q.s)
     WHERE q.k = q.n
    ON CONFLICT (user_id, lesson_id, session_id) DO UPDATE SET
        position = EXCLUDED.position, playing = EXCLUDED.playing,
        last_seen_at = EXCLUDED.last_seen_at, beats = w.beats + EXCLUDED.beats,
        claimed_until = greatest(w.claimed_until, EXCLUDED.claimed_until),
        watch_seconds = w.watch_seconds + EXCLUDED.watch_seconds
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


-- The cron: one `lesson.watched` event per session idle for p_idle with seconds unreported,
-- and those seconds marked reported, in one statement. Rows a heartbeat batch holds are
-- skipped (SKIP LOCKED: never waits, so never deadlocks with a batch) and taken next run.
-- The event is stamped now(): after the rollups' settled point, so the roll forward takes it.
CREATE FUNCTION learning_report_sessions(p_idle interval) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    IF p_idle < interval '0' OR p_idle > interval '1 day' THEN
        RAISE EXCEPTION 'idle interval out of range';
    END IF;
    WITH due AS (
        SELECT w.channel_id, w.user_id, w.lesson_id, w.session_id, w.started_at,
               w.last_seen_at, w.beats, w.watch_seconds, w.reported_seconds
          FROM watch_sessions w
         WHERE w.watch_seconds > w.reported_seconds AND w.last_seen_at < now() - p_idle
           FOR UPDATE SKIP LOCKED
    ),
    marked AS (
        UPDATE watch_sessions w SET reported_seconds = d.watch_seconds
          FROM due d
         WHERE (w.user_id, w.lesson_id, w.session_id) = (d.user_id, d.lesson_id, d.session_id)
    )
    INSERT INTO analytics_events (channel_id, user_id, event_type, metadata)
    SELECT d.channel_id, d.user_id, 'lesson.watched', jsonb_build_object(
               'lesson_id', d.lesson_id, 'course_id', l.course_id, 'session_id', d.session_id,
               'watch_seconds', d.watch_seconds - d.reported_seconds, 'beats', d.beats,
               'started_at', d.started_at, 'last_seen_at', d.last_seen_at)
      FROM due d
      LEFT JOIN lessons l ON l.id = d.lesson_id;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
GRANT SELECT, UPDATE ON watch_sessions TO platform_system;
GRANT SELECT ON lessons TO platform_system;
GRANT INSERT ON analytics_events TO platform_system;
ALTER FUNCTION learning_report_sessions(interval) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION learning_report_sessions(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION learning_report_sessions(interval)
    TO platform_fn_analytics_maintenance;

-- Pruning never drops seconds not yet reported (the cron reports before it prunes; a session
-- a batch held then waits for the next run).
CREATE OR REPLACE FUNCTION learning_prune_sessions(max_age interval DEFAULT interval '1 day')
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (DELETE FROM watch_sessions
                   WHERE last_seen_at < now() - max_age AND watch_seconds <= reported_seconds
                  RETURNING 1)
    SELECT count(*) FROM gone
$$;
