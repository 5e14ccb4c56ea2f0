-- A session remembers whether it was opened with a second factor.
--
-- Access tokens now say how the user signed in (`amr`, RFC 8176: ["pwd"] or ["pwd", "otp"]),
-- and a channel that requires a second factor of its owners and admins checks that the
-- session presenting the token used one, not only that the account has one. A refreshed
-- token keeps what its family was opened with, so the flag is kept on the refresh token.

ALTER TABLE refresh_tokens ADD COLUMN second_factor boolean NOT NULL DEFAULT false;
