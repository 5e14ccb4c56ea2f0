-- Watch progress: per-session heartbeat state and per-student lesson progress.
--
-- The hot path (POST .../heartbeats) touches two rows of its own, both with single atomic
-- statements, so concurrent viewers never read-modify-write:
--   watch_sessions   the last heartbeat of one player session (swapped by one upsert that
--                    also returns the previous one: the server-clock elapsed time between
--                    them caps what can be credited);
--   lesson_progress  the union of credited intervals as a nummultirange; a new interval is
--                    merged with `watched + nummultirange(numrange(a, b))` inside the
--                    UPDATE, under the row lock, so two tabs of one student cannot lose
--                    each other's seconds, and replays/seeks never count a second twice.

CREATE TABLE watch_sessions (
    channel_id    uuid NOT NULL REFERENCES channels (id),
    user_id       uuid NOT NULL REFERENCES users (id),
    lesson_id     uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    session_id    text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 64),
    position      numeric(10, 3) NOT NULL,
    playing       boolean NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    beats         int NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, lesson_id, session_id)
);
CREATE INDEX watch_sessions_last_seen ON watch_sessions (last_seen_at);
SELECT apply_tenant_policy('watch_sessions');

CREATE TABLE lesson_progress (
    channel_id       uuid NOT NULL REFERENCES channels (id),
    user_id          uuid NOT NULL REFERENCES users (id),
    lesson_id        uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    course_id        uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    watched          nummultirange NOT NULL DEFAULT '{}',
    watched_seconds  numeric(12, 3) NOT NULL DEFAULT 0,
    completed_at     timestamptz,
    completed_by     text CHECK (completed_by IN ('watch', 'explicit')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX lesson_progress_course ON lesson_progress (user_id, course_id);
SELECT apply_tenant_policy('lesson_progress');

-- Total length of a union of ranges (distinct watched seconds).
CREATE FUNCTION multirange_length(m nummultirange) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(sum(upper(r) - lower(r)), 0) FROM unnest(m) AS r
$$;

-- Forget player sessions nobody has heard from for a day (cron). Cross-channel: definer.
CREATE FUNCTION learning_prune_sessions(max_age interval DEFAULT interval '1 day')
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (DELETE FROM watch_sessions WHERE last_seen_at < now() - max_age RETURNING 1)
    SELECT count(*) FROM gone
$$;
GRANT SELECT, DELETE ON watch_sessions TO platform_system;
ALTER FUNCTION learning_prune_sessions(interval) OWNER TO platform_system;
GRANT EXECUTE ON FUNCTION learning_prune_sessions(interval) TO platform_app;
