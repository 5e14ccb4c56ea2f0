-- Heartbeats written in batches.
--
-- The learning function no longer writes each heartbeat in its request: it checks access,
-- stamps the beat with the time it arrived and hands it to a per-process writer
-- (shared/heartbeat_writer.py), which writes everything pending in ONE call of
-- record_heartbeats() below. Under load a call carries hundreds of beats; one round trip
-- and one commit are shared by all of them.
--
-- record_heartbeats() applies the rule of record_heartbeat() (0018, dropped below): each
-- channel's beats in ONE set-based statement (record_channel_heartbeats) under that channel's
-- row-level-security context, taking the beats of a session in arrival order (ties: array
-- order) with each beat's arrival time as the server clock. If that statement fails, the
-- channel's beats go through the same statement one at a time, each in a subtransaction, so
-- that a bad beat costs only itself. tests/integration/test_heartbeat_batches.py and
-- test_heartbeat_sql.py hold both paths to the reference model (shared/domain/watch.py).
--
-- Locks. A batch upserts session and progress rows of many students in whatever order the
-- executor meets them; two batches meeting the same rows in other orders would deadlock. So a
-- batch first takes a transaction advisory lock per (student, lesson), all of them, in
-- ascending key order: rows of one student's lesson are only ever written under that lock,
-- and the locks are always taken in the same order. This also makes reading a session's last
-- beat without a row lock safe: the statement's snapshot is taken after the locks. Classid 1
-- keeps these keys apart from other advisory locks.
--
-- Late beats. Two instances may write beats of one session in the other order than they
-- arrived; a beat older than the session's last one is recorded as an analytics event but
-- credits nothing and does not replace the session's last beat.

CREATE FUNCTION heartbeat_lock_key(p_user uuid, p_lesson uuid) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtext(p_user::text || p_lesson::text)
$$;

-- The per-beat function of 0018 is replaced by the set-based one below (which the fallback
-- also uses, one beat at a time): one implementation of the rule in SQL, not two.
DROP FUNCTION record_heartbeat(uuid, uuid, uuid, text, numeric, boolean, numeric, numeric,
                               text[], timestamptz);

CREATE TYPE heartbeat_result AS (
    i int,                      -- the beat's index in the batch
    status text,                -- ok | no_channel | no_lesson | not_enrolled | no_video | error: ...
    course_id uuid,
    credited numeric,           -- seconds this beat credited
    watched_seconds numeric,    -- the lesson's distinct seconds after the batch (crediting beats)
    completed_now boolean,      -- the batch completed the lesson (on its last crediting beat)
    completion_pending boolean  -- complete, lesson.completed not yet emitted (same beat)
);

-- One channel's beats of a batch as rows. PL/pgSQL so that the planner takes its row estimate
-- (ROWS) rather than guessing one row, which turns every join of the batch into a nested loop.
CREATE FUNCTION heartbeat_rows(p_beats jsonb, p_channel uuid)
RETURNS TABLE (i int, u uuid, l uuid, s text, pos numeric, pl boolean, at timestamptz)
LANGUAGE plpgsql STABLE ROWS 200 AS $$
BEGIN
    RETURN QUERY
    SELECT (x.n - 1)::int, (x.e->>'u')::uuid, (x.e->>'l')::uuid, x.e->>'s',
           (x.e->>'pos')::numeric, (x.e->>'pl')::boolean, (x.e->>'at')::timestamptz
      FROM jsonb_array_elements(p_beats) WITH ORDINALITY AS x(e, n)
     WHERE (x.e->>'c')::uuid = p_channel;
END $$;

-- The beats of one channel, set-based: one statement does what record_heartbeat() did beat
-- by beat, with the same rules and the same results. Runs under the channel's context.
-- PL/pgSQL rather than SQL for its plan cache: a SQL function plans this statement per call.
CREATE FUNCTION record_channel_heartbeats(
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
-- Who may view: shared.learning.authorize_viewer, in its order.
checked AS (
    SELECT b.*, l.course_id, l.duration_seconds AS dur,
           CASE WHEN m.role IS NULL THEN 'no_channel'
                WHEN l.course_id IS NULL
                     OR (NOT m.role = ANY (p_staff_roles)
                         AND (c.status = 'draft' OR (c.status = 'archived' AND e.id IS NULL)))
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
-- shared.domain.watch.credited_interval: nothing for the first beat, after a pause, for a
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
-- at shared.domain.watch.completion_threshold.
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

-- p_beats: a JSON array of {"c": channel, "u": user, "l": lesson (or null), "s": session,
-- "pos": position, "pl": playing, "at": arrival time}. One row per beat, `i` its index.
-- Each channel's beats are written by one set-based statement under that channel's context;
-- if that statement fails (one bad beat fails it all), the channel's beats are written again
-- one by one, each in its own subtransaction, so that only the bad beat is lost.
CREATE FUNCTION record_heartbeats(
    p_beats jsonb,
    p_max_rate numeric,
    p_completion_ratio numeric,
    p_staff_roles text[]
) RETURNS SETOF heartbeat_result LANGUAGE plpgsql AS $$
DECLARE
    ch uuid;
    results heartbeat_result[];
    one heartbeat_result;
    beat record;
BEGIN
    PERFORM pg_advisory_xact_lock(1, k.key)
       FROM (SELECT DISTINCT heartbeat_lock_key((e->>'u')::uuid, (e->>'l')::uuid) AS key
               FROM jsonb_array_elements(p_beats) AS e
              WHERE e->>'l' IS NOT NULL
              ORDER BY 1) AS k;
    FOR ch IN SELECT DISTINCT (e->>'c')::uuid FROM jsonb_array_elements(p_beats) AS e LOOP
        PERFORM set_config('app.channel_id', ch::text, true),
                set_config('app.user_id', '', true);
        BEGIN
            results := ARRAY(SELECT r FROM record_channel_heartbeats(
                ch, p_beats, p_max_rate, p_completion_ratio, p_staff_roles) AS r);
        EXCEPTION WHEN OTHERS THEN
            results := NULL;
        END;
        IF results IS NOT NULL THEN
            RETURN QUERY SELECT * FROM unnest(results);
            CONTINUE;
        END IF;
        FOR beat IN
            SELECT (x.n - 1)::int AS n, x.e
              FROM jsonb_array_elements(p_beats) WITH ORDINALITY AS x(e, n)
             WHERE (x.e->>'c')::uuid = ch
             ORDER BY (x.e->>'at')::timestamptz, x.n
        LOOP
            BEGIN
                SELECT * INTO one FROM record_channel_heartbeats(
                    ch, jsonb_build_array(beat.e), p_max_rate, p_completion_ratio,
                    p_staff_roles);
            EXCEPTION WHEN OTHERS THEN
                -- This beat alone is lost (its subtransaction rolled back); the caller logs it.
                one := ROW(NULL, 'error: ' || SQLERRM, NULL, 0, NULL, false, false);
            END;
            one.i := beat.n;
            RETURN NEXT one;
        END LOOP;
    END LOOP;
END $$;

REVOKE EXECUTE ON FUNCTION record_channel_heartbeats(uuid, jsonb, numeric, numeric, text[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_channel_heartbeats(uuid, jsonb, numeric, numeric, text[])
    TO platform_app;
REVOKE EXECUTE ON FUNCTION record_heartbeats(jsonb, numeric, numeric, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_heartbeats(jsonb, numeric, numeric, text[]) TO platform_app;
REVOKE EXECUTE ON FUNCTION heartbeat_rows(jsonb, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION heartbeat_rows(jsonb, uuid) TO platform_app;
REVOKE EXECUTE ON FUNCTION heartbeat_lock_key(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION heartbeat_lock_key(uuid, uuid) TO platform_app;
