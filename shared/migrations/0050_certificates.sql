-- Certificates (issue 13): one per student and course, issued when the course completes.
--
-- The holder's name is kept as it was at issue; the credential names the holder only by a
-- salted hash of the email at issue (Open Badges 3.0 IdentityObject), never the plain email.
-- The code is what people type and share: 12 characters of an alphabet without 0/O/1/I,
-- unique across every channel.
CREATE TABLE certificates (
    id                 uuid PRIMARY KEY,
    channel_id         uuid NOT NULL REFERENCES channels (id),
    course_id          uuid NOT NULL REFERENCES courses (id),
    user_id            uuid NOT NULL REFERENCES users (id),
    enrollment_id      uuid REFERENCES enrollments (id),
    code               text NOT NULL UNIQUE CHECK (code ~ '^[2-9A-HJ-NP-Z]{12}$'),
    holder_name        text NOT NULL,
    course_title       text NOT NULL,
    course_description text NOT NULL DEFAULT '',
    subject_hash       text NOT NULL,          -- 'sha256$' || hex(sha256(lower(email) || salt))
    subject_salt       text NOT NULL,
    issued_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz,
    revocation_reason  text,
    UNIQUE (channel_id, course_id, user_id)
);
CREATE INDEX certificates_user ON certificates (user_id, issued_at);
SELECT apply_tenant_policy('certificates');
-- A holder lists their own certificates in every channel (GET /v1/me/certificates).
CREATE POLICY certificates_own ON certificates FOR SELECT TO platform_app
    USING (user_id = app_user_id());

-- The public lookup by code knows no channel: this is its only way across tenants. It answers
-- the channel only; the certificate is then read under that channel's row-level security.
CREATE FUNCTION certificate_channel_of(p_code text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT channel_id FROM certificates WHERE code = p_code
$$;
ALTER FUNCTION certificate_channel_of(text) OWNER TO platform_system;
GRANT SELECT ON certificates TO platform_system;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'platform_fn_certificates') THEN
        CREATE ROLE platform_fn_certificates NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
REVOKE EXECUTE ON FUNCTION certificate_channel_of(text) FROM PUBLIC, platform_app;
GRANT EXECUTE ON FUNCTION certificate_channel_of(text) TO platform_fn_certificates;
