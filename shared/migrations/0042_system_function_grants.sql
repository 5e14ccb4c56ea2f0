-- Cross-channel system functions (SECURITY DEFINER, owned by platform_system) are callable only
-- by the role of the function that needs them. Until now every function's database user
-- (platform_app) and PUBLIC could call outbox_claim_stale() and read every tenant's unpublished
-- events, or run the analytics maintenance.
--
-- Each role below is NOLOGIN. A function's login user gets its role beside platform_app: in the
-- cloud through google_sql_user.database_roles (terraform/database.tf, local.function_db_roles),
-- in the local stack, where one gateway serves every function, the app login gets them all.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['platform_fn_outbox_sweeper', 'platform_fn_analytics_maintenance',
                             'platform_fn_stripe_webhook', 'platform_fn_billing_reconcile'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', r);
        END IF;
    END LOOP;
END $$;

-- The sweeper: claim old unpublished events of every channel.
REVOKE EXECUTE ON FUNCTION outbox_claim_stale(interval, int) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION outbox_claim_stale(interval, int) TO platform_fn_outbox_sweeper;

-- Every function publishes its own events after commit and marks them by id.
REVOKE EXECUTE ON FUNCTION outbox_mark_published(uuid[]) FROM PUBLIC;

-- Analytics maintenance: partitions, watch-session pruning, rollups.
REVOKE EXECUTE ON FUNCTION analytics_create_partition(date) FROM PUBLIC, platform_app;
REVOKE EXECUTE ON FUNCTION analytics_ensure_partitions(int) FROM PUBLIC, platform_app;
REVOKE EXECUTE ON FUNCTION learning_prune_sessions(interval) FROM PUBLIC, platform_app;
REVOKE EXECUTE ON FUNCTION analytics_roll_forward(interval) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION analytics_ensure_partitions(int), learning_prune_sessions(interval),
    analytics_roll_forward(interval) TO platform_fn_analytics_maintenance;

-- Stripe events name objects, not channels: the webhook and the reconcile cron's retry of
-- deferred events look the channel up across tenants.
REVOKE EXECUTE ON FUNCTION billing_channel_of(text) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION billing_channel_of(text)
    TO platform_fn_stripe_webhook, platform_fn_billing_reconcile;

-- Trigger functions run when their trigger fires, whoever writes; nobody calls them.
REVOKE EXECUTE ON FUNCTION audit_chain() FROM PUBLIC;
