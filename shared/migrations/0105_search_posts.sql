-- Community posts in search (issue 14, item 1): posts of the spaces the caller may see.
--
-- search_indexer indexes posts from the community's events (post.created, updated, removed,
-- restored; shared.search.postgres): a visible post is a document (title A, body C), any
-- other status removes it. Visibility is decided here, at query time, next to the data and
-- under the channel's row-level security: the post must be visible NOW (posts.status, so a
-- hidden or removed post leaves results at once, whatever the indexer's lag) and its space
-- visible to the caller (community_space_visible(), migration 0080: members' spaces to every
-- member, course and batch spaces to their active students, every space to staff). Posts are
-- never in the cross-channel search (search_published): they belong to members.
--
-- search_ranked() of 0057 with that one more branch; same signature, grants and plan.
-- Load pg_trgm in this session first (calling one of its functions does): its
-- word_similarity_threshold is then a known setting the function below may SET, not a
-- placeholder only a superuser may set (a migration run with nothing else pending).
SELECT similarity('a', 'a');

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
                END)
            -- posts: channel-scoped only, of a space the caller may see, and visible now
            OR (d.doc_type = 'post' AND NOT p_published_only
                AND EXISTS (SELECT 1 FROM posts po
                             WHERE po.id = d.doc_id AND po.channel_id = d.channel_id
                               AND po.status = 'visible')
                AND community_space_visible(d.space_id, app_user_id())))
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

GRANT SELECT ON posts, spaces, memberships TO platform_system;
GRANT EXECUTE ON FUNCTION community_space_visible(uuid, uuid) TO platform_system;
-- A post's document is found by its space when a space's audience changes.
CREATE INDEX IF NOT EXISTS search_documents_space ON search_documents (space_id)
    WHERE space_id IS NOT NULL;
