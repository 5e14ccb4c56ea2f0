-- Erasure: a display name is scrubbed only from the erased user's own rows where a table
-- says whose a row is (another person may have the same name), and from whole JSON string
-- values elsewhere (event payloads). privacy_scrub_table gains the row filter `only_user`:
-- in a table with user columns (privacy_user_columns(), or users itself), only the rows
-- naming that user are changed.
CREATE FUNCTION privacy_scrub_table(t text, needle text, replacement text, anywhere boolean,
                                    only_user uuid)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    col record;
    n int;
    total int := 0;
    jn text := substr(to_jsonb(needle)::text, 2, length(to_jsonb(needle)::text) - 2);
    jr text := substr(to_jsonb(replacement)::text, 2, length(to_jsonb(replacement)::text) - 2);
    rows_of text := '';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_scrub_tables() s WHERE s = t) THEN
        RAISE EXCEPTION 'not a scrubbable table: %', t USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(needle) < 3 THEN
        RETURN 0;
    END IF;
    IF only_user IS NOT NULL THEN
        IF t = 'users' THEN
            rows_of := ' AND id = $3';
        ELSE
            SELECT coalesce(' AND (' || string_agg(format('%I = $3', p.col), ' OR ') || ')', '')
              INTO rows_of FROM privacy_user_columns() p WHERE p.tbl = t;
        END IF;
    END IF;
    FOR col IN
        SELECT a.attname, format_type(a.atttypid, NULL) AS typ FROM pg_attribute a
         WHERE a.attrelid = ('public.' || quote_ident(t))::regclass AND a.attnum > 0
           AND NOT a.attisdropped
           AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype, 'json'::regtype,
                              'character varying'::regtype)
    LOOP
        IF col.typ IN ('jsonb', 'json') THEN
            EXECUTE format('UPDATE public.%I SET %I = replace(%I::text, $1, $2)::%s'
                           ' WHERE strpos(%I::text, $1) > 0', t, col.attname, col.attname,
                           col.typ, col.attname) || rows_of
                USING CASE WHEN anywhere THEN jn ELSE '"' || jn || '"' END,
                      CASE WHEN anywhere THEN jr ELSE '"' || jr || '"' END, only_user;
        ELSIF anywhere THEN
            EXECUTE format('UPDATE public.%I SET %I = replace(%I, $1, $2) WHERE strpos(%I, $1) > 0',
                           t, col.attname, col.attname, col.attname) || rows_of
                USING needle, replacement, only_user;
        ELSE
            EXECUTE format('UPDATE public.%I SET %I = $2 WHERE %I = $1',
                           t, col.attname, col.attname) || rows_of
                USING needle, replacement, only_user;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    RETURN total;
END $$;
ALTER FUNCTION privacy_scrub_table(text, text, text, boolean, uuid) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION privacy_scrub_table(text, text, text, boolean, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_scrub_table(text, text, text, boolean, uuid)
    TO platform_fn_privacy_worker;
