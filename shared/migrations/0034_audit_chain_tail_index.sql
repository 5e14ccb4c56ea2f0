-- The audit chain's tail lookup uses its index (issue 16 item 1).
--
-- audit_chain() (0001) found the previous row with
--     WHERE channel_id IS NOT DISTINCT FROM NEW.channel_id ORDER BY seq DESC LIMIT 1
-- which the unique index audit_log_chain (coalesce(channel_id, zero uuid), seq) cannot serve:
-- every append scanned the table while holding the chain's advisory lock, so a flood of
-- platform-chain rows (rejected webhooks) queued signup, login and reset audit writes.
-- The lookup now states the index's own expression, in a SQL function the trigger calls and a
-- test can EXPLAIN (a set-returning SQL function is inlined into the caller's plan).
CREATE FUNCTION audit_chain_tail(c uuid) RETURNS TABLE (seq bigint, hash bytea)
LANGUAGE sql STABLE AS $$  -- no SET clause: it would stop the planner inlining it
    SELECT a.seq, a.hash FROM public.audit_log a
     WHERE coalesce(a.channel_id, '00000000-0000-0000-0000-000000000000'::uuid)
         = coalesce(c, '00000000-0000-0000-0000-000000000000'::uuid)
     ORDER BY coalesce(a.channel_id, '00000000-0000-0000-0000-000000000000'::uuid) DESC,
              a.seq DESC
     LIMIT 1
$$;
ALTER FUNCTION audit_chain_tail(uuid) OWNER TO platform_system;
-- Only the trigger (running as platform_system, its owner) needs it.
REVOKE EXECUTE ON FUNCTION audit_chain_tail(uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    last record;
BEGIN
    -- Serialize appends per channel so the chain has no forks.
    PERFORM pg_advisory_xact_lock(hashtext('audit:' || coalesce(NEW.channel_id::text, 'platform')));
    SELECT t.seq, t.hash INTO last FROM audit_chain_tail(NEW.channel_id) t;
    NEW.seq := coalesce(last.seq, 0) + 1;
    NEW.prev_hash := last.hash;
    NEW.occurred_at := date_trunc('microseconds', clock_timestamp());
    NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || audit_canonical(NEW));
    RETURN NEW;
END $$;
