-- Media storage quota per channel plan (issue 16, item 10).
--
-- An upload counts against its channel's quota from the moment its signed URL is issued
-- (status pending) until it is rejected or its object is released (media.released: the
-- lesson, resource, video or thumbnail that held it was deleted or replaced). released_at
-- marks the release, set in the transaction that emits the event (shared/media/release.py).

ALTER TABLE uploads ADD COLUMN released_at timestamptz;

-- Ready uploads whose objects nothing references any more were released before this column
-- existed. A ready resource upload not yet attached stays held: the sweep below ends it.
UPDATE uploads u SET released_at = now()
 WHERE u.status = 'ready'
   AND NOT (u.purpose = 'resource' AND NOT EXISTS (SELECT 1 FROM resources r
                                                    WHERE r.upload_id = u.id))
   AND NOT EXISTS (SELECT 1 FROM lessons l
                    WHERE l.video_object = u.object_name OR l.thumbnail_object = u.object_name)
   AND NOT EXISTS (SELECT 1 FROM courses c WHERE c.thumbnail_object = u.object_name)
   AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.object_name = u.object_name);

-- What the quota check sums, per channel.
CREATE INDEX uploads_held ON uploads (channel_id) INCLUDE (size_bytes)
    WHERE status <> 'rejected' AND released_at IS NULL;
-- What the sweep looks for: uploads that may still be unattached.
CREATE INDEX uploads_unattached ON uploads (created_at)
    WHERE status = 'pending' OR (status = 'ready' AND purpose = 'resource');

-- The sweep's only way across tenants: uploads older than min_age that never arrived
-- (pending) or arrived as a resource file nobody attached. The cron then ends each one in its
-- own channel's transaction, under that channel's row-level security.
CREATE FUNCTION media_unattached_uploads(min_age interval, max_rows int)
RETURNS TABLE (channel_id uuid, upload_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.channel_id, u.id FROM uploads u
     WHERE u.created_at < now() - min_age
       AND (u.status = 'pending'
            OR (u.status = 'ready' AND u.purpose = 'resource'
                AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.upload_id = u.id)))
     ORDER BY u.created_at LIMIT max_rows
$$;
GRANT SELECT ON uploads, resources TO platform_system;
ALTER FUNCTION media_unattached_uploads(interval, int) OWNER TO platform_system;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'platform_fn_analytics_maintenance') THEN
        CREATE ROLE platform_fn_analytics_maintenance NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
REVOKE EXECUTE ON FUNCTION media_unattached_uploads(interval, int) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION media_unattached_uploads(interval, int)
    TO platform_fn_analytics_maintenance;
