// Work queues in the database (issue 8, "Background work"): items of a named queue in the
// core-owned table `emporium_work_items` (core/migrations/*/003_work_items.sql), enqueued in the
// caller's transaction (so a state change and its work commit together, like an outbox), claimed
// with a lease by any number of instances, and settled with the lease's token.
//
// - Claiming: one statement that picks due items and marks them `running` with a fresh lease
//   token; PostgreSQL skips rows another claimer holds (`FOR UPDATE SKIP LOCKED`, at READ
//   COMMITTED), SQLite's single writer serialises claimers. So two instances never hold one item
//   at once while its lease lasts.
// - A claim counts as an attempt, so an item whose worker dies every time (a crash, an
//   out-of-memory kill) also ends `failed` after max_attempts instead of looping.
// - An item whose lease passed without a result goes back to `pending` (or `failed` when its
//   attempts are used up) with last_error saying so, and is claimed again; see expire_leases.
// - Settling (done, retry later, failed) applies only while the item still carries the claim's
//   token: a worker that outlived its lease cannot overwrite the result of the item's new holder.
//   The lease must therefore outlast a whole claimed batch (every outbound call has a deadline).
//
// The worker that runs items on the App's threads is in queue/worker.hpp; this file is the table
// and the rules, usable from any transaction (tests, admin routes, a service's own loop).
#pragma once

#include "emporium/db/database.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::queue {

enum class State { Pending, Running, Done, Failed };
std::string_view state_name(State state);  // "pending", "running", "done", "failed"

struct EnqueueOptions {
  int max_attempts = 5;  // claims at most, then `failed`
  // Not before this time (ms since the epoch); 0: now.
  std::int64_t run_after_ms = 0;
  // At most one item per (queue, dedupe key) while that item exists (done items until purged,
  // failed ones until requeued or purged): an event id, "order-expiry:<order id>".
  std::optional<std::string> dedupe_key{};
};

// An item as stored: what a handler reads (payload, attempts including the current one, the
// previous attempt's error), the claim that settles it (lease_token), and for admin reads
// (dead-letter lists, a status page) the rest.
struct Item {
  std::int64_t id = 0;
  std::string queue;
  std::string payload;
  State state = State::Pending;
  int attempts = 0;
  int max_attempts = 0;
  std::int64_t run_after_ms = 0;
  std::optional<std::string> dedupe_key;
  std::optional<std::string> last_error;
  std::optional<std::string> lease_owner;
  std::string lease_token;  // empty unless running
  std::int64_t lease_until_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> finished_at_ms;
};

// What a handler reports for one item.
struct Outcome {
  enum class Kind { Done, Retry, Fail };
  Kind kind = Kind::Done;
  std::string error;  // Retry/Fail: the reason kept as last_error (e.g. the provider's answer)
  // Retry: not before this many ms from now (a provider's Retry-After), or the back-off when
  // that is longer.
  std::optional<std::int64_t> retry_after_ms;
  std::string result;  // Done: handed to the settle hook (e.g. the provider's message id)

  static Outcome done(std::string result = {});
  static Outcome retry(std::string error, std::optional<std::int64_t> after_ms = std::nullopt);
  // At once, whatever attempts remain (the provider rejected the address for good).
  static Outcome fail(std::string error);
};

// Exponential back-off with jitter: attempt n waits a uniformly random time in
// [ceiling/2, ceiling], ceiling = min(cap_ms, base_ms · 2^(n-1)). Half the ceiling is kept as a
// floor so that, below the cap, each attempt waits at least as long as the previous one could
// have (a struggling provider gets a growing pause; "full jitter" may retry at once), and the
// other half spreads the retries of many items.
struct Backoff {
  std::int64_t base_ms = 1000;
  std::int64_t cap_ms = 5 * 60 * 1000;
};
// `unit` in [0, 1) picks the point in the range (tests pass fixed values; workers a random one).
std::int64_t backoff_ms(const Backoff& backoff, int attempt, double unit);

// The transition an item makes out of `running`, as the settle hook sees it.
struct Settled {
  State state = State::Done;  // Done; Pending (to be retried at next_run_ms); Failed
  int attempts = 0;
  std::string error;             // empty when Done
  std::int64_t next_run_ms = 0;  // Pending only
  std::string result;            // Outcome::result
};

// Counts of a queue's unfinished items (cheap: they come from the claim index).
struct Counts {
  std::int64_t pending = 0;  // due or not
  std::int64_t running = 0;
  std::int64_t failed = 0;
};

// One named queue. The clock (ms since the epoch) is shared by every instance through the
// database: leases compare times written by different hosts, so a lease must be much longer
// than their clock skew.
class WorkQueue {
 public:
  using Clock = std::function<std::int64_t()>;
  // `backend`: the database's (Database::backend()), which decides how claims lock.
  WorkQueue(std::string name, db::Backend backend, Clock clock = {});

  const std::string& name() const { return name_; }
  std::int64_t now() const { return clock_(); }

  // In the caller's transaction. Returns the new item's id, or nullopt when an item with the
  // same dedupe key exists.
  std::optional<std::int64_t> enqueue(db::Tx& tx, std::string_view payload,
                                      const EnqueueOptions& options = {}) const;

  // Items whose lease passed go back to pending (or to failed, their attempts used up) with
  // last_error naming the lost lease; returns them as settled, for the hook and the metrics.
  // At most `limit` items. Run in a WriteCommitted transaction, like claim.
  std::vector<std::pair<Item, Settled>> expire_leases(db::Tx& tx, int limit) const;
  // Up to `limit` due pending items, oldest due first, now `running` under a new lease of
  // `lease_ms` held by `owner` (a label for admins: host, pid). Run in a WriteCommitted
  // transaction: at READ COMMITTED PostgreSQL re-checks a row another claimer just took.
  std::vector<Item> claim(db::Tx& tx, std::string_view owner, int limit,
                          std::int64_t lease_ms) const;

  // What `outcome` of `item` becomes (attempts left, back-off, Retry-After); `unit` in [0, 1).
  Settled decide(const Item& item, const Outcome& outcome, const Backoff& backoff,
                 double unit) const;
  // Records `settled` for `item` when its lease token still matches; false (nothing written)
  // when the lease was lost to another holder, or the item was requeued or deleted meanwhile.
  bool settle(db::Tx& tx, const Item& item, const Settled& settled) const;
  // Gives an unstarted item back (not an attempt): pending and due now. False when the lease
  // was lost.
  bool release(db::Tx& tx, const Item& item) const;

  // Deletes a pending item whose work was done another way (the handler that enqueued it as a
  // fallback made the call itself and it succeeded). False when no worker can skip it any more:
  // it is running, finished, or gone; then it runs (again), so its work must be idempotent.
  bool discard(db::Tx& tx, std::int64_t id) const;

  // ---- admin ----
  std::optional<Item> get(db::Tx& tx, std::int64_t id) const;
  // Items in `state` by id, after `after_id` (paging), at most `limit`.
  std::vector<Item> list(db::Tx& tx, State state, int limit, std::int64_t after_id = 0) const;
  // A failed item runs again: pending, due now, attempts back to 0 (last_error kept). False when
  // the item is not failed (or not of this queue).
  bool requeue(db::Tx& tx, std::int64_t id) const;
  Counts counts(db::Tx& tx) const;
  // Deletes up to `batch` done items finished before `before_ms`; returns how many.
  std::int64_t purge_done(db::Tx& tx, std::int64_t before_ms, int batch = 500) const;

 private:
  std::string name_;
  db::Backend backend_;
  Clock clock_;
};

}  // namespace emporium::queue
