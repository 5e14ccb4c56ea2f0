-- GET /v1/me says whether the caller signs in with a second factor, still in one round trip:
-- me_read() (0024) answers one more column. Its result type changes, so it is dropped and
-- created again (same body otherwise, same grants).

DROP FUNCTION me_read(uuid);

CREATE FUNCTION me_read(p_user uuid)
RETURNS TABLE (id uuid, email text, display_name text, second_factor boolean, channel_id uuid,
               role text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.channel_id', '', true),
            set_config('app.user_id', p_user::text, true);
    RETURN QUERY
    SELECT u.id, u.email, u.display_name,
           EXISTS (SELECT 1 FROM user_totp t
                    WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL),
           m.channel_id, m.role
      FROM users u
      LEFT JOIN memberships m ON m.user_id = u.id
     WHERE u.id = p_user AND u.erased_at IS NULL
     ORDER BY m.created_at;
END $$;

REVOKE EXECUTE ON FUNCTION me_read(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION me_read(uuid) TO platform_app;
