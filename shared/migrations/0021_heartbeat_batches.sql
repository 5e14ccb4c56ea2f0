-- Heartbeats written in batches.
--
-- The learning function no longer writes each heartbeat in its request: it checks access,
-- stamps the beat with the time it arrived and hands it to a per-process writer
-- (shared/heartbeat_writer.py), which writes everything pending in ONE call of
-- record_heartbeats() below. Under load a call carries hundreds of beats; one round trip
-- and one commit are shared by all of them.
--
-- record_heartbeats() applies the same per-beat rule as record_heartbeat() (0018), which it
-- calls for each beat in arrival order, with the beat's own arrival time as the server clock.
-- Each beat runs in a subtransaction: one beat that fails leaves the others written.
--
-- Locks. Beats of one student and lesson lock the session row and then the progress row. In
-- a batch, beat 1 (session A) holds the progress row while beat 2 waits for session B, which
-- another writer's batch may hold while waiting for the progress row: a deadlock. So every
-- writer first takes a transaction advisory lock per (student, lesson), in ascending key
-- order (a batch takes all of its keys before touching any row): row locks of one student's
-- lesson are only ever taken under that lock, and the advisory locks are always taken in the
-- same order. Classid 1 keeps these keys apart from other advisory locks.
--
-- Late beats. Two instances may write beats of one session in the other order than they
-- arrived; a beat older than the session's last one is recorded as an analytics event but
-- credits nothing and does not replace the session's last beat.

CREATE FUNCTION heartbeat_lock_key(p_user uuid, p_lesson uuid) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtext(p_user::text || p_lesson::text)
$$;

CREATE OR REPLACE FUNCTION record_heartbeat(
    p_channel uuid,
    p_user uuid,
    p_lesson uuid,
    p_session text,
    p_position numeric,
    p_playing boolean,
    p_max_rate numeric,
    p_completion_ratio numeric,
    p_staff_roles text[],
    p_now timestamptz DEFAULT NULL,  -- when the beat arrived; NULL: now
    OUT status text,
    OUT course_id uuid,
    OUT credited numeric,
    OUT watched_seconds numeric,
    OUT completed_now boolean,
    OUT completion_pending boolean
) LANGUAGE plpgsql AS $$
DECLARE
    now_at timestamptz := coalesce(p_now, clock_timestamp());
    acc record;
    prev record;
    had_prev boolean;
    staff boolean;
    duration numeric;
    a numeric;
    b numeric;
    elapsed numeric;
    progress record;
BEGIN
    PERFORM set_config('app.channel_id', p_channel::text, true),
            set_config('app.user_id', p_user::text, true);
    completed_now := false;
    completion_pending := false;
    credited := 0;

    SELECT m.role, l.course_id, l.status, l.video_object, l.duration_seconds,
           c.status AS course_status, e.id AS enrollment_id
      INTO acc
      FROM (SELECT 1) AS one
      LEFT JOIN memberships m ON m.channel_id = app_channel_id() AND m.user_id = p_user
      LEFT JOIN lessons l ON l.id = p_lesson AND l.channel_id = app_channel_id()
      LEFT JOIN courses c ON c.id = l.course_id AND c.channel_id = app_channel_id()
      LEFT JOIN enrollments e ON e.channel_id = app_channel_id() AND e.course_id = l.course_id
            AND e.user_id = p_user AND e.status = 'active';
    IF acc.role IS NULL THEN
        status := 'no_channel';
        RETURN;
    END IF;
    staff := acc.role = ANY (p_staff_roles);
    IF acc.course_id IS NULL OR (acc.course_status = 'draft' AND NOT staff) THEN
        status := 'no_lesson';
        RETURN;
    END IF;
    IF NOT staff AND acc.enrollment_id IS NULL THEN
        status := 'not_enrolled';
        RETURN;
    END IF;
    IF acc.status IS DISTINCT FROM 'ready' OR coalesce(acc.video_object, '') = ''
       OR coalesce(acc.duration_seconds, 0) = 0 THEN
        status := 'no_video';
        RETURN;
    END IF;
    status := 'ok';
    course_id := acc.course_id;
    duration := acc.duration_seconds;

    PERFORM pg_advisory_xact_lock(1, heartbeat_lock_key(p_user, p_lesson));

    -- Swap the session's last heartbeat for this one, unless this one is older (late).
    UPDATE watch_sessions w
       SET position = p_position, playing = p_playing, last_seen_at = now_at,
           beats = w.beats + 1
      FROM (SELECT o.position, o.playing, o.last_seen_at
              FROM watch_sessions o
             WHERE o.user_id = p_user AND o.lesson_id = p_lesson AND o.session_id = p_session
               FOR UPDATE) AS old
     WHERE w.user_id = p_user AND w.lesson_id = p_lesson AND w.session_id = p_session
       AND old.last_seen_at <= now_at
    RETURNING old.position, old.playing, old.last_seen_at INTO prev;
    had_prev := FOUND;
    IF NOT had_prev THEN
        -- First beat of the session, or a late one (the insert then does nothing).
        INSERT INTO watch_sessions (channel_id, user_id, lesson_id, session_id, position,
                                    playing, started_at, last_seen_at)
        VALUES (p_channel, p_user, p_lesson, p_session, p_position, p_playing, now_at, now_at)
        ON CONFLICT (user_id, lesson_id, session_id) DO NOTHING;
    END IF;

    -- shared.domain.watch.credited_interval (see 0018).
    IF had_prev AND prev.playing THEN
        a := watch_clamp(prev.position, duration);
        b := watch_clamp(p_position, duration);
        elapsed := extract(epoch FROM now_at) - extract(epoch FROM prev.last_seen_at);
        IF b > a AND elapsed > 0 THEN
            b := round(least(b, a + elapsed * p_max_rate), 3);
            a := round(a, 3);
            IF b <= a THEN
                a := NULL;
            END IF;
        ELSE
            a := NULL;
        END IF;
    END IF;
    credited := coalesce(b - a, 0);

    INSERT INTO analytics_events (channel_id, user_id, event_type, metadata, occurred_at)
    VALUES (p_channel, p_user, 'lesson.heartbeat', jsonb_build_object(
        'lesson_id', p_lesson, 'course_id', acc.course_id, 'session_id', p_session,
        'position', p_position, 'playing', p_playing, 'watch_seconds', credited), now_at);

    IF a IS NULL THEN
        RETURN;
    END IF;

    INSERT INTO lesson_progress AS lp (channel_id, user_id, lesson_id, course_id, watched,
                                       watched_seconds)
    VALUES (p_channel, p_user, p_lesson, acc.course_id, nummultirange(numrange(a, b)), b - a)
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET
        watched = lp.watched + EXCLUDED.watched,
        watched_seconds = multirange_length(lp.watched + EXCLUDED.watched),
        updated_at = now()
    RETURNING lp.watched_seconds, lp.completed_at, lp.completion_emitted INTO progress;
    watched_seconds := progress.watched_seconds;

    IF progress.completed_at IS NULL
       AND progress.watched_seconds >= round(duration * p_completion_ratio, 3) THEN
        UPDATE lesson_progress SET completed_at = now(), completed_by = 'watch'
         WHERE user_id = p_user AND lesson_id = p_lesson;
        completed_now := true;
    END IF;
    completion_pending := (completed_now OR progress.completed_at IS NOT NULL)
                          AND NOT progress.completion_emitted;
END $$;

-- p_beats: a JSON array of {"c": channel, "u": user, "l": lesson (or null), "s": session,
-- "pos": position, "pl": playing, "at": arrival time}. One row per beat, `i` its index.
CREATE FUNCTION record_heartbeats(
    p_beats jsonb,
    p_max_rate numeric,
    p_completion_ratio numeric,
    p_staff_roles text[]
) RETURNS TABLE (i int, status text, course_id uuid, credited numeric,
                 watched_seconds numeric, completed_now boolean, completion_pending boolean)
LANGUAGE plpgsql AS $$
DECLARE
    beat record;
BEGIN
    PERFORM pg_advisory_xact_lock(1, k.key)
       FROM (SELECT DISTINCT heartbeat_lock_key((e->>'u')::uuid, (e->>'l')::uuid) AS key
               FROM jsonb_array_elements(p_beats) AS e
              WHERE e->>'l' IS NOT NULL
              ORDER BY 1) AS k;
    FOR beat IN
        SELECT (x.n - 1)::int AS n, x.e
          FROM jsonb_array_elements(p_beats) WITH ORDINALITY AS x(e, n)
         ORDER BY (x.e->>'at')::timestamptz, x.n
    LOOP
        i := beat.n;
        BEGIN
            SELECT r.status, r.course_id, r.credited, r.watched_seconds, r.completed_now,
                   r.completion_pending
              INTO status, course_id, credited, watched_seconds, completed_now,
                   completion_pending
              FROM record_heartbeat((beat.e->>'c')::uuid, (beat.e->>'u')::uuid,
                                    (beat.e->>'l')::uuid, beat.e->>'s',
                                    (beat.e->>'pos')::numeric, (beat.e->>'pl')::boolean,
                                    p_max_rate, p_completion_ratio, p_staff_roles,
                                    (beat.e->>'at')::timestamptz) AS r;
        EXCEPTION WHEN OTHERS THEN
            -- This beat alone is lost (its subtransaction rolled back); the caller logs it.
            status := 'error: ' || SQLERRM;
            course_id := NULL;
            credited := 0;
            watched_seconds := NULL;
            completed_now := false;
            completion_pending := false;
        END;
        RETURN NEXT;
    END LOOP;
END $$;

REVOKE EXECUTE ON FUNCTION record_heartbeats(jsonb, numeric, numeric, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_heartbeats(jsonb, numeric, numeric, text[]) TO platform_app;
