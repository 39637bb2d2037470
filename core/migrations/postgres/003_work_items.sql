-- Work queues in the database (core/include/emporium/queue/work_queue.hpp): one row per item of
-- a named queue. `pending` until due (run_after_ms), `running` while a worker holds its lease
-- (lease_token, until lease_until_ms; an expired lease is reclaimed), then `done`, or `failed`
-- after max_attempts (attempts count claims) or a permanent failure, with last_error. Times are
-- milliseconds since the epoch, computed by the application.
CREATE TABLE emporium_work_items (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue TEXT NOT NULL,
  payload TEXT NOT NULL,
  dedupe_key TEXT,
  state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  run_after_ms BIGINT NOT NULL,
  lease_owner TEXT,
  lease_token TEXT,
  lease_until_ms BIGINT,
  last_error TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT
);
-- Claims scan (queue, state, due time): pending items by run_after_ms, running ones by lease.
CREATE INDEX emporium_work_items_claim ON emporium_work_items (queue, state, run_after_ms, id);
CREATE INDEX emporium_work_items_lease ON emporium_work_items (queue, lease_until_ms)
  WHERE state = 'running';
-- At most one item per (queue, dedupe key) while it exists (done items until purged).
CREATE UNIQUE INDEX emporium_work_items_dedupe ON emporium_work_items (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL;
