-- Heartbeats in one round trip.
--
-- POST .../heartbeats is the hottest write of the platform. It used to take four round trips
-- (BEGIN + tenant context, access check + session swap, interval merge + analytics event,
-- COMMIT). record_heartbeat() does all of it server-side, called as ONE statement in
-- autocommit mode (its own implicit transaction): the tenant context is set with
-- set_config(..., is_local => true), so it lives exactly as long as that implicit transaction
-- and a pooled connection never carries it further. SECURITY INVOKER (the default): every
-- statement below runs as the caller, under the same row-level security as before.
--
-- The rules are the ones of shared/domain/watch.py (the reference model; tests drive both with
-- the same beats and compare). The numbers of those rules (MAX_PLAYBACK_RATE,
-- COMPLETION_RATIO) and the staff roles that may preview (shared/domain/policy.py) are
-- arguments, so Python stays their single source.
--
-- Completion events (outbox lesson.completed / course.completed) stay in Python
-- (shared/progress.py `_lesson_completed`), run in a normal transaction only when this
-- function reports a completion not yet emitted. `completion_emitted` makes that exactly-once
-- and crash-safe: the Python transaction claims the flag (UPDATE ... WHERE NOT
-- completion_emitted) together with the outbox rows, and until it has committed every
-- heartbeat that merges into the row reports the completion as pending again.

ALTER TABLE lesson_progress ADD COLUMN completion_emitted boolean NOT NULL DEFAULT false;
-- Rows completed before this migration had their events emitted in the same transaction.
UPDATE lesson_progress SET completion_emitted = true WHERE completed_at IS NOT NULL;

-- shared.domain.watch.clamp_position: non-finite or negative -> 0, at most the duration.
-- (numeric NaN sorts above every number, so it must be caught before least().)
CREATE FUNCTION watch_clamp(p numeric, duration numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p IS NULL OR p = 'NaN' OR p < 0 OR p = 'Infinity' THEN 0
                ELSE least(p, duration) END
$$;

CREATE FUNCTION record_heartbeat(
    p_channel uuid,
    p_user uuid,
    p_lesson uuid,              -- NULL when the path segment was not a uuid: 'no_lesson'
    p_session text,
    p_position numeric,
    p_playing boolean,
    p_max_rate numeric,         -- shared.domain.watch.MAX_PLAYBACK_RATE
    p_completion_ratio numeric, -- shared.domain.watch.COMPLETION_RATIO
    p_staff_roles text[],       -- roles allowed "lesson.watch_any" (preview without enrolling)
    p_now timestamptz DEFAULT NULL,  -- tests simulate the server clock; production: NULL
    OUT status text,            -- ok | no_channel | no_lesson | not_enrolled | no_video
    OUT course_id uuid,
    OUT credited numeric,       -- seconds credited by this beat (0 when none)
    OUT watched_seconds numeric,    -- distinct seconds after this beat (NULL: nothing merged)
    OUT completed_now boolean,      -- this beat crossed the completion threshold
    OUT completion_pending boolean  -- complete, but lesson.completed not yet emitted
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

    -- Who may view: shared.learning.authorize_viewer, in its order. Refusals write nothing.
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

    -- Swap the session's last heartbeat for this one. The row lock (FOR UPDATE) serializes
    -- two beats of one session, so each sees the other's server time, never the same one.
    SELECT w.position, w.playing, w.last_seen_at INTO prev
      FROM watch_sessions w
     WHERE w.user_id = p_user AND w.lesson_id = p_lesson AND w.session_id = p_session
       FOR UPDATE;
    had_prev := FOUND;
    IF had_prev THEN
        UPDATE watch_sessions w
           SET position = p_position, playing = p_playing, last_seen_at = now_at,
               beats = w.beats + 1
         WHERE w.user_id = p_user AND w.lesson_id = p_lesson AND w.session_id = p_session;
    ELSE
        -- First beat of a session (a concurrent twin loses quietly: it credits nothing).
        INSERT INTO watch_sessions (channel_id, user_id, lesson_id, session_id, position,
                                    playing, started_at, last_seen_at)
        VALUES (p_channel, p_user, p_lesson, p_session, p_position, p_playing, now_at, now_at)
        ON CONFLICT (user_id, lesson_id, session_id) DO NOTHING;
    END IF;

    -- shared.domain.watch.credited_interval: nothing for the first beat, after a pause, for a
    -- backward seek or without server time passing; a forward span is capped at
    -- elapsed * MAX_PLAYBACK_RATE; positions clamped to [0, duration]; rounded to 3 decimals.
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

    INSERT INTO analytics_events (channel_id, user_id, event_type, metadata)
    VALUES (p_channel, p_user, 'lesson.heartbeat', jsonb_build_object(
        'lesson_id', p_lesson, 'course_id', acc.course_id, 'session_id', p_session,
        'position', p_position, 'playing', p_playing, 'watch_seconds', credited));

    IF a IS NULL THEN
        RETURN;
    END IF;

    -- Merge [a, b) into the union of watched intervals under the row lock: two tabs of one
    -- student never lose each other's seconds, replays never count a second twice.
    INSERT INTO lesson_progress AS lp (channel_id, user_id, lesson_id, course_id, watched,
                                       watched_seconds)
    VALUES (p_channel, p_user, p_lesson, acc.course_id, nummultirange(numrange(a, b)), b - a)
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET
        watched = lp.watched + EXCLUDED.watched,
        watched_seconds = multirange_length(lp.watched + EXCLUDED.watched),
        updated_at = now()
    RETURNING lp.watched_seconds, lp.completed_at, lp.completion_emitted INTO progress;
    watched_seconds := progress.watched_seconds;

    -- shared.domain.watch.completion_threshold / is_complete. The row is still locked by the
    -- upsert above, so this flip cannot race another beat's.
    IF progress.completed_at IS NULL
       AND progress.watched_seconds >= round(duration * p_completion_ratio, 3) THEN
        UPDATE lesson_progress SET completed_at = now(), completed_by = 'watch'
         WHERE user_id = p_user AND lesson_id = p_lesson;
        completed_now := true;
    END IF;
    completion_pending := (completed_now OR progress.completed_at IS NOT NULL)
                          AND NOT progress.completion_emitted;
END $$;

REVOKE EXECUTE ON FUNCTION record_heartbeat(uuid, uuid, uuid, text, numeric, boolean, numeric,
                                            numeric, text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_heartbeat(uuid, uuid, uuid, text, numeric, boolean, numeric,
                                           numeric, text[], timestamptz) TO platform_app;
