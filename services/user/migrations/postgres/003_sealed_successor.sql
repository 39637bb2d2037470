-- The successor pair handed out again on a retry within the grace window is kept only sealed:
-- AES-256-GCM under a key derived from the presented old refresh token, which the database never
-- holds (it stores SHA-256 of it). Nothing in this table works as a token (DESIGN §6). The raw
-- columns are emptied and dropped, so no code path can write a usable token here again.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed TEXT;
UPDATE refresh_tokens SET successor_token = NULL, successor_access = NULL;
ALTER TABLE refresh_tokens DROP COLUMN successor_token;
ALTER TABLE refresh_tokens DROP COLUMN successor_access;
-- The sweep clears sealed pairs whose grace passed; only rows that still hold one are indexed.
CREATE INDEX refresh_tokens_sealed_idx ON refresh_tokens (used_at)
  WHERE successor_sealed IS NOT NULL;
