-- Payments with Stripe Connect: received Stripe events, checkout sessions, payments, the revenue
-- ledger, disputes (admin queue), payout accounts and channel plan subscriptions.
--
-- Money is integer minor units + ISO currency everywhere. Every table with channel_id is a tenant
-- table (apply_tenant_policy). Stripe state that can arrive out of order carries the `created`
-- time (unix seconds) of the newest Stripe event applied to it (`state_version`): an older event
-- never rolls it back.

-- Every verified Stripe event, recorded once (the webhook's processed-events table). Not a
-- tenant table: the event id is claimed before the channel is known, and the row holds no
-- channel data. `payload` is kept only for `deferred` events (their channel could not be
-- resolved yet; they are replayed when the payment they refer to arrives).
CREATE TABLE stripe_events (
    id            text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]+$'),
    type          text NOT NULL,
    created       timestamptz NOT NULL,         -- Stripe's event.created
    livemode      boolean NOT NULL DEFAULT false,
    account       text,                         -- connected account of a Connect event
    object_id     text,
    status        text NOT NULL DEFAULT 'processing'
                  CHECK (status IN ('processing', 'processed', 'ignored', 'deferred')),
    detail        text,
    related       text,                         -- payment intent/charge a deferred event waits for
    payload       jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz
);
CREATE INDEX stripe_events_deferred ON stripe_events (related) WHERE status = 'deferred';
GRANT SELECT, INSERT, UPDATE ON stripe_events TO platform_app;

-- Checkout Sessions we created: course purchases and plan subscriptions ------------------
CREATE TABLE checkout_sessions (
    id                      text PRIMARY KEY,       -- cs_...
    channel_id              uuid NOT NULL REFERENCES channels (id),
    purpose                 text NOT NULL CHECK (purpose IN ('course', 'plan')),
    user_id                 uuid NOT NULL REFERENCES users (id),
    course_id               uuid REFERENCES courses (id),
    batch_id                uuid REFERENCES batches (id),
    plan                    text,
    amount                  bigint NOT NULL CHECK (amount >= 0),
    currency                text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    application_fee_amount  bigint CHECK (application_fee_amount >= 0),
    destination_account     text,
    status                  text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'expired')),
    payment_intent_id       text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    completed_at            timestamptz,
    CHECK ((purpose = 'course') = (course_id IS NOT NULL)),
    CHECK ((purpose = 'plan') = (plan IS NOT NULL))
);
CREATE INDEX checkout_sessions_pi ON checkout_sessions (payment_intent_id);
CREATE INDEX checkout_sessions_user ON checkout_sessions (channel_id, user_id, created_at);
SELECT apply_tenant_policy('checkout_sessions');

-- One row per paid (or refunded/disputed) course payment, keyed by its PaymentIntent. Created by
-- whichever Stripe event about it arrives first, so a refund may precede the completion. -----
CREATE TABLE payments (
    id                      uuid PRIMARY KEY,
    channel_id              uuid NOT NULL REFERENCES channels (id),
    payment_intent_id       text NOT NULL,
    charge_id               text,
    checkout_session_id     text,
    user_id                 uuid REFERENCES users (id),
    course_id               uuid REFERENCES courses (id),
    batch_id                uuid REFERENCES batches (id),
    enrollment_id           uuid REFERENCES enrollments (id),
    amount                  bigint CHECK (amount >= 0),
    currency                text CHECK (currency ~ '^[a-z]{3}$'),
    application_fee_amount  bigint NOT NULL DEFAULT 0 CHECK (application_fee_amount >= 0),
    amount_refunded         bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    refunded                boolean NOT NULL DEFAULT false,   -- fully refunded
    dispute_lost            boolean NOT NULL DEFAULT false,
    fulfillment             text NOT NULL DEFAULT 'pending'
                            CHECK (fulfillment IN ('pending', 'enrolled', 'withheld', 'failed')),
    fulfillment_detail      text,
    paid_at                 timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, payment_intent_id)
);
CREATE INDEX payments_pi ON payments (payment_intent_id);
CREATE INDEX payments_charge ON payments (charge_id);
CREATE INDEX payments_updated ON payments (channel_id, updated_at);
SELECT apply_tenant_policy('payments');

-- The revenue ledger: append-only, one row per money movement, signed from the channel's
-- point of view (sale +, platform_fee -, refund -, dispute -, dispute_won +, plan_invoice -).
-- entry_key is the natural key of the movement, so a redelivered event cannot add a row twice.
CREATE TABLE ledger_entries (
    id                uuid PRIMARY KEY,
    channel_id        uuid NOT NULL REFERENCES channels (id),
    entry_key         text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('sale', 'platform_fee', 'refund', 'dispute',
                                                    'dispute_won', 'plan_invoice')),
    amount            bigint NOT NULL,
    currency          text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    payment_id        uuid REFERENCES payments (id),
    course_id         uuid REFERENCES courses (id),
    stripe_object_id  text,
    stripe_event_id   text,
    occurred_at       timestamptz NOT NULL,     -- when it happened at Stripe
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, entry_key)
);
CREATE INDEX ledger_entries_time ON ledger_entries (channel_id, occurred_at);
CREATE INDEX ledger_entries_payment ON ledger_entries (payment_id);
SELECT apply_tenant_policy('ledger_entries');
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_entries FROM platform_app;

-- Disputes: the admin queue (GET {c}/disputes), with their Stripe state ----------------------
CREATE TABLE disputes (
    id                 uuid PRIMARY KEY,
    channel_id         uuid NOT NULL REFERENCES channels (id),
    stripe_dispute_id  text NOT NULL,
    payment_id         uuid REFERENCES payments (id),
    charge_id          text,
    payment_intent_id  text,
    amount             bigint NOT NULL CHECK (amount >= 0),
    currency           text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    reason             text,
    status             text NOT NULL,             -- Stripe's dispute.status
    outcome            text CHECK (outcome IN ('won', 'lost', 'inquiry_closed')),
    evidence_due_by    timestamptz,
    state_version      bigint NOT NULL DEFAULT 0,
    opened_at          timestamptz NOT NULL,
    closed_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, stripe_dispute_id)
);
CREATE INDEX disputes_queue ON disputes (channel_id, opened_at DESC, id DESC);
SELECT apply_tenant_policy('disputes');

-- The channel's Express account (payouts) as account.updated last described it --------------
CREATE TABLE payout_accounts (
    channel_id         uuid PRIMARY KEY REFERENCES channels (id),
    stripe_account_id  text NOT NULL UNIQUE,
    charges_enabled    boolean NOT NULL DEFAULT false,
    payouts_enabled    boolean NOT NULL DEFAULT false,
    details_submitted  boolean NOT NULL DEFAULT false,
    requirements_due   jsonb NOT NULL DEFAULT '[]'::jsonb,
    state_version      bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('payout_accounts');

-- The channel's platform plan subscription (Stripe Billing). channels.plan/plan_status are its
-- projection, read by shared.plans.plan_of. ---------------------------------------------------
CREATE TABLE channel_subscriptions (
    channel_id              uuid PRIMARY KEY REFERENCES channels (id),
    stripe_customer_id      text UNIQUE,
    stripe_subscription_id  text,
    plan                    text NOT NULL DEFAULT 'free',
    status                  text NOT NULL DEFAULT 'none',   -- Stripe's subscription.status
    current_period_end      timestamptz,
    cancel_at_period_end    boolean NOT NULL DEFAULT false,
    grace_since             timestamptz,
    state_version           bigint NOT NULL DEFAULT 0,
    state_event_id          text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channel_subscriptions_sub ON channel_subscriptions (stripe_subscription_id);
SELECT apply_tenant_policy('channel_subscriptions');

-- The webhook's only way across tenants: which channel a Stripe object belongs to. Object ids
-- are Stripe's (pi_, ch_, cs_, cus_, sub_, acct_); the answer is a channel id, nothing else.
CREATE FUNCTION billing_channel_of(object_id text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT channel_id FROM (
        SELECT channel_id, 1 AS o FROM payments
         WHERE payment_intent_id = object_id OR charge_id = object_id
        UNION ALL
        SELECT channel_id, 2 FROM checkout_sessions
         WHERE id = object_id OR payment_intent_id = object_id
        UNION ALL
        SELECT channel_id, 3 FROM channel_subscriptions
         WHERE stripe_customer_id = object_id OR stripe_subscription_id = object_id
        UNION ALL
        SELECT id, 4 FROM channels WHERE stripe_account_id = object_id
    ) s ORDER BY o LIMIT 1
$$;
GRANT SELECT ON payments, checkout_sessions, channel_subscriptions TO platform_system;
ALTER FUNCTION billing_channel_of(text) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION billing_channel_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing_channel_of(text) TO platform_app;
