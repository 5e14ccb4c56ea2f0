-- Courses, lessons, batches, resources, uploads and enrollments (all tenant tables).

CREATE TABLE courses (
    id              uuid PRIMARY KEY,
    channel_id      uuid NOT NULL REFERENCES channels (id),
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
    price_amount    bigint CHECK (price_amount IS NULL OR price_amount > 0),  -- minor units
    price_currency  text CHECK (price_currency ~ '^[a-z]{3}$'),
    created_by      uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    CHECK ((price_amount IS NULL) = (price_currency IS NULL))
);
CREATE INDEX courses_channel ON courses (channel_id, created_at);
SELECT apply_tenant_policy('courses');

CREATE TABLE lessons (
    id                uuid PRIMARY KEY,
    channel_id        uuid NOT NULL REFERENCES channels (id),
    course_id         uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position          int NOT NULL,
    title             text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('video', 'text', 'live')),
    body              text NOT NULL DEFAULT '',
    status            text NOT NULL CHECK (status IN ('pending_media', 'ready')),
    video_object      text,             -- object name in the media bucket
    duration_seconds  numeric(10, 3),   -- from the MP4 header
    thumbnail_object  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (course_id, position) DEFERRABLE INITIALLY DEFERRED
);
SELECT apply_tenant_policy('lessons');

CREATE TABLE batches (
    id           uuid PRIMARY KEY,
    channel_id   uuid NOT NULL REFERENCES channels (id),
    course_id    uuid NOT NULL REFERENCES courses (id),
    name         text NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz,
    capacity     int CHECK (capacity IS NULL OR capacity > 0),
    seats_taken  int NOT NULL DEFAULT 0,   -- taken with a conditional UPDATE: no overbooking
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at IS NULL OR ends_at > starts_at),
    CHECK (capacity IS NULL OR seats_taken <= capacity)
);
CREATE INDEX batches_course ON batches (course_id);
SELECT apply_tenant_policy('batches');

CREATE TABLE uploads (
    id                uuid PRIMARY KEY,
    channel_id        uuid NOT NULL REFERENCES channels (id),
    purpose           text NOT NULL CHECK (purpose IN ('lesson_video', 'resource', 'thumbnail')),
    course_id         uuid REFERENCES courses (id),
    lesson_id         uuid REFERENCES lessons (id) ON DELETE SET NULL,
    object_name       text NOT NULL UNIQUE,   -- always under channels/<channel_id>/
    filename          text NOT NULL,
    content_type      text NOT NULL,
    size_bytes        bigint NOT NULL CHECK (size_bytes > 0),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'rejected')),
    reason            text,
    duration_seconds  numeric(10, 3),
    created_by        uuid NOT NULL REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    finalized_at      timestamptz
);
SELECT apply_tenant_policy('uploads');

CREATE TABLE resources (
    id            uuid PRIMARY KEY,
    channel_id    uuid NOT NULL REFERENCES channels (id),
    course_id     uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    lesson_id     uuid REFERENCES lessons (id) ON DELETE CASCADE,
    title         text NOT NULL,
    upload_id     uuid REFERENCES uploads (id),
    object_name   text,
    content_type  text,
    size_bytes    bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);
SELECT apply_tenant_policy('resources');

CREATE TABLE enrollments (
    id            uuid PRIMARY KEY,
    channel_id    uuid NOT NULL REFERENCES channels (id),
    course_id     uuid NOT NULL REFERENCES courses (id),
    user_id       uuid NOT NULL REFERENCES users (id),
    batch_id      uuid REFERENCES batches (id),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    source        text NOT NULL CHECK (source IN ('free', 'paid', 'staff')),
    ended_reason  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    completed_at  timestamptz,
    UNIQUE (channel_id, course_id, user_id)
);
CREATE INDEX enrollments_user ON enrollments (user_id, created_at);
SELECT apply_tenant_policy('enrollments');
-- A student lists their own enrollments across channels (GET /v1/me/enrollments).
CREATE POLICY enrollments_own ON enrollments FOR SELECT TO platform_app
    USING (user_id = app_user_id());

-- Published courses are public (landing pages, search, a student's enrollment list across
-- channels), so they are readable without tenant context. Queries for a channel must still
-- say `channel_id = app_channel_id()`.
CREATE POLICY courses_published ON courses FOR SELECT TO platform_app
    USING (status = 'published');
