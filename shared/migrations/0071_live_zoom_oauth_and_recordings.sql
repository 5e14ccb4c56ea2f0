-- Live classes, issue 11 items 1 and 4: the OAuth connect flow's single-use states, the intent
-- written before a meeting is created at Zoom (so a crash between Zoom's answer and our insert
-- leaves something a sweeper can find), who asked to join, and recordings becoming lessons.

-- One row per authorization link handed out: the signed `state` names it, the callback claims
-- it once (used_at) before it expires.
CREATE TABLE zoom_oauth_states (
    id          uuid PRIMARY KEY,
    channel_id  uuid NOT NULL REFERENCES channels (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX zoom_oauth_states_channel ON zoom_oauth_states (channel_id, created_at);
SELECT apply_tenant_policy('zoom_oauth_states');

-- Written and committed before Zoom is asked to create a meeting; deleted in the transaction
-- that inserts the session. One still here after a while is a meeting Zoom may have made that
-- no session points at: the live sweeper finds it (by this id in its agenda) and deletes it.
CREATE TABLE live_meeting_intents (
    id          uuid PRIMARY KEY,
    channel_id  uuid NOT NULL REFERENCES channels (id),
    account_id  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempts    int NOT NULL DEFAULT 0
);
CREATE INDEX live_meeting_intents_age ON live_meeting_intents (created_at);
SELECT apply_tenant_policy('live_meeting_intents');

-- Who asked for a class's join link (POST .../join): the intent, before Zoom says who came.
CREATE TABLE live_session_join_requests (
    channel_id          uuid NOT NULL REFERENCES channels (id),
    session_id          uuid NOT NULL REFERENCES live_sessions (id),
    user_id             uuid NOT NULL REFERENCES users (id),
    first_requested_at  timestamptz NOT NULL DEFAULT now(),
    last_requested_at   timestamptz NOT NULL DEFAULT now(),
    requests            int NOT NULL DEFAULT 1,
    PRIMARY KEY (session_id, user_id)
);
SELECT apply_tenant_policy('live_session_join_requests');

-- A recording's way into a lesson: one row per session (duplicate deliveries find it), with
-- the GCS resumable upload session and how far it got, so a crashed ingest continues.
-- The provider's download token is never stored: it travels only in the task body.
CREATE TABLE live_recording_ingests (
    id               uuid PRIMARY KEY,
    channel_id       uuid NOT NULL REFERENCES channels (id),
    session_id       uuid NOT NULL UNIQUE REFERENCES live_sessions (id),
    provider_file_id text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'downloading', 'stored', 'lesson_pending',
                                       'ready', 'failed')),
    size_bytes       bigint CHECK (size_bytes > 0),
    object_name      text,            -- in the recordings bucket
    upload_uri       text,            -- the GCS resumable session of object_name
    bytes_stored     bigint NOT NULL DEFAULT 0,
    retain_until     timestamptz,     -- the object's customTime
    lesson_id        uuid REFERENCES lessons (id) ON DELETE SET NULL,
    upload_id        uuid REFERENCES uploads (id),
    error            text,
    attempts         int NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('live_recording_ingests');

ALTER TABLE live_sessions
    ADD COLUMN recording_lesson_id uuid REFERENCES lessons (id) ON DELETE SET NULL;

-- The live sweeper's only way across tenants: claim a batch of intents older than min_age
-- (a create at Zoom times out long before), bumping attempts so a failing one backs off.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'platform_fn_live_sweeper') THEN
        CREATE ROLE platform_fn_live_sweeper NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
GRANT SELECT, UPDATE ON live_meeting_intents TO platform_system;
CREATE FUNCTION live_claim_stale_intents(min_age interval, max_rows int)
RETURNS TABLE (channel_id uuid, id uuid) LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    UPDATE live_meeting_intents SET attempts = attempts + 1
     WHERE live_meeting_intents.id IN (
           SELECT i.id FROM live_meeting_intents i
            WHERE i.created_at < now() - min_age * (1 + least(i.attempts, 20))
            ORDER BY i.created_at LIMIT max_rows FOR UPDATE SKIP LOCKED)
    RETURNING live_meeting_intents.channel_id, live_meeting_intents.id
$$;
ALTER FUNCTION live_claim_stale_intents(interval, int) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION live_claim_stale_intents(interval, int) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION live_claim_stale_intents(interval, int) TO platform_fn_live_sweeper;
