-- Access tokens end with the sessions that issued them.
--
-- Access tokens are stateless JWTs valid for their whole lifetime (~15 min), so a logout, a
-- password reset or a detected refresh-token reuse used to leave every access token already
-- issued working until it expired. Each of those now sets the user's "tokens valid after"
-- instant; verification refuses a token issued before it (shared/identity/tokens.py, which
-- caches the instant per process for a few seconds). NULL: nothing was ever revoked.

ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
