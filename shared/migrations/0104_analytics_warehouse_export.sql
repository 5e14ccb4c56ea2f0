-- Analytics events leave Postgres for the warehouse (issue 14, item 4).
--
-- Domain events already reach Pub/Sub through the outbox; analytics events are published by
-- the analytics maintenance cron to the `analytics-events` topic, and a Pub/Sub BigQuery
-- subscription on each topic writes the rows (terraform/bigquery.tf). The cron publishes
-- in (occurred_at, id) order from a cursor, only events at or before the rollups' settled
-- point (every transaction that wrote earlier events has committed by then, the lag of
-- 0025), and moves the cursor after Pub/Sub confirmed the batch: at least once, as the
-- BigQuery subscription itself; the rows carry the event id for deduplication.
--
-- Postgres then keeps the rollups and a raw window bounded by the channel's plan
-- (analytics_prune_raw, from shared.analytics.rules.RAW_WINDOW_DAYS).

CREATE TABLE analytics_export_state (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    exported_at  timestamptz NOT NULL,  -- (occurred_at, id) of the last event published
    exported_id  uuid NOT NULL
);
-- Events before this point are history: a one-off load (docs/DEPLOY.md), not the stream.
INSERT INTO analytics_export_state VALUES (true, now(), '00000000-0000-0000-0000-000000000000');
REVOKE ALL ON analytics_export_state FROM platform_app;
GRANT SELECT, UPDATE ON analytics_export_state TO platform_system;

-- The next events to publish, oldest first, at most p_limit, none after the settled point.
CREATE FUNCTION analytics_export_next(p_limit int)
RETURNS TABLE (id uuid, channel_id uuid, user_id uuid, event_type text, metadata jsonb,
               occurred_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.channel_id, e.user_id, e.event_type, e.metadata, e.occurred_at
      FROM analytics_events e, analytics_export_state s, analytics_rollup_state r
     WHERE (e.occurred_at, e.id) > (s.exported_at, s.exported_id)
       AND e.occurred_at <= r.settled_until
     ORDER BY e.occurred_at, e.id
     LIMIT least(greatest(p_limit, 0), 10000)
$$;

-- The cursor moves forward only (a late, slower run never moves it back).
CREATE FUNCTION analytics_export_done(p_at timestamptz, p_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE analytics_export_state SET exported_at = p_at, exported_id = p_id
     WHERE (exported_at, exported_id) < (p_at, p_id)
$$;

-- Raw events older than the channel's window go (rollups stay). p_windows: {plan: days};
-- a channel whose plan is canceled or unknown has the 'free' window. Whole monthly
-- partitions older than the longest window are dropped; below that, rows are deleted per
-- channel, at most p_limit a run (the cron comes back every few minutes). Events not yet
-- exported to the warehouse are never deleted. Returns rows deleted plus partitions dropped.
CREATE FUNCTION analytics_prune_raw(p_windows jsonb, p_limit int) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    longest int := (SELECT max(v::int) FROM jsonb_each_text(p_windows) AS w(k, v));
    free_days int := (p_windows->>'free')::int;
    floor_at timestamptz;
    exported timestamptz := (SELECT exported_at FROM analytics_export_state);
    part record;
    done bigint := 0;
    n bigint;
BEGIN
    IF longest IS NULL OR free_days IS NULL OR longest < 1 OR p_limit < 0 THEN
        RAISE EXCEPTION 'windows must name a free plan and positive days';
    END IF;
    floor_at := least(now() - make_interval(days => longest), exported);
    PERFORM pg_advisory_xact_lock(hashtext('analytics_events:partitions'));
    FOR part IN
        SELECT c.relname
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'analytics_events'::regclass
           AND c.relname ~ '^analytics_events_y[0-9]{4}m[0-9]{2}$'
           AND (to_date(substr(c.relname, 19, 4) || substr(c.relname, 24, 2), 'YYYYMM')
                + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= floor_at
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        done := done + 1;
    END LOOP;
    WITH old AS (
        SELECT e.occurred_at, e.id
          FROM analytics_events e
          JOIN channels ch ON ch.id = e.channel_id
         WHERE e.occurred_at < least(exported, now() - make_interval(days =>
                   coalesce(CASE WHEN ch.plan_status <> 'canceled'
                                 THEN (p_windows->>ch.plan)::int END, free_days)))
           AND e.occurred_at >= now() - make_interval(days => longest + 31)
         LIMIT p_limit
    )
    DELETE FROM analytics_events e USING old
     WHERE (e.occurred_at, e.id) = (old.occurred_at, old.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN done + n;
END $$;

GRANT SELECT ON analytics_rollup_state TO platform_system;
GRANT SELECT, DELETE ON analytics_events TO platform_system;
GRANT SELECT ON channels TO platform_system;
ALTER FUNCTION analytics_export_next(int) OWNER TO platform_system;
ALTER FUNCTION analytics_export_done(timestamptz, uuid) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION analytics_export_next(int), analytics_export_done(timestamptz, uuid),
    analytics_prune_raw(jsonb, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analytics_export_next(int), analytics_export_done(timestamptz, uuid),
    analytics_prune_raw(jsonb, int) TO platform_fn_analytics_maintenance;
