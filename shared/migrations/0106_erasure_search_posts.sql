-- Erasure with the user's posts asked gone (0097's privacy_detach_user) also takes those posts
-- out of the search index (search_documents, 0105): their title and body were copied there by
-- the indexer and stayed after the post itself became a '[deleted]' stub. Removed here, in the
-- same statement-level step as the posts, while author_id still names the user; the indexer
-- never writes them back (it indexes visible posts only). Posts kept as a deleted user's need
-- nothing: a post's document holds its title and body, no author (the erasure's scrub of every
-- text column covers search_documents like any table). Comments are not indexed.
CREATE OR REPLACE FUNCTION privacy_detach_user(u uuid, t text, c text, delete_content boolean)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_user_columns() p WHERE p.tbl = t AND p.col = c) THEN
        RAISE EXCEPTION 'not a user column: %.%', t, c USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF delete_content AND t = 'posts' AND c = 'author_id' THEN
        EXECUTE 'DELETE FROM public.search_documents d WHERE d.doc_type = ''post'''
                ' AND d.doc_id IN (SELECT id FROM public.posts WHERE author_id = $1)' USING u;
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
