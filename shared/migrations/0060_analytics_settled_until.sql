-- Creator analytics read the rollups plus the raw tail since the last roll (issue 14, item 2).
--
-- analytics_rollup_state (0025) is not tenant data and the app role may not read it; the
-- summary needs one figure of it, the point up to which every event is in the rollups, to
-- add exactly the events after it. STABLE: called inside the summary's statement it reads
-- that statement's snapshot, so rollups, settled point and tail are one consistent view.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'platform_fn_analytics') THEN
        CREATE ROLE platform_fn_analytics NOLOGIN NOBYPASSRLS;
    END IF;
END $$;

CREATE FUNCTION analytics_settled_until() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT settled_until FROM analytics_rollup_state
$$;
ALTER FUNCTION analytics_settled_until() OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION analytics_settled_until() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analytics_settled_until() TO platform_fn_analytics;
