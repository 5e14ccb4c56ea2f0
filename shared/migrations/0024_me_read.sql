-- GET /v1/me in one round trip.
--
-- Every client asks "who am I, where am I a member" when it starts. As a normal transaction
-- that read took three round trips (BEGIN + context, the query, COMMIT). me_read() sets the
-- caller's context transaction-locally and reads, called as ONE statement in autocommit (its
-- own implicit transaction), as record_heartbeat() does: the context ends with the call and a
-- pooled connection never carries it. SECURITY INVOKER: memberships are read under the
-- caller's row-level security (only their own rows, since no channel is set).

CREATE FUNCTION me_read(p_user uuid)
RETURNS TABLE (id uuid, email text, display_name text, channel_id uuid, role text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.channel_id', '', true),
            set_config('app.user_id', p_user::text, true);
    RETURN QUERY
    SELECT u.id, u.email, u.display_name, m.channel_id, m.role
      FROM users u
      LEFT JOIN memberships m ON m.user_id = u.id
     WHERE u.id = p_user AND u.erased_at IS NULL
     ORDER BY m.created_at;
END $$;

REVOKE EXECUTE ON FUNCTION me_read(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION me_read(uuid) TO platform_app;
