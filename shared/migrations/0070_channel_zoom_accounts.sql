-- Each channel's own Zoom account (issue 11): the OAuth grant a channel owner/admin gave us,
-- and on every live session the provider account its meeting was created under.
--
-- Tokens are stored encrypted by the application (AES-GCM, key from a secret; key_id names the
-- key so a rotation can re-encrypt row by row), never in clear. The provider's account id lets
-- the live webhook route an event (payload.account_id + meeting id) to its channel.
CREATE TABLE channel_zoom_accounts (
    channel_id          uuid PRIMARY KEY REFERENCES channels (id),
    account_id          text NOT NULL CHECK (char_length(account_id) BETWEEN 1 AND 200),
    zoom_user_id        text,
    key_id              text NOT NULL,
    access_token_enc    bytea NOT NULL,
    refresh_token_enc   bytea NOT NULL,
    access_expires_at   timestamptz NOT NULL,
    scopes              text NOT NULL DEFAULT '',
    connected_by        uuid NOT NULL REFERENCES users (id),
    connected_at        timestamptz NOT NULL DEFAULT now(),
    refreshed_at        timestamptz
);
CREATE INDEX channel_zoom_accounts_account ON channel_zoom_accounts (account_id);
SELECT apply_tenant_policy('channel_zoom_accounts');

-- The Zoom account a session's meeting lives under (NULL for sessions created before
-- per-channel accounts).
ALTER TABLE live_sessions ADD COLUMN provider_account_id text;
CREATE INDEX live_sessions_provider_account
    ON live_sessions (provider_account_id, provider_meeting_id);
