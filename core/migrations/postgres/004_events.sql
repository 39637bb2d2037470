-- Events (core/include/emporium/events/events.hpp). The outbox itself is the work queue
-- "emporium-outbox" (003_work_items): its rows commit with the state change and the relay
-- publishes them. These tables belong to consumers:
-- - processed events: one row per (consumer, event id), written in the same transaction as the
--   consumer's effect, so a redelivered event has no second effect;
-- - dead letters: an event the consumer could not handle (a poison event, or still failing after
--   its deliveries ran out), kept for an admin to read and replay.
CREATE TABLE emporium_processed_events (
  consumer TEXT NOT NULL,
  event_id TEXT NOT NULL,
  processed_at_ms BIGINT NOT NULL,
  PRIMARY KEY (consumer, event_id)
);
CREATE INDEX emporium_processed_events_age ON emporium_processed_events (processed_at_ms);
CREATE TABLE emporium_dead_letters (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  subject TEXT NOT NULL,
  payload TEXT NOT NULL,
  error TEXT NOT NULL,
  deliveries INTEGER NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  replayed_at_ms BIGINT,
  UNIQUE (consumer, event_id)
);
CREATE INDEX emporium_dead_letters_open ON emporium_dead_letters (consumer, replayed_at_ms, id);
