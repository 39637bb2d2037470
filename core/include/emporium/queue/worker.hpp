// The worker that runs a database queue's items (queue/work_queue.hpp) on background threads of
// the App, beside App::every. Each of `threads` loops: expire lost leases, claim a batch, run
// the handler for each item OUTSIDE any transaction (it may call a slow provider), then record
// the outcome in its own short transaction together with the owner's hook.
//
//   queue::Worker worker(app.db(), "notifications", options, deliver, &app.metrics());
//   worker.on_settle([](db::Tx& tx, const queue::Item& item, const queue::Settled& s) {
//     tx.exec(kSetNotificationStatus, {...});  // sent / failed, attempts, lastError
//   });
//   worker.attach(app);  // runs from app.run(); stops claiming when the drain starts
//
// Delivery is at least once: a result that cannot be recorded (database down, the lease lost)
// means the item runs again, so a handler makes its effect idempotent downstream (a provider's
// idempotency key, NATS message id = event id).
#pragma once

#include "emporium/db/database.hpp"
#include "emporium/queue/work_queue.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace emporium {
class App;
namespace obs {
class Logger;
class Metrics;
}  // namespace obs
}  // namespace emporium

namespace emporium::queue {

// Metrics, labelled by `queue`.
inline constexpr const char* kClaimedTotal = "work_queue_claimed_total";
inline constexpr const char* kSucceededTotal = "work_queue_succeeded_total";
inline constexpr const char* kRetriedTotal = "work_queue_retried_total";
inline constexpr const char* kFailedTotal = "work_queue_failed_total";  // dead: no more attempts
inline constexpr const char* kLeaseExpiredTotal = "work_queue_lease_expired_total";
// A result the worker could not record: its lease was lost, or the settle transaction failed.
inline constexpr const char* kUnrecordedTotal = "work_queue_unrecorded_results_total";
inline constexpr const char* kHandlerSeconds = "work_queue_handler_duration_seconds";
inline constexpr const char* kPendingItems = "work_queue_pending_items";  // gauges
inline constexpr const char* kRunningItems = "work_queue_running_items";
inline constexpr const char* kDeadItems = "work_queue_dead_items";

struct WorkerOptions {
  int threads = 1;  // concurrent items per instance
  int batch = 1;    // items claimed at once per thread; the lease covers the whole batch
  // How long a claim keeps other instances away: longer than `batch` × the slowest handler.
  std::int64_t lease_ms = 60'000;
  // Idle: the next claim after poll_interval_ms × a random factor in [0.5, 1.5).
  int poll_interval_ms = 1000;
  Backoff backoff{};
  // Done items are deleted this long after they finished (attach() sweeps hourly); 0 keeps them.
  std::int64_t keep_done_ms = 7LL * 24 * 3600 * 1000;
  // The gauges are refreshed at most this often (when idle).
  int gauge_interval_ms = 10'000;
  // The lease owner recorded for admins; empty: "<host>:<pid>:<random>".
  std::string owner{};
};

// A follow-up: work enqueued as item `item_id` (a fallback, due later) in the transaction that
// made it necessary, and done now by the request that committed it. When `work` reports done the
// item is discarded, else the worker runs it when due. Never throws: an exception from `work` is
// a retry with its message. The item may still run once more (the discard lost a race with a
// claim), so `work` must be idempotent downstream.
Outcome run_follow_up(db::Database& db, const WorkQueue& queue, std::int64_t item_id,
                      const std::function<Outcome()>& work);

class Worker {
 public:
  using Handler = std::function<Outcome(const Item&)>;
  // In the transaction that records the item's transition out of `running` (done, retry, failed,
  // or a lost lease found by expire_leases), after the queue row was updated: the owner updates
  // its own rows with it. If it throws, the transaction rolls back and the item stays claimed
  // until its lease passes.
  using SettleHook = std::function<void(db::Tx&, const Item&, const Settled&)>;

  // `metrics` and `log` may be null (tests; attach() fills them from the App); `clock` as
  // WorkQueue's. Throws std::invalid_argument for options out of range.
  Worker(db::Database& db, std::string queue, WorkerOptions options, Handler handler,
         obs::Metrics* metrics = nullptr, obs::Logger* log = nullptr, WorkQueue::Clock clock = {});

  Worker& on_settle(SettleHook hook);

  // Runs options.threads loops until `stop` is requested; then each finishes the item in hand,
  // gives the unstarted rest of its batch back, and returns. Blocks until all have returned.
  void run(std::stop_token stop);
  // One round on the calling thread: expire leases, claim a batch, run it. Returns the number of
  // items claimed. For tests and for callers that drive their own loop.
  int run_once(std::stop_token stop = {});
  // Wakes an idle loop now (after committing an enqueue, so the item does not wait for a poll).
  void notify();

  // Runs run() on the App's background threads (App::background: stopped when the drain
  // starts) and, with keep_done_ms, an hourly purge of done items (App::every). The worker must
  // outlive app.run(): its threads use it until the App stops them.
  void attach(App& app);

  const WorkQueue& queue() const { return queue_; }
  const std::string& owner() const { return options_.owner; }

 private:
  void loop(std::stop_token stop);
  void run_item(const Item& item);
  void record(const Item& item, const Settled& settled);
  void release(const std::vector<Item>& items);
  void count(const char* name, const char* help, std::int64_t n = 1);
  void count_settled(const Settled& settled);
  void refresh_gauges();
  void warn(std::string_view msg, const std::string& error) const;

  db::Database& db_;
  WorkQueue queue_;
  WorkerOptions options_;
  Handler handler_;
  SettleHook hook_;
  obs::Metrics* metrics_;
  obs::Logger* log_;

  std::mutex wake_mutex_;
  std::condition_variable_any wake_;
  int kicks_ = 0;
  std::mutex gauges_mutex_;
  std::chrono::steady_clock::time_point gauges_at_{};
};

}  // namespace emporium::queue
