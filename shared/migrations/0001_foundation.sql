-- Foundation: roles, tenant context, identity, channels, memberships, audit log, outbox,
-- processed events, idempotency keys, rate-limit counters.
--
-- Role model (see README "Tenancy"):
--   migration role  owns the tables; FORCE ROW LEVEL SECURITY applies to it too.
--   platform_app    NOLOGIN group of the roles the functions log in as; tenant policies only.
--   platform_system NOLOGIN; owns the few SECURITY DEFINER functions that do cross-channel
--                   system work (outbox relay, audit chaining, webhook lookups). Nobody logs
--                   in as it and platform_app is not a member: the only way across tenants
--                   is to call one of those functions.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'platform_app') THEN
        CREATE ROLE platform_app NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'platform_system') THEN
        CREATE ROLE platform_system NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
GRANT platform_system TO CURRENT_USER;  -- so migrations can hand functions to it

GRANT USAGE ON SCHEMA public TO platform_app;
-- platform_system must be able to own the definer functions it runs; nobody logs in as it.
GRANT USAGE, CREATE ON SCHEMA public TO platform_system;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The tenant and actor of the current transaction; '' or unset means none (no tenant rows).
CREATE FUNCTION app_channel_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.channel_id', true), '')::uuid $$;
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

-- Every tenant table gets the same two policies: the app role sees and writes only rows of
-- the transaction's channel; platform_system (definer functions only) sees all.
CREATE FUNCTION apply_tenant_policy(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s TO platform_app'
                   ' USING (channel_id = app_channel_id())'
                   ' WITH CHECK (channel_id = app_channel_id())', t);
    EXECUTE format('CREATE POLICY system_access ON %s TO platform_system USING (true)', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO platform_app', t);
END $$;

-- Identity: global accounts ------------------------------------------------------------
CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    display_name        text NOT NULL,
    password_hash       text,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    erased_at           timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    family_id   uuid NOT NULL,              -- one login; reuse revokes the whole family
    token_hash  bytea NOT NULL UNIQUE,      -- sha256 of the opaque token; never the token
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE password_reset_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Channels: the tenants --------------------------------------------------------------
CREATE TABLE channels (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$'),
    name        text NOT NULL,
    theme       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by  uuid NOT NULL REFERENCES users (id),
    -- payments (kept current by stripe_webhook) and platform plan
    stripe_account_id  text UNIQUE,
    charges_enabled    boolean NOT NULL DEFAULT false,
    payouts_enabled    boolean NOT NULL DEFAULT false,
    plan               text NOT NULL DEFAULT 'free',
    plan_status        text NOT NULL DEFAULT 'active' CHECK (plan_status IN ('active', 'grace', 'canceled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;
-- Slug, name and theme are public (landing pages); only the tenant itself may change them.
CREATE POLICY channels_read ON channels FOR SELECT TO platform_app USING (true);
CREATE POLICY channels_create ON channels FOR INSERT TO platform_app
    WITH CHECK (created_by = app_user_id());
CREATE POLICY channels_update ON channels FOR UPDATE TO platform_app
    USING (id = app_channel_id()) WITH CHECK (id = app_channel_id());
CREATE POLICY channels_system ON channels TO platform_system USING (true);

CREATE TABLE memberships (
    channel_id  uuid NOT NULL REFERENCES channels (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'instructor', 'moderator', 'student')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
-- A user sees their own memberships everywhere (GET /v1/me); everything else per tenant.
CREATE POLICY memberships_read ON memberships FOR SELECT TO platform_app
    USING (channel_id = app_channel_id() OR user_id = app_user_id());
CREATE POLICY memberships_write ON memberships FOR INSERT TO platform_app
    WITH CHECK (channel_id = app_channel_id());
CREATE POLICY memberships_update ON memberships FOR UPDATE TO platform_app
    USING (channel_id = app_channel_id()) WITH CHECK (channel_id = app_channel_id());
CREATE POLICY memberships_delete ON memberships FOR DELETE TO platform_app
    USING (channel_id = app_channel_id());
CREATE POLICY memberships_system ON memberships TO platform_system USING (true);

-- Audit log: append-only, hash-chained per channel (NULL channel = the platform chain) -----
CREATE TABLE audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id     uuid REFERENCES channels (id),
    seq            bigint NOT NULL,          -- position in its channel's chain
    actor_user_id  uuid,
    action         text NOT NULL,
    target_type    text,
    target_id      text,
    request_id     text,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    prev_hash      bytea,
    hash           bytea NOT NULL
);
CREATE UNIQUE INDEX audit_log_chain ON audit_log (coalesce(channel_id, '00000000-0000-0000-0000-000000000000'::uuid), seq);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON audit_log FOR SELECT TO platform_app
    USING (channel_id = app_channel_id());
CREATE POLICY audit_append ON audit_log FOR INSERT TO platform_app
    WITH CHECK (channel_id IS NULL OR channel_id = app_channel_id());
CREATE POLICY audit_system ON audit_log FOR SELECT TO platform_system USING (true);

-- The canonical text a row's hash covers; the verifier in shared/audit.py uses the same.
CREATE FUNCTION audit_canonical(a audit_log) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(concat_ws('|',
        coalesce(a.channel_id::text, ''), a.seq::text, coalesce(a.actor_user_id::text, ''),
        a.action, coalesce(a.target_type, ''), coalesce(a.target_id, ''),
        coalesce(a.request_id, ''), a.details::text,
        to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'UTF8')
$$;

CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    last record;
BEGIN
    -- Serialize appends per channel so the chain has no forks.
    PERFORM pg_advisory_xact_lock(hashtext('audit:' || coalesce(NEW.channel_id::text, 'platform')));
    SELECT seq, hash INTO last FROM audit_log
     WHERE channel_id IS NOT DISTINCT FROM NEW.channel_id
     ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(last.seq, 0) + 1;
    NEW.prev_hash := last.hash;
    NEW.occurred_at := date_trunc('microseconds', clock_timestamp());
    NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || audit_canonical(NEW));
    RETURN NEW;
END $$;
ALTER FUNCTION audit_chain() OWNER TO platform_system;

CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- Outbox: domain events written in the same transaction as the data -------------------
CREATE TABLE outbox (
    id            uuid PRIMARY KEY,
    channel_id    uuid NOT NULL REFERENCES channels (id),
    event_type    text NOT NULL,
    payload       jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      int NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (occurred_at) WHERE published_at IS NULL;
SELECT apply_tenant_policy('outbox');

-- The sweeper's only way across tenants: claim a batch of old unpublished events.
CREATE FUNCTION outbox_claim_stale(min_age interval, max_rows int)
RETURNS SETOF outbox LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE outbox SET attempts = attempts + 1
     WHERE id IN (SELECT id FROM outbox
                   WHERE published_at IS NULL AND occurred_at < now() - min_age
                   ORDER BY occurred_at LIMIT max_rows FOR UPDATE SKIP LOCKED)
    RETURNING *
$$;
CREATE FUNCTION outbox_mark_published(ids uuid[]) RETURNS void LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    UPDATE outbox SET published_at = now() WHERE id = ANY(ids) AND published_at IS NULL
$$;
ALTER FUNCTION outbox_claim_stale(interval, int) OWNER TO platform_system;
ALTER FUNCTION outbox_mark_published(uuid[]) OWNER TO platform_system;

-- Idempotent consumers: one row per (consumer, message id), written with the effects ----
CREATE TABLE processed_events (
    consumer      text NOT NULL,
    event_id      text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Idempotency-Key for creating POSTs (per user, 24 h) --------------------------------
CREATE TABLE idempotency_keys (
    user_key      text NOT NULL,      -- user id, or client ip for anonymous routes
    idem_key      text NOT NULL,
    route         text NOT NULL,
    request_hash  bytea NOT NULL,
    status        int,                -- NULL while the first request is in flight
    response      bytea,
    content_type  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_key, idem_key)
);

-- Fixed-window rate-limit counters -----------------------------------------------------
CREATE TABLE rate_limit_counters (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          int NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- Grants: the app role reads and writes, but never rewrites history.
GRANT SELECT, INSERT, UPDATE, DELETE ON users, refresh_tokens, password_reset_tokens, channels,
    memberships, outbox, processed_events, idempotency_keys, rate_limit_counters TO platform_app;
GRANT SELECT, INSERT ON audit_log TO platform_app;
GRANT SELECT, UPDATE ON outbox TO platform_system;
GRANT SELECT ON audit_log, channels, memberships TO platform_system;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM platform_app;
GRANT EXECUTE ON FUNCTION outbox_claim_stale(interval, int), outbox_mark_published(uuid[])
    TO platform_app;
