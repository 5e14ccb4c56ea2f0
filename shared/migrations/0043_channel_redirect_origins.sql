-- The https origins a channel lets checkout and payout onboarding send people back to, besides
-- the platform's own (PATCH /v1/channels/{id} redirect_origins; the use case stores them
-- normalised to https://host[:port]). Redirect URLs on any other origin are refused (422), so a
-- checkout link cannot land a buyer on a look-alike page.
ALTER TABLE channels ADD COLUMN redirect_origins text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(redirect_origins) <= 10);
