-- Consent (0097's users.analytics_consent): tracking beyond what the service needs follows a
-- per-user opt-in. The warehouse (BigQuery, fed from the analytics-events topic, 0104) is
-- such tracking, so an event leaves Postgres with its user_id only when the user has said
-- yes; without consent (false, or NULL: never asked) it goes out with no user_id, and the
-- channel's counts there stay whole. Consent is read when the event is exported, so a
-- withdrawal holds for every event not yet sent. The service's own figures (progress,
-- rollups, the creator's summary) read analytics_events in Postgres and are unchanged.
-- Same signature, owner and grants as 0104's function.
CREATE OR REPLACE FUNCTION analytics_export_next(p_limit int)
RETURNS TABLE (id uuid, channel_id uuid, user_id uuid, event_type text, metadata jsonb,
               occurred_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.channel_id,
           CASE WHEN u.analytics_consent THEN e.user_id END,
           e.event_type, e.metadata, e.occurred_at
      FROM analytics_events e
      JOIN analytics_export_state s ON true
      JOIN analytics_rollup_state r ON true
      LEFT JOIN users u ON u.id = e.user_id
     WHERE (e.occurred_at, e.id) > (s.exported_at, s.exported_id)
       AND e.occurred_at <= r.settled_until
     ORDER BY e.occurred_at, e.id
     LIMIT least(greatest(p_limit, 0), 10000)
$$;
