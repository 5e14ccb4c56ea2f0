-- Privacy (issue 15 items 2-5): consent on signup, export and erasure jobs, the audit log's
-- erasable personal data, and the few cross-tenant functions the privacy worker and the
-- retention cron need (both run as their own role, migration 0042's pattern).
--
-- Why a separate table for the audit log's personal data: audit_log is an append-only hash
-- chain (0001); erasing an IP address from a row would break the chain. Rows now hold a
-- reference (details.ip_ref) and the address lives here, where erasure deletes it
-- (docs/decisions/audit-personal-data.md).

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['platform_fn_privacy_worker', 'platform_fn_retention'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', r);
        END IF;
    END LOOP;
END $$;

-- Consent: the versions of the terms and privacy policy accepted at signup, and the opt-in to
-- analytics beyond what the service itself needs (NULL: never asked, treated as no).
ALTER TABLE users
    ADD COLUMN terms_version     text,
    ADD COLUMN privacy_version   text,
    ADD COLUMN consented_at      timestamptz,
    ADD COLUMN analytics_consent boolean;

-- Export and erasure jobs. Not a tenant table: a job belongs to the user who asked for it
-- (a channel export also names the channel, checked against the owner role when it starts).
CREATE TABLE privacy_jobs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('user_export', 'channel_export', 'erasure')),
    user_id      uuid NOT NULL REFERENCES users (id),
    channel_id   uuid REFERENCES channels (id),
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'ready', 'done', 'failed', 'expired')),
    options      jsonb NOT NULL DEFAULT '{}'::jsonb,
    steps_done   text[] NOT NULL DEFAULT '{}',
    object_name  text,
    execution    text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    expires_at   timestamptz
);
-- One running job per user, kind and channel: the second request gets the running one.
CREATE UNIQUE INDEX privacy_jobs_one_running ON privacy_jobs
    (user_id, kind, coalesce(channel_id, '00000000-0000-0000-0000-000000000000'::uuid))
    WHERE status = 'running';
CREATE INDEX privacy_jobs_expiring ON privacy_jobs (expires_at) WHERE status = 'ready';
ALTER TABLE privacy_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE privacy_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY privacy_jobs_own ON privacy_jobs TO platform_app
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY privacy_jobs_system ON privacy_jobs TO platform_system USING (true);
GRANT SELECT, INSERT, UPDATE ON privacy_jobs TO platform_app;

-- The audit log's personal data (client addresses), erasable apart from the chain.
CREATE TABLE audit_personal_data (
    ref         uuid PRIMARY KEY,
    user_id     uuid,                 -- whose data: the audit row's actor (NULL: unknown)
    channel_id  uuid REFERENCES channels (id),
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_personal_data_user ON audit_personal_data (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_personal_data_created ON audit_personal_data (created_at);
ALTER TABLE audit_personal_data ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_personal_data FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_pd_read ON audit_personal_data FOR SELECT TO platform_app
    USING (channel_id = app_channel_id() OR (user_id IS NOT NULL AND user_id = app_user_id()));
CREATE POLICY audit_pd_append ON audit_personal_data FOR INSERT TO platform_app
    WITH CHECK (channel_id IS NULL OR channel_id = app_channel_id());
CREATE POLICY audit_pd_system ON audit_personal_data TO platform_system USING (true);
GRANT SELECT, INSERT ON audit_personal_data TO platform_app;

-- platform_system (definer functions only; nobody logs in as it) may read and rewrite the
-- rows the erasure scrubs, in every table, now and in tables later migrations create.
-- The audit log stays append-only: its triggers refuse any change whoever asks.
GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO platform_system;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, UPDATE, DELETE ON TABLES TO platform_system;
REVOKE UPDATE, DELETE ON audit_log FROM platform_system;

-- Every (table, column) that names a user: foreign keys to users, and the uuid columns named
-- like one (analytics events and the audit actor carry no foreign key). Read from the catalog,
-- so tables added later (community posts, comments, reactions) are covered without a change.
CREATE FUNCTION privacy_user_columns() RETURNS TABLE (tbl text, col text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.relname::text, a.attname::text
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
     WHERE k.contype = 'f' AND k.confrelid = 'public.users'::regclass
       AND array_length(k.conkey, 1) = 1 AND NOT c.relispartition
    UNION
    SELECT c.relname::text, a.attname::text
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND a.atttypid = 'uuid'::regtype
       AND a.attname IN ('user_id', 'author_id', 'actor_user_id', 'created_by', 'connected_by')
    ORDER BY 1, 2
$$;

-- One page of a user's rows of one table, as JSON. Only a (table, column) the catalog lists.
CREATE FUNCTION privacy_user_rows(u uuid, t text, c text, lim int, after_ctid tid)
RETURNS TABLE (row_ctid tid, doc jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_user_columns() p WHERE p.tbl = t AND p.col = c) THEN
        RAISE EXCEPTION 'not a user column: %.%', t, c USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT x.ctid, to_jsonb(x) FROM public.%I x WHERE x.%I = $1 AND x.ctid > $2'
        ' ORDER BY x.ctid LIMIT $3', t, c)
        USING u, coalesce(after_ctid, '(0,0)'::tid), lim;
END $$;

-- A user's analytics events, keyset-paged on the table's own key (occurred_at, id).
CREATE FUNCTION privacy_user_events(u uuid, after_at timestamptz, after_id uuid, lim int)
RETURNS SETOF analytics_events
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM analytics_events e
     WHERE e.user_id = u
       AND (e.occurred_at, e.id) > (coalesce(after_at, '-infinity'::timestamptz),
                                    coalesce(after_id, '00000000-0000-0000-0000-000000000000'::uuid))
     ORDER BY e.occurred_at, e.id LIMIT lim
$$;

-- Channels the user alone owns while other people are members: erasure must wait for a
-- transfer (409).
CREATE FUNCTION privacy_sole_owned_channels(u uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.channel_id FROM memberships m
     WHERE m.user_id = u AND m.role = 'owner'
       AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.channel_id = m.channel_id
                        AND o.role = 'owner' AND o.user_id <> u)
       AND EXISTS (SELECT 1 FROM memberships o WHERE o.channel_id = m.channel_id
                    AND o.user_id <> u)
$$;

-- Delete a user's rows of one table (secrets, sessions, private state), at most `lim` a call.
CREATE FUNCTION privacy_delete_user_rows(u uuid, t text, c text, lim int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_user_columns() p WHERE p.tbl = t AND p.col = c) THEN
        RAISE EXCEPTION 'not a user column: %.%', t, c USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('DELETE FROM public.%I WHERE ctid = ANY(ARRAY('
                   'SELECT ctid FROM public.%I WHERE %I = $1 LIMIT $2))', t, t, c)
        USING u, lim;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The tables whose text or jsonb columns the erasure scrubs: every base table but the
-- append-only audit log (which holds no personal data, see above), the migrations ledger and
-- the analytics events (scrubbed per user by privacy_scrub_user_events).
CREATE FUNCTION privacy_scrub_tables() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT c.relname::text FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind = 'r' AND NOT c.relispartition
       AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype, 'json'::regtype,
                          'character varying'::regtype)
       AND c.relname NOT IN ('audit_log', 'schema_migrations')
       AND c.relname NOT LIKE 'analytics\_events%'
     ORDER BY 1
$$;

-- Replace `needle` by `replacement` in every text/json column of table `t`: inside the text
-- when `anywhere` (emails, addresses: distinctive), else only whole values (a display name
-- such as "Al" must not be cut out of other words). Returns the rows changed.
CREATE FUNCTION privacy_scrub_table(t text, needle text, replacement text, anywhere boolean)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    col record;
    n int;
    total int := 0;
    jn text := substr(to_jsonb(needle)::text, 2, length(to_jsonb(needle)::text) - 2);
    jr text := substr(to_jsonb(replacement)::text, 2, length(to_jsonb(replacement)::text) - 2);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_scrub_tables() s WHERE s = t) THEN
        RAISE EXCEPTION 'not a scrubbable table: %', t USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(needle) < 3 THEN
        RETURN 0;
    END IF;
    FOR col IN
        SELECT a.attname, format_type(a.atttypid, NULL) AS typ FROM pg_attribute a
         WHERE a.attrelid = ('public.' || quote_ident(t))::regclass AND a.attnum > 0
           AND NOT a.attisdropped
           AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype, 'json'::regtype,
                              'character varying'::regtype)
    LOOP
        IF col.typ IN ('jsonb', 'json') THEN
            IF anywhere THEN
                EXECUTE format('UPDATE public.%I SET %I = replace(%I::text, $1, $2)::%s'
                               ' WHERE strpos(%I::text, $1) > 0',
                               t, col.attname, col.attname, col.typ, col.attname)
                    USING jn, jr;
            ELSE
                EXECUTE format('UPDATE public.%I SET %I = replace(%I::text, $1, $2)::%s'
                               ' WHERE strpos(%I::text, $1) > 0',
                               t, col.attname, col.attname, col.typ, col.attname)
                    USING '"' || jn || '"', '"' || jr || '"';
            END IF;
        ELSIF anywhere THEN
            EXECUTE format('UPDATE public.%I SET %I = replace(%I, $1, $2) WHERE strpos(%I, $1) > 0',
                           t, col.attname, col.attname, col.attname)
                USING needle, replacement;
        ELSE
            EXECUTE format('UPDATE public.%I SET %I = $2 WHERE %I = $1',
                           t, col.attname, col.attname)
                USING needle, replacement;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    RETURN total;
END $$;

-- The user's analytics events keep their counts but lose any personal value in metadata.
CREATE FUNCTION privacy_scrub_user_events(u uuid, needle text, replacement text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n int;
    jn text := substr(to_jsonb(needle)::text, 2, length(to_jsonb(needle)::text) - 2);
    jr text := substr(to_jsonb(replacement)::text, 2, length(to_jsonb(replacement)::text) - 2);
BEGIN
    IF length(needle) < 3 THEN
        RETURN 0;
    END IF;
    UPDATE analytics_events SET metadata = replace(metadata::text, jn, jr)::jsonb
     WHERE user_id = u AND strpos(metadata::text, jn) > 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The user's personal data held for the audit log, and the user's own profile row.
CREATE FUNCTION privacy_user_audit_data(u uuid) RETURNS SETOF audit_personal_data
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM audit_personal_data WHERE user_id = u ORDER BY created_at
$$;
CREATE FUNCTION privacy_erase_audit_data(u uuid) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (DELETE FROM audit_personal_data WHERE user_id = u RETURNING 1)
    SELECT count(*)::int FROM gone
$$;

-- Retention: exports past their expiry (the cron deletes the objects, then marks them).
CREATE FUNCTION retention_due_exports(lim int) RETURNS TABLE (id uuid, object_name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT j.id, j.object_name FROM privacy_jobs j
     WHERE j.status = 'ready' AND j.expires_at < now()
     ORDER BY j.expires_at LIMIT lim
$$;
CREATE FUNCTION retention_mark_expired(ids uuid[]) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH done AS (
        UPDATE privacy_jobs SET status = 'expired', object_name = NULL, updated_at = now()
         WHERE id = ANY(ids) AND status = 'ready' AND expires_at < now() RETURNING 1)
    SELECT count(*)::int FROM done
$$;

-- Retention: raw analytics events already rolled up (before analytics_rollup_state's settled
-- day) and older than their channel's plan window (days per plan, given by the caller).
CREATE FUNCTION retention_analytics_events(windows jsonb, default_days int, lim int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    settled date := (SELECT settled_day FROM analytics_rollup_state LIMIT 1);
    n int;
BEGIN
    IF settled IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM analytics_events e
     WHERE (e.occurred_at, e.id) IN (
        SELECT x.occurred_at, x.id FROM analytics_events x
          JOIN channels c ON c.id = x.channel_id
         WHERE x.occurred_at < settled
           AND x.occurred_at < now() - make_interval(
                 days => coalesce((windows ->> c.plan)::int, default_days))
         ORDER BY x.occurred_at LIMIT lim);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Retention: posts their authors deleted, 30 days on (the community tables, 0080): the post,
-- its comments, reactions and revisions go together.
CREATE FUNCTION retention_deleted_posts(older_than interval, lim int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    due uuid[];
BEGIN
    IF to_regclass('public.posts') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'SELECT coalesce(array_agg(id), ''{}'') FROM (SELECT id FROM public.posts'
            ' WHERE status = ''deleted'' AND deleted_at < now() - $1'
            ' ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED) d'
        INTO due USING older_than, lim;
    IF cardinality(due) = 0 THEN
        RETURN 0;
    END IF;
    IF to_regclass('public.comment_revisions') IS NOT NULL THEN
        EXECUTE 'DELETE FROM public.comment_revisions WHERE comment_id IN'
                ' (SELECT id FROM public.comments WHERE post_id = ANY($1))' USING due;
    END IF;
    IF to_regclass('public.comments') IS NOT NULL THEN
        EXECUTE 'DELETE FROM public.comments WHERE post_id = ANY($1)' USING due;
    END IF;
    IF to_regclass('public.reactions') IS NOT NULL THEN
        EXECUTE 'DELETE FROM public.reactions WHERE post_id = ANY($1)' USING due;
    END IF;
    IF to_regclass('public.post_revisions') IS NOT NULL THEN
        EXECUTE 'DELETE FROM public.post_revisions WHERE post_id = ANY($1)' USING due;
    END IF;
    EXECUTE 'DELETE FROM public.posts WHERE id = ANY($1)' USING due;
    RETURN cardinality(due);
END $$;

-- Erasure of a user's authorship: the column set to NULL (posts and comments then show a
-- deleted user), or, when the user asks for their posts gone, the content deleted too.
CREATE FUNCTION privacy_detach_user(u uuid, t text, c text, delete_content boolean) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_user_columns() p WHERE p.tbl = t AND p.col = c) THEN
        RAISE EXCEPTION 'not a user column: %.%', t, c USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF delete_content AND t = 'posts' AND c = 'author_id' THEN
        EXECUTE 'DELETE FROM public.post_revisions WHERE post_id IN'
                ' (SELECT id FROM public.posts WHERE author_id = $1)' USING u;
        EXECUTE 'UPDATE public.posts SET title = '''', body = ''[deleted]'','
                ' body_html = ''<p>[deleted]</p>'', status = ''deleted'','
                ' deleted_at = coalesce(deleted_at, now()), version = version + 1,'
                ' updated_at = now() WHERE author_id = $1' USING u;
    ELSIF delete_content AND t = 'comments' AND c = 'author_id' THEN
        EXECUTE 'DELETE FROM public.comment_revisions WHERE comment_id IN'
                ' (SELECT id FROM public.comments WHERE author_id = $1)' USING u;
        EXECUTE 'UPDATE public.comments SET body = ''[deleted]'','
                ' body_html = ''<p>[deleted]</p>'', status = ''deleted'','
                ' deleted_at = coalesce(deleted_at, now()), version = version + 1,'
                ' updated_at = now() WHERE author_id = $1' USING u;
    END IF;
    EXECUTE format('UPDATE public.%I SET %I = NULL WHERE %I = $1', t, c, c) USING u;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'privacy_user_columns()', 'privacy_user_rows(uuid, text, text, int, tid)',
        'privacy_user_events(uuid, timestamptz, uuid, int)', 'privacy_sole_owned_channels(uuid)',
        'privacy_delete_user_rows(uuid, text, text, int)', 'privacy_scrub_tables()',
        'privacy_scrub_table(text, text, text, boolean)',
        'privacy_scrub_user_events(uuid, text, text)', 'privacy_user_audit_data(uuid)',
        'privacy_erase_audit_data(uuid)', 'retention_due_exports(int)',
        'retention_mark_expired(uuid[])', 'retention_analytics_events(jsonb, int, int)',
        'retention_deleted_posts(interval, int)',
        'privacy_detach_user(uuid, text, text, boolean)'] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO platform_system', f);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;

-- The HTTP function checks the sole-owner rule before it starts an erasure.
GRANT EXECUTE ON FUNCTION privacy_sole_owned_channels(uuid) TO platform_app;
GRANT EXECUTE ON FUNCTION
    privacy_user_columns(), privacy_user_rows(uuid, text, text, int, tid),
    privacy_user_events(uuid, timestamptz, uuid, int),
    privacy_delete_user_rows(uuid, text, text, int), privacy_scrub_tables(),
    privacy_scrub_table(text, text, text, boolean), privacy_scrub_user_events(uuid, text, text),
    privacy_user_audit_data(uuid), privacy_erase_audit_data(uuid),
    privacy_detach_user(uuid, text, text, boolean)
    TO platform_fn_privacy_worker;
GRANT EXECUTE ON FUNCTION
    retention_due_exports(int), retention_mark_expired(uuid[]),
    retention_analytics_events(jsonb, int, int), retention_deleted_posts(interval, int)
    TO platform_fn_retention;
