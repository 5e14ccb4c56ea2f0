-- A second factor (TOTP, RFC 6238) for the people who hold the money (issue 16 item 13).
--
-- user_totp: one authenticator per user; `confirmed_at` NULL while enrolling (the user has
-- not yet proved they hold the secret). `last_step` is the last accepted 30-second step, so
-- a code is accepted once (RFC 6238 5.2). Recovery codes are stored as sha256 hashes, each
-- used once. login_challenges: the short-lived token that a password login answers when a
-- second factor is needed, redeemed with a code; attempts are counted. A channel may require
-- a second factor of its owners and admins (channels.require_second_factor).

CREATE TABLE user_totp (
    user_id      uuid PRIMARY KEY REFERENCES users (id),
    secret       text NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id),
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE login_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    attempts   int NOT NULL DEFAULT 0
);
CREATE INDEX login_challenges_user ON login_challenges (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON user_totp, user_recovery_codes, login_challenges
    TO platform_app;

ALTER TABLE channels ADD COLUMN require_second_factor boolean NOT NULL DEFAULT false;
