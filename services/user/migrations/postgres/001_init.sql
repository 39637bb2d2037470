-- user-service schema, PostgreSQL. Timestamps are BIGINT milliseconds since the epoch, computed in
-- C++. `email` is stored ASCII lower-cased and `name_lower` is the ASCII lower-cased name, so the
-- admin search is a LIKE on lower-cased columns on both backends (no lower() in SQL).
CREATE TABLE users (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL,
  name_lower    TEXT    NOT NULL,
  email         TEXT    NOT NULL UNIQUE,
  phone         TEXT,
  role          TEXT    NOT NULL CHECK (role IN ('customer', 'admin')),
  password_hash TEXT    NOT NULL,
  created_at    BIGINT  NOT NULL,
  updated_at    BIGINT  NOT NULL,
  version       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX users_created_idx ON users (created_at, id);
CREATE INDEX users_role_idx ON users (role);

-- Opaque refresh tokens, stored as SHA-256 hex. A family is one login's chain of rotations.
-- `successor_token` holds the raw successor for the short retry grace and is cleared once used.
CREATE TABLE refresh_tokens (
  token_hash      TEXT    PRIMARY KEY,
  family_id       TEXT    NOT NULL,
  user_id         TEXT    NOT NULL,
  issued_at       BIGINT  NOT NULL,
  expires_at      BIGINT  NOT NULL,
  used_at         BIGINT,
  replaced_by     TEXT,
  successor_token TEXT,
  revoked_at      BIGINT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_replaced_by_idx ON refresh_tokens (replaced_by);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Fixed-window counters shared by every instance (login failures, registrations).
CREATE TABLE rate_limits (
  key          TEXT    PRIMARY KEY,
  window_start BIGINT  NOT NULL,
  count        BIGINT  NOT NULL
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- Rows every transaction of one kind updates, so such transactions serialize under REPEATABLE
-- READ (without it two demotions of two different admins could both succeed: write skew).
CREATE TABLE guards (
  name    TEXT    PRIMARY KEY,
  counter BIGINT  NOT NULL
);
INSERT INTO guards (name, counter) VALUES ('admins', 0);
