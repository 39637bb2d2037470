// The queue worker of worker.hpp: claim loops on their own threads, handlers outside
// transactions, outcomes recorded with the owner's hook, metrics per queue.
#include "emporium/queue/worker.hpp"

#include "emporium/app/app.hpp"
#include "emporium/obs/log.hpp"
#include "emporium/obs/metrics.hpp"
#include "emporium/util/crypto.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

namespace emporium::queue {
namespace {

constexpr int kPurgeIntervalMs = 3600 * 1000;
constexpr int kPurgeBatch = 500;

std::string default_owner() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return std::string(host.data()) + ':' + std::to_string(::getpid()) + ':' + random_token(4);
}

// In [0, 1). Per-thread generator: jitter only needs to differ between threads and instances.
double unit_random() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Worker::Worker(db::Database& db, std::string queue, WorkerOptions options, Handler handler,
               obs::Metrics* metrics, obs::Logger* log, WorkQueue::Clock clock)
    : db_(db),
      queue_(std::move(queue), db.backend(), std::move(clock)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      metrics_(metrics),
      log_(log) {
  if (options_.threads < 1 || options_.batch < 1 || options_.lease_ms < 1 ||
      options_.poll_interval_ms < 1 || options_.keep_done_ms < 0 || !handler_) {
    throw std::invalid_argument("work queue " + queue_.name() +
                                ": threads, batch, lease_ms and poll_interval_ms must be at "
                                "least 1, and a handler is needed");
  }
  if (options_.owner.empty()) options_.owner = default_owner();
}

Worker& Worker::on_settle(SettleHook hook) {
  hook_ = std::move(hook);
  return *this;
}

void Worker::run(std::stop_token stop) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) {
    threads.emplace_back([this, stop] { loop(stop); });
  }
  for (auto& t : threads) t.join();
}

void Worker::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    int claimed = 0;
    try {
      claimed = run_once(stop);
    } catch (const std::exception& e) {
      // The database is unavailable (or a hook failed): try again after a poll interval.
      warn("work queue round failed", e.what());
    }
    if (claimed >= options_.batch) continue;  // a full batch: more may be due
    refresh_gauges();
    const auto idle = std::chrono::milliseconds(
        static_cast<std::int64_t>(options_.poll_interval_ms * (0.5 + unit_random())));
    std::unique_lock lock(wake_mutex_);
    if (wake_.wait_for(lock, stop, idle, [this] { return kicks_ > 0; })) --kicks_;
  }
}

int Worker::run_once(std::stop_token stop) {
  if (stop.stop_requested()) return 0;
  // Lost leases first: their items become due again (or fail for good), and the owner's hook
  // hears of it in the same transaction.
  std::vector<std::pair<Item, Settled>> expired;
  auto expire = [&](bool with_hook) {
    db_.transact(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
      expired = queue_.expire_leases(tx, options_.batch);
      if (with_hook && hook_) {
        for (const auto& [item, settled] : expired) hook_(tx, item, settled);
      }
    });
  };
  try {
    expire(true);
  } catch (const std::exception& e) {
    // A hook that keeps failing on one lost item must not stop the queue: the oldest lost
    // lease comes first every round, on every instance. Take the items back without the hook
    // (the owner hears of them when they settle next), and go on claiming either way.
    warn("lost leases not taken back with the owner's hook", e.what());
    expired.clear();
    try {
      expire(false);
    } catch (const std::exception& again) {
      warn("lost leases not taken back", again.what());
      expired.clear();
    }
  }
  if (!expired.empty()) {
    count(kLeaseExpiredTotal, "Work items taken back from a worker whose lease passed",
          static_cast<std::int64_t>(expired.size()));
    for (const auto& [item, settled] : expired) {
      if (settled.state == State::Failed) count_settled(settled);
    }
  }

  const auto items = db_.with_tx(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
    return queue_.claim(tx, options_.owner, options_.batch, options_.lease_ms);
  });
  if (items.empty()) return 0;
  count(kClaimedTotal, "Work items claimed", static_cast<std::int64_t>(items.size()));
  for (std::size_t i = 0; i < items.size(); ++i) {
    // Finish the item in hand on stop. An item of a slow batch whose lease has less than half
    // its length left is given back, not started: it could outlive its lease mid-run and run
    // beside its next holder.
    if (stop.stop_requested() || queue_.now() + options_.lease_ms / 2 > items[i].lease_until_ms) {
      release(std::vector<Item>(items.begin() + static_cast<std::ptrdiff_t>(i), items.end()));
      break;
    }
    run_item(items[i]);
  }
  return static_cast<int>(items.size());
}

void Worker::run_item(const Item& item) {
  const auto start = std::chrono::steady_clock::now();
  Outcome outcome;
  try {
    outcome = handler_(item);
  } catch (const std::exception& e) {
    outcome = Outcome::retry(e.what());
  } catch (...) {
    outcome = Outcome::retry("the handler threw a non-standard exception");
  }
  if (metrics_ != nullptr) {
    metrics_->observe(kHandlerSeconds, "Time a work queue handler took per item", "queue",
                      queue_.name(), seconds_since(start));
  }
  record(item, queue_.decide(item, outcome, options_.backoff, unit_random()));
}

void Worker::record(const Item& item, const Settled& settled) {
  bool applied = false;
  try {
    applied = db_.with_tx(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
      if (!queue_.settle(tx, item, settled)) return false;
      if (hook_) hook_(tx, item, settled);
      return true;
    });
  } catch (const std::exception& e) {
    // The item stays claimed; it runs again once its lease passes (at least once).
    warn("work item result not recorded", e.what());
  }
  if (!applied) {
    count(kUnrecordedTotal,
          "Work item results not recorded: the lease was lost or the transaction failed");
    return;
  }
  count_settled(settled);
}

void Worker::release(const std::vector<Item>& items) {
  try {
    db_.transact(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
      for (const auto& item : items) queue_.release(tx, item);
    });
  } catch (const std::exception& e) {
    // They are taken back when their leases pass.
    warn("unstarted work items not released", e.what());
  }
}

void Worker::count(const char* name, const char* help, std::int64_t n) {
  if (metrics_ == nullptr || n <= 0) return;
  metrics_->increment(name, help, "queue", queue_.name(), static_cast<double>(n));
}

void Worker::count_settled(const Settled& settled) {
  switch (settled.state) {
    case State::Done: count(kSucceededTotal, "Work items done"); break;
    case State::Pending:
      count(kRetriedTotal, "Work item attempts that failed and will be retried");
      break;
    case State::Failed:
      count(kFailedTotal, "Work items failed for good (attempts used up or a permanent error)");
      break;
    case State::Running: break;
  }
}

void Worker::refresh_gauges() {
  if (metrics_ == nullptr) return;
  {
    std::lock_guard lock(gauges_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (gauges_at_ != std::chrono::steady_clock::time_point{} &&
        now - gauges_at_ < std::chrono::milliseconds(options_.gauge_interval_ms)) {
      return;
    }
    gauges_at_ = now;
  }
  try {
    const auto counts =
        db_.with_tx(db::TxKind::Read, [&](db::Tx& tx) { return queue_.counts(tx); });
    const auto& q = queue_.name();
    metrics_->set_gauge(kPendingItems, "Work items waiting to run (due or not)", "queue", q,
                        static_cast<double>(counts.pending));
    metrics_->set_gauge(kRunningItems, "Work items held by a worker", "queue", q,
                        static_cast<double>(counts.running));
    metrics_->set_gauge(kDeadItems, "Work items failed for good, kept for inspection or requeue",
                        "queue", q, static_cast<double>(counts.failed));
  } catch (const std::exception& e) {
    warn("work queue gauges not refreshed", e.what());
  }
}

void Worker::notify() {
  {
    std::lock_guard lock(wake_mutex_);
    kicks_ = std::min(kicks_ + 1, options_.threads);
  }
  wake_.notify_one();
}

void Worker::attach(App& app) {
  if (metrics_ == nullptr) metrics_ = &app.metrics();
  if (log_ == nullptr) log_ = &app.log();
  app.background("work-queue:" + queue_.name(), [this](std::stop_token stop) { run(stop); });
  if (options_.keep_done_ms > 0) {
    app.every("work-queue-purge:" + queue_.name(), kPurgeIntervalMs, [this] {
      // Batches, so that a large backlog does not hold a long transaction.
      const std::int64_t before = queue_.now() - options_.keep_done_ms;
      while (db_.with_tx(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
        return queue_.purge_done(tx, before, kPurgeBatch);
      }) == kPurgeBatch) {
      }
    });
  }
}

void Worker::warn(std::string_view msg, const std::string& error) const {
  if (log_ != nullptr) log_->warn(msg, {{"queue", queue_.name()}, {"error", error}});
}

Outcome run_follow_up(db::Database& db, const WorkQueue& queue, std::int64_t item_id,
                      const std::function<Outcome()>& work) {
  Outcome outcome;
  try {
    outcome = work();
  } catch (const std::exception& e) {
    outcome = Outcome::retry(e.what());
  }
  if (outcome.kind != Outcome::Kind::Done || item_id == 0) return outcome;
  try {
    db.transact(db::TxKind::Write, [&](db::Tx& tx) { queue.discard(tx, item_id); });
  } catch (const std::exception&) {
    // The item runs once more when due; the work is idempotent.
  }
  return outcome;
}

}  // namespace emporium::queue
