-- Live classes driven by Zoom's webhooks (issue 11): session status from meeting.started /
-- ended, attendance from participant joins and leaves, each delivery recorded once, reminders
-- claimed once per student, session and kind, and private calendar feeds.

-- A session is scheduled, live (Zoom says it started), ended, or cancelled (by us).
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_status_check;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_status_check
    CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled'));
ALTER TABLE live_sessions
    ADD COLUMN started_at timestamptz,
    ADD COLUMN ended_at timestamptz,
    -- iCalendar SEQUENCE: calendar apps update an event (same UID) only when it grows.
    ADD COLUMN ics_sequence int NOT NULL DEFAULT 0;

-- Every change a calendar shows (a move, a new length or title, a cancellation) bumps the
-- sequence, whichever code path made it.
CREATE FUNCTION live_sessions_bump_sequence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.starts_at IS DISTINCT FROM OLD.starts_at
       OR NEW.duration_minutes IS DISTINCT FROM OLD.duration_minutes
       OR NEW.title IS DISTINCT FROM OLD.title
       OR (NEW.status = 'cancelled') IS DISTINCT FROM (OLD.status = 'cancelled') THEN
        NEW.ics_sequence := OLD.ics_sequence + 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER live_sessions_sequence BEFORE UPDATE ON live_sessions
    FOR EACH ROW EXECUTE FUNCTION live_sessions_bump_sequence();
REVOKE EXECUTE ON FUNCTION live_sessions_bump_sequence() FROM PUBLIC;

-- The share of a session's scheduled length a student must attend to count as present.
ALTER TABLE channels ADD COLUMN live_attendance_threshold_pct int NOT NULL DEFAULT 50
    CHECK (live_attendance_threshold_pct BETWEEN 1 AND 100);

-- Each verified Zoom delivery once: the key is Zoom's event, event_ts and a hash of the
-- payload (a redelivery is byte-identical in those). Only routed deliveries are stored: an
-- unsigned or foreign request writes nothing.
CREATE TABLE live_webhook_deliveries (
    channel_id   uuid NOT NULL REFERENCES channels (id),
    dedupe_key   text NOT NULL CHECK (char_length(dedupe_key) = 64),
    session_id   uuid NOT NULL REFERENCES live_sessions (id),
    event        text NOT NULL CHECK (char_length(event) BETWEEN 1 AND 100),
    event_ts     timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, dedupe_key)
);
CREATE INDEX live_webhook_deliveries_session ON live_webhook_deliveries (session_id);
SELECT apply_tenant_policy('live_webhook_deliveries');

-- Participant joins and leaves as Zoom reported them: one row per device event. Intervals are
-- paired and unioned when read (shared/live/attendance_rules.py), so duplicates, reconnects
-- and out-of-order delivery never change the sum. No user is attributed here: matching (by
-- registrant id, else email) happens on read against the batch's students.
CREATE TABLE live_participant_events (
    id              uuid PRIMARY KEY,
    channel_id      uuid NOT NULL REFERENCES channels (id),
    session_id      uuid NOT NULL REFERENCES live_sessions (id),
    device_key      text NOT NULL CHECK (char_length(device_key) BETWEEN 1 AND 300),
    kind            text NOT NULL CHECK (kind IN ('join', 'leave')),
    at              timestamptz NOT NULL,
    registrant_id   text CHECK (char_length(registrant_id) <= 200),
    email           text CHECK (char_length(email) <= 320),
    display_name    text CHECK (char_length(display_name) <= 300),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, device_key, kind, at)
);
CREATE INDEX live_participant_events_email ON live_participant_events (session_id, lower(email));
SELECT apply_tenant_policy('live_participant_events');

-- Zoom registrant ids of our students, when a join went through registration.
CREATE TABLE live_registrants (
    channel_id     uuid NOT NULL REFERENCES channels (id),
    session_id     uuid NOT NULL REFERENCES live_sessions (id),
    user_id        uuid NOT NULL REFERENCES users (id),
    registrant_id  text NOT NULL CHECK (char_length(registrant_id) BETWEEN 1 AND 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, user_id),
    UNIQUE (session_id, registrant_id)
);
SELECT apply_tenant_policy('live_registrants');

-- Reminder mails: a row claims (student, session, kind) before the mail is sent, so two cron
-- runs never both send it.
CREATE TABLE live_reminders (
    channel_id   uuid NOT NULL REFERENCES channels (id),
    session_id   uuid NOT NULL REFERENCES live_sessions (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    kind         text NOT NULL CHECK (kind IN ('24h', '1h')),
    starts_at    timestamptz NOT NULL,   -- the start the mail announced
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, user_id, kind)
);
SELECT apply_tenant_policy('live_reminders');

-- A user's private calendar feed: the URL carries a signed token naming the user and this
-- nonce; asking for the URL again replaces the nonce, which revokes the old URL.
CREATE TABLE calendar_feeds (
    user_id     uuid PRIMARY KEY REFERENCES users (id),
    nonce       text NOT NULL CHECK (char_length(nonce) BETWEEN 16 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON calendar_feeds TO platform_app;

-- Zoom's webhooks name an account and a meeting, not a channel: the live webhook finds the
-- session across tenants here, and only a session whose meeting lives under that account
-- answers (an event from another account changes nothing).
CREATE FUNCTION live_session_of(p_account_id text, p_meeting_id text)
RETURNS TABLE (channel_id uuid, session_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.channel_id, s.id FROM live_sessions s
     WHERE s.provider = 'zoom' AND s.provider_meeting_id = p_meeting_id
       AND s.provider_account_id = p_account_id
$$;
ALTER FUNCTION live_session_of(text, text) OWNER TO platform_system;
GRANT SELECT ON live_sessions TO platform_system;

-- The reminder cron's cross-channel view: scheduled sessions starting within a day.
CREATE FUNCTION live_sessions_starting(p_within interval, p_limit int)
RETURNS TABLE (channel_id uuid, session_id uuid, starts_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.channel_id, s.id, s.starts_at FROM live_sessions s
     WHERE s.status = 'scheduled' AND s.starts_at > now() AND s.starts_at <= now() + p_within
     ORDER BY s.starts_at LIMIT p_limit
$$;
ALTER FUNCTION live_sessions_starting(interval, int) OWNER TO platform_system;
CREATE INDEX live_sessions_scheduled_start ON live_sessions (starts_at)
    WHERE status = 'scheduled';

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['platform_fn_live_webhook', 'platform_fn_live_reminders'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', r);
        END IF;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION live_session_of(text, text) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION live_session_of(text, text) TO platform_fn_live_webhook;
REVOKE EXECUTE ON FUNCTION live_sessions_starting(interval, int) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION live_sessions_starting(interval, int) TO platform_fn_live_reminders;
