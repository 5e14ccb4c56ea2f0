-- Analytics events: an append-only fact table, range-partitioned by month on occurred_at,
-- and a daily rollup that KPIs are read from (never raw events per request).
--
-- No foreign keys on purpose: this is the highest-volume insert of the platform (one row per
-- heartbeat) and a FK check would take a share lock on the channel/user row on every insert.

CREATE TABLE analytics_events (
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    channel_id   uuid NOT NULL,
    user_id      uuid,
    event_type   text NOT NULL CHECK (event_type ~ '^[a-z_]+(\.[a-z_]+)+$'),
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (occurred_at, id)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX analytics_events_channel ON analytics_events (channel_id, occurred_at);
CREATE INDEX analytics_events_user ON analytics_events (user_id, occurred_at);
-- Catches anything outside the monthly partitions (clock skew, a missed cron) instead of
-- failing the insert. analytics_ensure_partitions() keeps it empty in normal operation.
CREATE TABLE analytics_events_default PARTITION OF analytics_events DEFAULT;
SELECT apply_tenant_policy('analytics_events');
REVOKE UPDATE ON analytics_events FROM platform_app;  -- facts are not rewritten

-- Create the partition of the month containing `month_of` if it does not exist. Owned by the
-- table owner (only the owner may attach partitions); callable by the app role (cron).
CREATE FUNCTION analytics_create_partition(month_of date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    lo date := date_trunc('month', month_of)::date;
    hi date := (date_trunc('month', month_of) + interval '1 month')::date;
    part_name text := format('analytics_events_y%sm%s', to_char(lo, 'YYYY'), to_char(lo, 'MM'));
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('analytics_events:partitions'));
    IF to_regclass(part_name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF analytics_events'
                       ' FOR VALUES FROM (%L) TO (%L)', part_name,
                       lo::timestamp AT TIME ZONE 'UTC', hi::timestamp AT TIME ZONE 'UTC');
    END IF;
    RETURN part_name;
END $$;

-- The current month and `months_ahead` months after it (run daily by the maintenance cron).
CREATE FUNCTION analytics_ensure_partitions(months_ahead int DEFAULT 2) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    i int;
BEGIN
    IF months_ahead < 0 OR months_ahead > 24 THEN
        RAISE EXCEPTION 'months_ahead out of range';
    END IF;
    FOR i IN 0..months_ahead LOOP
        PERFORM analytics_create_partition(
            ((now() AT TIME ZONE 'UTC') + make_interval(months => i))::date);
    END LOOP;
    RETURN months_ahead + 1;
END $$;
GRANT EXECUTE ON FUNCTION analytics_create_partition(date), analytics_ensure_partitions(int)
    TO platform_app;

SELECT analytics_ensure_partitions(1);  -- current and next month
