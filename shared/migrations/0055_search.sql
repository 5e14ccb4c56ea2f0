-- Search (issue 14): one row per findable document, kept in step with the catalog and the
-- channels by the search_indexer consumer of the domain events (shared.search.indexer), so
-- no write waits on indexing. Documents are channels, courses and lessons; posts join when
-- the community lands (doc_type 'post', space_id).
--
-- Visibility is not copied here: a course's or lesson's document names its course, and the
-- search joins the live courses row, so publishing, archiving or unpublishing changes what a
-- search returns at once, whatever the indexer's lag.

-- The text search configuration of each channel's documents ('simple' unless set): stemming
-- and stop words follow the channel's language.
CREATE TABLE search_settings (
    channel_id  uuid PRIMARY KEY REFERENCES channels (id),
    language    regconfig NOT NULL DEFAULT 'simple',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('search_settings');

CREATE TABLE search_documents (
    channel_id  uuid NOT NULL REFERENCES channels (id),
    doc_type    text NOT NULL CHECK (doc_type IN ('channel', 'course', 'lesson', 'post')),
    doc_id      uuid NOT NULL,
    -- the course whose status and enrollments decide who sees the document (a course: itself)
    course_id   uuid,
    space_id    uuid,          -- posts: the space whose members see them (community)
    title       text NOT NULL,
    summary     text NOT NULL DEFAULT '',
    body        text NOT NULL DEFAULT '',
    language    regconfig NOT NULL DEFAULT 'simple',
    -- weighted: title A, summary B, body C (ts_rank's default weights 1.0, 0.4, 0.2)
    document    tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector(language, title), 'A')
        || setweight(to_tsvector(language, summary), 'B')
        || setweight(to_tsvector(language, body), 'C')
    ) STORED,
    indexed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc_type, doc_id),
    CHECK ((doc_type IN ('course', 'lesson')) = (course_id IS NOT NULL))
);
CREATE INDEX search_documents_fts ON search_documents USING gin (document);
CREATE INDEX search_documents_title_trgm ON search_documents USING gin (title gin_trgm_ops);
CREATE INDEX search_documents_channel ON search_documents (channel_id, doc_type);
CREATE INDEX search_documents_course ON search_documents (course_id) WHERE course_id IS NOT NULL;
SELECT apply_tenant_policy('search_documents');

-- The one search query, for both paths. Run by the caller (SECURITY INVOKER): on the
-- channel-scoped path row-level security limits it to the channel, and visibility is the
-- catalog's rule, course_viewable() (0026): staff see drafts, everyone published courses,
-- enrolled students the archived ones; lessons follow their course. With p_published_only
-- (the cross-channel path, search_published below) only channels and published courses and
-- their lessons.
--
-- Ranking is capped: at most p_cap matching documents (the GIN index finds them, unordered)
-- are ranked, so a common word costs the same as a rare one. When full text finds fewer than
-- p_fuzzy_below, titles similar to the query (pg_trgm word similarity, trigram index) follow
-- the full-text hits: typos in titles are forgiven. Snippets are ts_headline's fragments with
-- U+E000/U+E001 around the matches (removed from the text first), escaped then marked by
-- shared.search.rules.mark_snippet. A lesson's snippet never quotes its body (paid content):
-- it is drawn from the summary (the course title).
CREATE FUNCTION search_ranked(
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
LANGUAGE sql STABLE SET pg_trgm.word_similarity_threshold = 0.3 AS $$
WITH langs AS (
    SELECT l.language, websearch_to_tsquery(l.language, p_q) AS tsq
      FROM (SELECT 'simple'::regconfig AS language
            UNION SELECT s.language FROM search_settings s) l
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
hits AS (
    SELECT m.doc_type, m.doc_id, m.channel_id, m.title, m.summary, m.body, m.language,
           m.tsq, 0 AS tier, ts_rank(m.document, m.tsq) AS score
      FROM (SELECT v.*, l.tsq
              FROM langs l JOIN visible v ON v.language = l.language AND v.document @@ l.tsq
             LIMIT p_cap) m
),
fuzzy AS (
    SELECT v.doc_type, v.doc_id, v.channel_id, v.title, v.summary, v.body, v.language,
           l.tsq, 1 AS tier, word_similarity(p_q, v.title)::real AS score
      FROM visible v
      JOIN langs l ON l.language = v.language
     WHERE (SELECT count(*) FROM hits) < p_fuzzy_below
       AND p_q <% v.title
       AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.doc_type = v.doc_type AND h.doc_id = v.doc_id)
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
REVOKE EXECUTE ON FUNCTION search_ranked(text, text, boolean, boolean, int, int, int, int)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_ranked(text, text, boolean, boolean, int, int, int, int)
    TO platform_app, platform_system;

-- The cross-channel path: published content of every channel, read across tenants by the one
-- function that serves search (role platform_fn_search), never by platform_app.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'platform_fn_search') THEN
        CREATE ROLE platform_fn_search NOLOGIN NOBYPASSRLS;
    END IF;
END $$;

CREATE FUNCTION search_published(p_q text, p_type text, p_cap int, p_fuzzy_below int,
                                 p_limit int, p_offset int)
RETURNS TABLE (doc_type text, doc_id uuid, channel_id uuid, title text, snippet text,
               tier int, score real)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM search_ranked(p_q, p_type, true, false, p_cap, p_fuzzy_below, p_limit,
                                p_offset)
$$;
GRANT SELECT ON search_documents, search_settings, courses, enrollments TO platform_system;
GRANT EXECUTE ON FUNCTION course_viewable(text, boolean, boolean) TO platform_system;
ALTER FUNCTION search_published(text, text, int, int, int, int) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION search_published(text, text, int, int, int, int)
    FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION search_published(text, text, int, int, int, int)
    TO platform_fn_search;
