-- The access token issued with a rotated refresh token, kept with `successor_token` for the
-- retry grace so a retried refresh gets the same pair (DESIGN §6); cleared with it.
ALTER TABLE refresh_tokens ADD COLUMN successor_access TEXT;
