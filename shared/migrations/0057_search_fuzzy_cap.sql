-- search_ranked() of 0056 with the typo fallback bounded like full text: at most p_cap titles
-- similar to the query are scored and sorted. In scripts/bench_search.py's corpus (300k
-- lessons whose titles repeat a few words) the fallback scored every similar title: 1.4 s
-- for a cross-channel typo. Same signature, answers (for corpora of varied titles), grants.
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
LANGUAGE sql STABLE SET pg_trgm.word_similarity_threshold = 0.3 SET jit = off AS $$
WITH langs AS (
    -- channels with a text search configuration of their own (search_settings)
    SELECT DISTINCT s.language, websearch_to_tsquery(s.language, p_q) AS tsq
      FROM search_settings s
     WHERE s.language <> 'simple'::regconfig
),
visible AS NOT MATERIALIZED (
    SELECT d.*
      FROM search_documents d
      LEFT JOIN courses c ON c.id = d.course_id AND c.channel_id = d.channel_id
     WHERE (p_type IS NULL OR d.doc_type = p_type)
       AND (d.doc_type = 'channel'
            OR (d.doc_type IN ('course', 'lesson') AND c.id IS NOT NULL AND CASE
                WHEN p_published_only THEN c.status = 'published'
                ELSE course_viewable(c.status, p_staff, EXISTS (
                    SELECT 1 FROM enrollments e
                     WHERE e.course_id = c.id AND e.channel_id = c.channel_id
                       AND e.user_id = app_user_id() AND e.status = 'active'))
                END))
),
matches AS (
    -- the default configuration: a query expression the GIN index takes as it is
    (SELECT v.doc_type, v.doc_id, v.channel_id, v.title, v.summary, v.body, v.language,
            v.document, websearch_to_tsquery('simple', p_q) AS tsq
       FROM visible v
      WHERE v.language = 'simple'::regconfig
        AND v.document @@ websearch_to_tsquery('simple', p_q)
      LIMIT p_cap)
    UNION ALL
    -- per other language, so the index sees one query at a time
    (SELECT m.doc_type, m.doc_id, m.channel_id, m.title, m.summary, m.body, m.language,
            m.document, m.tsq
       FROM langs l
      CROSS JOIN LATERAL (
          SELECT v.*, l.tsq FROM visible v
           WHERE v.language = l.language AND v.document @@ l.tsq
           LIMIT p_cap) m)
),
hits AS (
    SELECT m.doc_type, m.doc_id, m.channel_id, m.title, m.summary, m.body, m.language,
           m.tsq, 0 AS tier, ts_rank(m.document, m.tsq) AS score
      FROM matches m
),
fuzzy AS (
    SELECT f.*, websearch_to_tsquery(f.language, p_q) AS tsq, 1 AS tier,
           word_similarity(p_q, f.title)::real AS score
      FROM (
          -- bounded before it is ranked, as full text is: titles that repeat the same words
          -- would otherwise all be scored and sorted
          SELECT v.doc_type, v.doc_id, v.channel_id, v.title, v.summary, v.body, v.language
            FROM visible v
           WHERE (SELECT count(*) FROM hits) < p_fuzzy_below
             AND p_q <% v.title
             AND NOT EXISTS (SELECT 1 FROM hits h
                              WHERE h.doc_type = v.doc_type AND h.doc_id = v.doc_id)
           LIMIT p_cap) f
     ORDER BY score DESC
     LIMIT p_cap
),
page AS (
    SELECT * FROM hits UNION ALL SELECT * FROM fuzzy
     ORDER BY tier, score DESC, doc_type, doc_id
    OFFSET p_offset LIMIT p_limit
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
$$;
