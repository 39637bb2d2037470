-- notification-service schema. Timestamps are milliseconds since the epoch, computed in C++.
--
-- One row per message to send: `queued` until the provider accepted it (`sent`, with the
-- provider's id or reply) or the delivery gave up (`failed`, with the provider's last reason).
-- The delivery itself is an item of the work queue "notifications" (core 003_work_items), written
-- in the same transaction; `attempts` and `last_error` mirror it for readers.
CREATE TABLE notifications (
  id          TEXT    PRIMARY KEY,
  channel     TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
  recipient   TEXT    NOT NULL,
  subject     TEXT,
  body_text   TEXT    NOT NULL,
  body_html   TEXT,
  status      TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT,
  provider_id TEXT,
  event_id    TEXT,
  event_type  TEXT,
  template    TEXT,
  user_id     TEXT,
  created_at  BIGINT  NOT NULL,
  updated_at  BIGINT  NOT NULL,
  sent_at     BIGINT
);
-- One message per channel per event, whatever redeliveries happen (the consumer's processed-id
-- record is the first guard, this the second).
CREATE UNIQUE INDEX notifications_event ON notifications (event_id, channel)
  WHERE event_id IS NOT NULL;
CREATE INDEX notifications_by_created ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_by_status ON notifications (status, created_at DESC, id DESC);
