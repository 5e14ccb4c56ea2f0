-- search_ranked() of 0105 planned for the term searched (issue 14, item 6). A SQL function's
-- statements are planned without its arguments' values, so the planner took every term as
-- selective: a bitmap scan of the full-text GIN index, which cannot stop at the rank cap and
-- collected every matching document first (100k bitmap entries for a word in every document
-- of 100k, ~17 ms, ~10x that at 1M) before LIMIT p_cap kept 1000. Now the same query runs by
-- EXECUTE ... USING, planned with the arguments as constants: the planner sees the term's
-- frequency (the tsvector's statistics) and reads a common word's first p_cap matches in
-- table order (stops early), a rare one through the index. Same signature, answers, grants,
-- visibility rules and settings; the statement is planned per call (as the SQL function was).
-- A post's space is checked against the set of spaces the caller sees, found once per search,
-- where 0105 called community_space_visible() for every matching post.
--
-- The GIN index also stops deferring its inserts (fastupdate off): every search scanned the
-- whole pending list (up to gin_pending_list_limit, 4 MB) until a vacuum merged it, which
-- after a bulk (re)index made a rare word's search read hundreds of pages. The index is
-- written by search_indexer, asynchronously, so the slower insert delays no request.
SELECT similarity('a', 'a');  -- load pg_trgm, so its setting below is known (see 0105)

CREATE OR REPLACE FUNCTION search_ranked(
    p_q text,
    p_type text,
    p_published_only boolean,
    p_staff boolean,
    p_cap int,
    p_fuzzy_below int,
    p_limit int,
    p_offset int
) RETURNS TABLE (doc_type text, doc_id uuid, channel_id uuid, title text, snippet text,
                 tier int, score real)
LANGUAGE plpgsql STABLE SET pg_trgm.word_similarity_threshold = 0.3 SET jit = off AS $fn$
BEGIN
    -- $1..$8: p_q, p_type, p_published_only, p_staff, p_cap, p_fuzzy_below, p_limit, p_offset
    RETURN QUERY EXECUTE $q$
WITH langs AS (
    -- channels with a text search configuration of their own (search_settings)
    SELECT DISTINCT s.language, websearch_to_tsquery(s.language, $1) AS tsq
      FROM search_settings s
     WHERE s.language <> 'simple'::regconfig
),
visible AS NOT MATERIALIZED (
    SELECT d.*
      FROM search_documents d
      LEFT JOIN courses c ON c.id = d.course_id AND c.channel_id = d.channel_id
     WHERE ($2 IS NULL OR d.doc_type = $2)
       AND (d.doc_type = 'channel'
            OR (d.doc_type IN ('course', 'lesson') AND c.id IS NOT NULL AND CASE
                WHEN $3 THEN c.status = 'published'
                ELSE course_viewable(c.status, $4, EXISTS (
                    SELECT 1 FROM enrollments e
                     WHERE e.course_id = c.id AND e.channel_id = c.channel_id
                       AND e.user_id = app_user_id() AND e.status = 'active'))
                END)
            -- posts: channel-scoped only, of a space the caller may see, and visible now
            OR (d.doc_type = 'post' AND NOT $3
                AND EXISTS (SELECT 1 FROM posts po
                             WHERE po.id = d.doc_id AND po.channel_id = d.channel_id
                               AND po.status = 'visible')
                -- the spaces the caller sees, decided once per search (a handful per
                -- channel), not once per matching post
                AND d.space_id IN (SELECT sp.id FROM spaces sp
                                    WHERE community_space_visible(sp.id, app_user_id()))))
),
matches AS (
    -- the default configuration: a query expression the GIN index takes as it is
    (SELECT v.doc_type, v.doc_id, v.channel_id, v.title, v.summary, v.body, v.language,
            v.document, websearch_to_tsquery('simple', $1) AS tsq
       FROM visible v
      WHERE v.language = 'simple'::regconfig
        AND v.document @@ websearch_to_tsquery('simple', $1)
      LIMIT $5)
    UNION ALL
    -- per other language, so the index sees one query at a time
    (SELECT m.doc_type, m.doc_id, m.channel_id, m.title, m.summary, m.body, m.language,
            m.document, m.tsq
       FROM langs l
      CROSS JOIN LATERAL (
          SELECT v.*, l.tsq FROM visible v
           WHERE v.language = l.language AND v.document @@ l.tsq
           LIMIT $5) m)
),
hits AS (
    SELECT m.doc_type, m.doc_id, m.channel_id, m.title, m.summary, m.body, m.language,
           m.tsq, 0 AS tier, ts_rank(m.document, m.tsq) AS score
      FROM matches m
),
fuzzy AS (
    SELECT f.*, websearch_to_tsquery(f.language, $1) AS tsq, 1 AS tier,
           word_similarity($1, f.title)::real AS score
      FROM (
          -- bounded before it is ranked, as full text is: titles that repeat the same words
          -- would otherwise all be scored and sorted
          SELECT v.doc_type, v.doc_id, v.channel_id, v.title, v.summary, v.body, v.language
            FROM visible v
           WHERE (SELECT count(*) FROM hits) < $6
             AND $1 <% v.title
             AND NOT EXISTS (SELECT 1 FROM hits h
                              WHERE h.doc_type = v.doc_type AND h.doc_id = v.doc_id)
           LIMIT $5) f
     ORDER BY score DESC
     LIMIT $5
),
page AS (
    SELECT * FROM hits UNION ALL SELECT * FROM fuzzy
     ORDER BY tier, score DESC, doc_type, doc_id
    OFFSET $8 LIMIT $7
)
SELECT p.doc_type, p.doc_id, p.channel_id, p.title,
       ts_headline(p.language,
                   left(translate(CASE WHEN p.doc_type = 'lesson' THEN p.summary
                                       ELSE concat_ws(' ', nullif(p.summary, ''),
                                                      nullif(p.body, '')) END,
                                  U&'\E000\E001', ''), 5000),
                   p.tsq,
                   'StartSel=' || U&'\E000' || ', StopSel=' || U&'\E001'
                   || ', MaxWords=30, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "'),
       p.tier, p.score
  FROM page p
 ORDER BY p.tier, p.score DESC, p.doc_type, p.doc_id
$q$ USING p_q, p_type, p_published_only, p_staff, p_cap, p_fuzzy_below, p_limit, p_offset;
END
$fn$;

ALTER INDEX search_documents_fts SET (fastupdate = off);
SELECT gin_clean_pending_list('search_documents_fts'::regclass);
