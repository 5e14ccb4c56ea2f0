-- Outbound webhooks (issue 15): endpoints a channel's owners/admins register, and one delivery
-- per (endpoint, domain event) with its attempt log. Both are tenant tables under RLS.
--
-- The signing secret is kept here because HMAC signing needs it in clear at send time (a hash
-- cannot sign); only the delivery worker and the create answer ever read it, no list returns it
-- (docs/decisions/outbound-webhooks.md).
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    channel_id      uuid NOT NULL REFERENCES channels (id),
    url             text NOT NULL CHECK (length(url) <= 2048),
    events          text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 50),
    secret          text NOT NULL,
    status          text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason text,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz
);
CREATE INDEX webhook_endpoints_channel ON webhook_endpoints (channel_id, id);
SELECT apply_tenant_policy('webhook_endpoints');

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    channel_id       uuid NOT NULL REFERENCES channels (id),
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,       -- the outbox event; one delivery per endpoint and event
    event_type       text NOT NULL,       -- the public webhook type (integrations.rules.EVENT_TYPES)
    payload          jsonb NOT NULL,      -- the signed body, fixed at fan-out so retries are equal
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         int NOT NULL DEFAULT 0,
    replays          int NOT NULL DEFAULT 0,
    last_status_code int,
    last_latency_ms  int,
    last_error       text,
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
SELECT apply_tenant_policy('webhook_deliveries');
