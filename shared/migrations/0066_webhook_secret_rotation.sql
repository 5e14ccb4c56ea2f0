-- Rotating an endpoint's signing secret keeps the previous one signing too until an overlap
-- window ends, so receivers can switch secrets without losing a delivery (each delivery then
-- carries two `v1,` signatures, as the Standard Webhooks spec allows).
ALTER TABLE webhook_endpoints
    ADD COLUMN previous_secret text,
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT webhook_endpoints_previous_secret_pair
        CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));
