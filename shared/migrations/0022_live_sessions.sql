-- Live classes of a batch (cohort), scheduled at the live provider (Zoom first).
--
-- A row exists only once the provider has the meeting: the use case creates the meeting
-- first and inserts the row afterwards (deleting the meeting again if the insert fails), so
-- there is no half-created state to store. A cancelled session keeps its row (attendance and
-- recordings will point at it); its meeting is gone at the provider.

CREATE TABLE live_sessions (
    id                   uuid PRIMARY KEY,
    channel_id           uuid NOT NULL REFERENCES channels (id),
    batch_id             uuid NOT NULL REFERENCES batches (id),
    title                text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    starts_at            timestamptz NOT NULL,
    duration_minutes     int NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    provider             text NOT NULL CHECK (provider IN ('zoom')),
    provider_meeting_id  text NOT NULL,
    join_url             text NOT NULL,
    start_url            text NOT NULL,      -- the host's link: staff who may run the class only
    status               text NOT NULL DEFAULT 'scheduled'
                         CHECK (status IN ('scheduled', 'cancelled')),
    created_by           uuid NOT NULL REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    cancelled_at         timestamptz,
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    -- The live webhook finds the session of a provider event by the provider's meeting id.
    UNIQUE (provider, provider_meeting_id)
);
CREATE INDEX live_sessions_batch ON live_sessions (batch_id, id);
SELECT apply_tenant_policy('live_sessions');
