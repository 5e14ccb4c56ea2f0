-- Media: what media_finalized records about an accepted object, course thumbnails, and the
-- indexes the course and upload routes read by.

-- The generation of the object media_finalized checked and accepted; a later object under the
-- same name (a second PUT to a still-valid URL) is a different generation.
ALTER TABLE uploads ADD COLUMN generation bigint;
-- The server picks every object name under the channel's own prefix; the database holds it to.
ALTER TABLE uploads ADD CONSTRAINT uploads_object_under_channel
    CHECK (starts_with(object_name, 'channels/' || channel_id::text || '/uploads/'));
CREATE INDEX uploads_lesson ON uploads (lesson_id) WHERE lesson_id IS NOT NULL;

-- A course's cover image (an upload with purpose 'thumbnail' and course_id).
ALTER TABLE courses ADD COLUMN thumbnail_object text;

CREATE INDEX resources_course ON resources (course_id, created_at);
CREATE INDEX resources_upload ON resources (upload_id) WHERE upload_id IS NOT NULL;
