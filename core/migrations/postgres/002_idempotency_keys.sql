-- Idempotency keys (DESIGN §5, core/include/emporium/idempotency/idempotency.hpp): one row per
-- (scope, method, route template, key); `running` while a request holds the claim, `done` with
-- the first answer, replayed until expires_at_ms. Times are milliseconds since the epoch.
CREATE TABLE emporium_idempotency_keys (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done')),
  claim_token TEXT NOT NULL,
  resource_id TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL,
  status INTEGER,
  content_type TEXT,
  headers TEXT,
  body TEXT,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  UNIQUE (scope, method, route, idem_key)
);
CREATE INDEX emporium_idempotency_keys_expiry ON emporium_idempotency_keys (expires_at_ms);
