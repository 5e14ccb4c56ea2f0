-- Community (issue 12): spaces, posts, comments, reactions, flags and moderation, bans,
-- in-app notifications and their preferences. Postgres is the system of record; Firestore only
-- holds a projection fed by the outbox events (shared/community, docs in its service modules).
--
-- Every tenant table is under row-level security by channel. A member's notifications are also
-- readable across channels by their owner (GET /v1/me/notifications); notification preferences
-- belong to the person, not to a channel (one email digest covers every channel).

-- Per-channel community settings (moderation thresholds and spam rules); a channel without a
-- row uses the defaults below (shared.community.rules.DEFAULT_SETTINGS says the same).
CREATE TABLE community_settings (
    channel_id            uuid PRIMARY KEY REFERENCES channels (id),
    auto_hide_threshold   int NOT NULL DEFAULT 3 CHECK (auto_hide_threshold BETWEEN 1 AND 1000),
    blocked_words         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(blocked_words) <= 500),
    new_member_days       int NOT NULL DEFAULT 7 CHECK (new_member_days BETWEEN 0 AND 365),
    new_member_max_links  int NOT NULL DEFAULT 2 CHECK (new_member_max_links BETWEEN 0 AND 1000),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('community_settings');

-- A space is open to every member, to the students of one course, or to those of one batch;
-- staff see every space.
CREATE TABLE spaces (
    id             uuid PRIMARY KEY,
    channel_id     uuid NOT NULL REFERENCES channels (id),
    name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    audience_kind  text NOT NULL CHECK (audience_kind IN ('members', 'course', 'batch')),
    course_id      uuid REFERENCES courses (id),
    batch_id       uuid REFERENCES batches (id),
    created_by     uuid REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((audience_kind = 'course') = (course_id IS NOT NULL)),
    CHECK ((audience_kind = 'batch') = (batch_id IS NOT NULL))
);
CREATE INDEX spaces_channel ON spaces (channel_id, id);
SELECT apply_tenant_policy('spaces');

-- status: visible; hidden (auto-hidden by flags, until a moderator acts); removed (by a
-- moderator); deleted (by its author, soft). `version` grows on every change of the row the
-- projection shows (edit, pin, hide, remove, restore, delete): Firestore keeps the newest.
CREATE TABLE posts (
    id                 uuid PRIMARY KEY,
    channel_id         uuid NOT NULL REFERENCES channels (id),
    space_id           uuid NOT NULL REFERENCES spaces (id),
    author_id          uuid REFERENCES users (id),   -- NULL once the author's account is erased
    title              text NOT NULL DEFAULT '' CHECK (char_length(title) <= 200),
    body               text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 20000),
    body_html          text NOT NULL,
    status             text NOT NULL DEFAULT 'visible'
                       CHECK (status IN ('visible', 'hidden', 'removed', 'deleted')),
    pinned             boolean NOT NULL DEFAULT false,
    version            int NOT NULL DEFAULT 1,
    comment_count      int NOT NULL DEFAULT 0,
    reactions_version  int NOT NULL DEFAULT 0,       -- orders reaction-count events per post
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
-- Listing: a space's posts, pinned first, then newest first (ids are UUIDv7: time-ordered).
CREATE INDEX posts_space ON posts (space_id, pinned DESC, id DESC);
CREATE INDEX posts_author ON posts (author_id);
SELECT apply_tenant_policy('posts');

-- Every earlier version of an edited post (the row holds the current one).
CREATE TABLE post_revisions (
    id          uuid PRIMARY KEY,
    channel_id  uuid NOT NULL REFERENCES channels (id),
    post_id     uuid NOT NULL REFERENCES posts (id),
    version     int NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    body_html   text NOT NULL,
    edited_by   uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (post_id, version)
);
SELECT apply_tenant_policy('post_revisions');

-- Threaded one level: parent_id is always a top-level comment of the same post.
CREATE TABLE comments (
    id          uuid PRIMARY KEY,
    channel_id  uuid NOT NULL REFERENCES channels (id),
    post_id     uuid NOT NULL REFERENCES posts (id),
    parent_id   uuid REFERENCES comments (id),
    author_id   uuid REFERENCES users (id),
    body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 5000),
    body_html   text NOT NULL,
    status      text NOT NULL DEFAULT 'visible'
                CHECK (status IN ('visible', 'hidden', 'removed', 'deleted')),
    version     int NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX comments_post ON comments (post_id, id);
CREATE INDEX comments_author ON comments (author_id);
SELECT apply_tenant_policy('comments');

CREATE TABLE comment_revisions (
    id          uuid PRIMARY KEY,
    channel_id  uuid NOT NULL REFERENCES channels (id),
    comment_id  uuid NOT NULL REFERENCES comments (id),
    version     int NOT NULL,
    body        text NOT NULL,
    body_html   text NOT NULL,
    edited_by   uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (comment_id, version)
);
SELECT apply_tenant_policy('comment_revisions');

-- One reaction per member, post and kind (the kinds: shared.community.rules.REACTION_KINDS).
CREATE TABLE reactions (
    channel_id  uuid NOT NULL REFERENCES channels (id),
    post_id     uuid NOT NULL REFERENCES posts (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]{1,20}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id, kind)
);
CREATE INDEX reactions_user ON reactions (user_id);
SELECT apply_tenant_policy('reactions');

-- A member's report of a post or comment: one per member and target. Open until a moderator
-- acts on the target (resolved_at, resolution = the action).
CREATE TABLE flags (
    id           uuid PRIMARY KEY,
    channel_id   uuid NOT NULL REFERENCES channels (id),
    target_type  text NOT NULL CHECK (target_type IN ('post', 'comment')),
    target_id    uuid NOT NULL,
    reporter_id  uuid REFERENCES users (id),
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  uuid REFERENCES users (id),
    resolution   text CHECK (resolution IN ('remove', 'restore', 'dismiss', 'ban_user')),
    UNIQUE (target_type, target_id, reporter_id)
);
-- The moderation queue: open flags of a channel, oldest first.
CREATE INDEX flags_open ON flags (channel_id, created_at, target_id) WHERE resolved_at IS NULL;
CREATE INDEX flags_reporter ON flags (reporter_id);
SELECT apply_tenant_policy('flags');

-- What moderators (and the auto-hide rule, moderator_id NULL) did, with their reason.
CREATE TABLE moderation_actions (
    id            uuid PRIMARY KEY,
    channel_id    uuid NOT NULL REFERENCES channels (id),
    moderator_id  uuid REFERENCES users (id),
    target_type   text NOT NULL CHECK (target_type IN ('post', 'comment', 'user')),
    target_id     uuid NOT NULL,
    action        text NOT NULL
                  CHECK (action IN ('remove', 'restore', 'dismiss', 'ban_user', 'lift_ban',
                                    'auto_hide')),
    reason        text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 1000),
    ban_days      int CHECK (ban_days IS NULL OR ban_days BETWEEN 1 AND 3650),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_actions_target ON moderation_actions (channel_id, target_type, target_id);
SELECT apply_tenant_policy('moderation_actions');

-- A member's current ban in a channel (a new ban replaces it, lifting deletes it; the history is
-- in moderation_actions and the audit log). Active while ends_at is in the future.
CREATE TABLE bans (
    channel_id  uuid NOT NULL REFERENCES channels (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    reason      text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 1000),
    banned_by   uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
SELECT apply_tenant_policy('bans');

-- In-app notifications. kind: reply, mention, moderation, live_session.
CREATE TABLE notifications (
    id           uuid PRIMARY KEY,
    channel_id   uuid NOT NULL REFERENCES channels (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    kind         text NOT NULL CHECK (kind IN ('reply', 'mention', 'moderation', 'live_session')),
    title        text NOT NULL CHECK (char_length(title) <= 300),
    body         text NOT NULL DEFAULT '' CHECK (char_length(body) <= 1000),
    link         text NOT NULL DEFAULT '' CHECK (char_length(link) <= 500),
    actor_id     uuid REFERENCES users (id),
    target_type  text,
    target_id    uuid,
    -- One notification per (user, source): a redelivered live-session event notifies once.
    dedupe_key   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    emailed_at   timestamptz,     -- included in an email digest
    UNIQUE (user_id, dedupe_key)
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_digest ON notifications (created_at)
    WHERE read_at IS NULL AND emailed_at IS NULL;
SELECT apply_tenant_policy('notifications');
-- The owner reads and marks their notifications in every channel.
CREATE POLICY notifications_own_read ON notifications FOR SELECT TO platform_app
    USING (user_id = app_user_id());
CREATE POLICY notifications_own_update ON notifications FOR UPDATE TO platform_app
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());

-- A person's notification preferences (absent row: every default true).
CREATE TABLE notification_preferences (
    user_id        uuid PRIMARY KEY REFERENCES users (id),
    replies        boolean NOT NULL DEFAULT true,
    mentions       boolean NOT NULL DEFAULT true,
    moderation     boolean NOT NULL DEFAULT true,
    live_sessions  boolean NOT NULL DEFAULT true,
    email_digest   boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE notification_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_preferences FORCE ROW LEVEL SECURITY;
-- Its owner only; other members' writes (a reply notifying someone) read it through
-- community_notify_wanted() below, which answers one boolean.
CREATE POLICY notification_preferences_own ON notification_preferences TO platform_app
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY notification_preferences_system ON notification_preferences TO platform_system
    USING (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_preferences TO platform_app;
GRANT SELECT ON notification_preferences TO platform_system;

-- Does this person want in-app notifications of this kind? (Their row is not readable by the
-- member whose reply or mention notifies them.) Unknown kind or no row: true.
CREATE FUNCTION community_notify_wanted(p_user uuid, p_kind text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce((SELECT CASE p_kind WHEN 'reply' THEN replies WHEN 'mention' THEN mentions
                                        WHEN 'moderation' THEN moderation
                                        WHEN 'live_session' THEN live_sessions ELSE true END
                       FROM notification_preferences WHERE user_id = p_user), true)
$$;
ALTER FUNCTION community_notify_wanted(uuid, text) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION community_notify_wanted(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION community_notify_wanted(uuid, text) TO platform_app;

-- The space-visibility rule in one SQL function (the Python copy is
-- shared.community.rules.space_visible; search filters posts with it). Runs with the caller's
-- rights: inside a channel's transaction as platform_app, or inside a platform_system definer.
-- Staff (any role but student) see every space; a student sees members spaces, course spaces
-- of a course they are actively enrolled in, batch spaces of their active batch.
CREATE FUNCTION community_space_visible(p_space uuid, p_user uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM spaces s
          JOIN memberships m ON m.channel_id = s.channel_id AND m.user_id = p_user
         WHERE s.id = p_space
           AND (m.role <> 'student'
                OR s.audience_kind = 'members'
                OR (s.audience_kind = 'course' AND EXISTS (
                        SELECT 1 FROM enrollments e
                         WHERE e.channel_id = s.channel_id AND e.course_id = s.course_id
                           AND e.user_id = p_user AND e.status = 'active'))
                OR (s.audience_kind = 'batch' AND EXISTS (
                        SELECT 1 FROM enrollments e
                         WHERE e.channel_id = s.channel_id AND e.batch_id = s.batch_id
                           AND e.user_id = p_user AND e.status = 'active'))))
$$;
COMMENT ON FUNCTION community_space_visible(uuid, uuid) IS
    'May this user see this community space? Python copy: shared.community.rules.space_visible.';
GRANT SELECT ON spaces, posts, comments, enrollments, bans TO platform_system;

-- The email digest cron works across channels and people: these two definer functions are its
-- only way (role platform_fn_community_digest, given to that function's login only).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'platform_fn_community_digest') THEN
        CREATE ROLE platform_fn_community_digest NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
GRANT SELECT, UPDATE ON notifications TO platform_system;
CREATE POLICY notifications_system_update ON notifications FOR UPDATE TO platform_system
    USING (true) WITH CHECK (true);
GRANT SELECT ON users TO platform_system;

-- People with unread, not yet mailed notifications older than p_min_age who want the digest,
-- with those notifications (at most p_per_user each, newest first).
CREATE FUNCTION community_digest_due(p_min_age interval, p_max_users int, p_per_user int)
RETURNS TABLE (user_id uuid, email text, display_name text, notification_id uuid,
               channel_id uuid, kind text, title text, link text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT n.user_id FROM notifications n
          JOIN users u ON u.id = n.user_id AND u.erased_at IS NULL
          LEFT JOIN notification_preferences p ON p.user_id = n.user_id
         WHERE n.read_at IS NULL AND n.emailed_at IS NULL
           AND n.created_at < now() - p_min_age
           AND coalesce(p.email_digest, true)
         GROUP BY n.user_id ORDER BY min(n.created_at) LIMIT p_max_users
    )
    SELECT u.id, u.email, u.display_name, x.id, x.channel_id, x.kind, x.title, x.link,
           x.created_at
      FROM due JOIN users u ON u.id = due.user_id
      CROSS JOIN LATERAL (
          SELECT n.id, n.channel_id, n.kind, n.title, n.link, n.created_at FROM notifications n
           WHERE n.user_id = due.user_id AND n.read_at IS NULL AND n.emailed_at IS NULL
           ORDER BY n.id DESC LIMIT p_per_user) x
$$;
-- Mark the notifications a person's digest covered (only those of that person).
CREATE FUNCTION community_digest_sent(p_user uuid, p_before timestamptz) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH done AS (
        UPDATE notifications SET emailed_at = now()
         WHERE user_id = p_user AND read_at IS NULL AND emailed_at IS NULL
           AND created_at <= p_before
        RETURNING 1)
    SELECT count(*)::int FROM done
$$;
ALTER FUNCTION community_digest_due(interval, int, int) OWNER TO platform_system;
ALTER FUNCTION community_digest_sent(uuid, timestamptz) OWNER TO platform_system;
REVOKE EXECUTE ON FUNCTION community_digest_due(interval, int, int) FROM PUBLIC, platform_app;
REVOKE EXECUTE ON FUNCTION community_digest_sent(uuid, timestamptz) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION community_digest_due(interval, int, int),
    community_digest_sent(uuid, timestamptz) TO platform_fn_community_digest;
