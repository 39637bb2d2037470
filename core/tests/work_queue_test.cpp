// Database work queues on SQLite and PostgreSQL: two instances never run one item at once and
// run each once, a dead worker's item is taken back after its lease and not before, a stale
// lease cannot settle, back-off with jitter, max attempts, permanent failure and Retry-After,
// the owner's hook in the settle transaction, admin reads, stop (and the App's drain).
// Hangs are bounded generously; nothing asserts on speed.
#include "emporium/queue/work_queue.hpp"
#include "emporium/queue/worker.hpp"

#include "emporium/app/app.hpp"
#include "emporium/obs/metrics.hpp"
#include "emporium/testing/clock.hpp"
#include "emporium/testing/database.hpp"
#include "emporium/testing/sockets.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace emporium::queue {
namespace {

using db::Tx;
using db::TxKind;
using testing::Backend;
using SteadyClock = std::chrono::steady_clock;

constexpr std::int64_t kLeaseMs = 30'000;

// The owner's table a hook keeps in step (a notification's status, attempts, lastError).
db::MigrationSet owner_schema() {
  db::MigrationSet set;
  set.sqlite = {{1, "001_notifications",
                 "CREATE TABLE notifications (id TEXT PRIMARY KEY, status TEXT NOT NULL, "
                 "attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)"}};
  set.postgres = set.sqlite;
  return set;
}

// The value of `name{queue="<queue>"}` in `metrics`, 0 when absent.
double metric(const obs::Metrics& metrics, const std::string& name, const std::string& queue) {
  std::istringstream lines(metrics.render());
  const std::string prefix = name + "{queue=\"" + queue + "\"} ";
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
  }
  return 0;
}

// Waits (bounded) until `done()` holds.
bool eventually(const std::function<bool()>& done,
                std::chrono::seconds bound = std::chrono::seconds(60)) {
  const auto until = SteadyClock::now() + bound;
  while (!done()) {
    if (SteadyClock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class WorkQueueTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_.emplace(GetParam(), owner_schema(), "emporium_queue", 8);
  }

  db::Database& db() { return database_->db(); }
  WorkQueue::Clock fake_clock() {
    return [this] { return clock_.now(); };
  }
  WorkQueue mail() { return WorkQueue("mail", db().backend(), fake_clock()); }

  std::int64_t enqueue(const WorkQueue& q, const std::string& payload,
                       const EnqueueOptions& options = {}) {
    return db().with_tx(TxKind::Write, [&](Tx& tx) { return *q.enqueue(tx, payload, options); });
  }
  std::vector<Item> claim(const WorkQueue& q, const std::string& owner, int n = 1) {
    return db().with_tx(TxKind::WriteCommitted, [&](Tx& tx) {
      q.expire_leases(tx, n);
      return q.claim(tx, owner, n, kLeaseMs);
    });
  }
  Item view(const WorkQueue& q, std::int64_t id) {
    return *db().with_tx(TxKind::Read, [&](Tx& tx) { return q.get(tx, id); });
  }
  // A worker on the fake clock.
  Worker worker(WorkerOptions options, Worker::Handler handler) {
    options.lease_ms = kLeaseMs;
    return Worker(db(), "mail", options, std::move(handler), &metrics_, nullptr, fake_clock());
  }

  testing::FakeClock clock_;
  obs::Metrics metrics_{"queue-test"};
  std::optional<testing::TestDatabase> database_;
};

INSTANTIATE_TEST_SUITE_P(Backends, WorkQueueTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

TEST_P(WorkQueueTest, TwoInstancesRunEveryItemOnceAndNeverAtOnce) {
  constexpr int kItems = 60;
  const WorkQueue q("mail", db().backend());  // the real clock: the workers' leases are real
  for (int i = 0; i < kItems; ++i) enqueue(q, "item-" + std::to_string(i));
  auto second = db::Database::open(database_->url(), {.pool_size = 8});

  std::mutex mutex;
  std::set<std::int64_t> in_flight;
  std::map<std::int64_t, std::vector<int>> runs;  // item → instances that ran it
  int overlaps = 0;
  auto handler_of = [&](int instance) {
    return [&, instance](const Item& item) {
      {
        std::lock_guard lock(mutex);
        if (!in_flight.insert(item.id).second) ++overlaps;
        runs[item.id].push_back(instance);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // hold it for a while
      std::lock_guard lock(mutex);
      in_flight.erase(item.id);
      return Outcome::done();
    };
  };
  const WorkerOptions options{.threads = 3, .batch = 2, .poll_interval_ms = 20};
  obs::Metrics second_metrics("queue-test-2");
  Worker a(db(), "mail", options, handler_of(1), &metrics_);
  Worker b(*second, "mail", options, handler_of(2), &second_metrics);
  std::stop_source stop;
  std::thread run_a([&] { a.run(stop.get_token()); });
  std::thread run_b([&] { b.run(stop.get_token()); });
  const bool all_done = eventually([&] {
    std::lock_guard lock(mutex);
    return runs.size() == static_cast<std::size_t>(kItems) && in_flight.empty();
  });
  stop.request_stop();
  run_a.join();
  run_b.join();

  ASSERT_TRUE(all_done) << runs.size() << " of " << kItems << " items ran";
  EXPECT_EQ(overlaps, 0);
  for (const auto& [id, instances] : runs) EXPECT_EQ(instances.size(), 1u) << "item " << id;
  const auto counts = db().with_tx(TxKind::Read, [&](Tx& tx) { return q.counts(tx); });
  EXPECT_EQ(counts.pending + counts.running + counts.failed, 0);
  EXPECT_EQ(
      metric(metrics_, kSucceededTotal, "mail") + metric(second_metrics, kSucceededTotal, "mail"),
      kItems);
  EXPECT_EQ(metric(metrics_, kClaimedTotal, "mail") + metric(second_metrics, kClaimedTotal, "mail"),
            kItems);
  EXPECT_EQ(metric(metrics_, kLeaseExpiredTotal, "mail"), 0);
}

TEST_P(WorkQueueTest, DeadWorkersItemIsTakenBackAfterItsLeaseAndNotBefore) {
  const auto q = mail();
  const auto id = enqueue(q, "hello");
  const auto dead = claim(q, "dead-instance");  // claimed, never settled
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attempts, 1);

  std::vector<Item> seen;
  auto w = worker({}, [&](const Item& item) {
    seen.push_back(item);
    return Outcome::done();
  });
  EXPECT_EQ(w.run_once(), 0);
  clock_.advance_ms(kLeaseMs - 1);
  EXPECT_EQ(w.run_once(), 0);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(view(q, id).state, State::Running);
  EXPECT_EQ(view(q, id).lease_owner, "dead-instance");

  clock_.advance_ms(1);
  EXPECT_EQ(w.run_once(), 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, id);
  EXPECT_EQ(seen[0].attempts, 2);  // the lost lease counted as an attempt
  ASSERT_TRUE(seen[0].last_error);
  EXPECT_NE(seen[0].last_error->find("dead-instance"), std::string::npos) << *seen[0].last_error;
  EXPECT_EQ(view(q, id).state, State::Done);
  EXPECT_EQ(metric(metrics_, kLeaseExpiredTotal, "mail"), 1);
  EXPECT_EQ(metric(metrics_, kSucceededTotal, "mail"), 1);
}

TEST_P(WorkQueueTest, AHookFailingOnALostLeaseDoesNotStopTheQueue) {
  // The review's finding: the oldest lost lease comes first every round; a hook that throws on
  // it rolled the round back before any claim, on every instance, for good.
  const auto q = mail();
  const auto lost = enqueue(q, "poison");
  ASSERT_EQ(claim(q, "dead-instance").size(), 1u);
  clock_.advance_ms(kLeaseMs);
  const auto fresh = enqueue(q, "fresh");
  std::vector<std::int64_t> ran;
  auto w = worker({}, [&](const Item& item) {
    ran.push_back(item.id);
    return Outcome::done();
  });
  w.on_settle([&](Tx&, const Item& item, const Settled& settled) {
    if (item.id == lost && settled.state == State::Pending)
      throw std::runtime_error("owner row gone");
  });
  for (int round = 0; round < 3; ++round) EXPECT_NO_THROW(w.run_once());
  EXPECT_NE(std::find(ran.begin(), ran.end(), fresh), ran.end()) << "the queue stopped";
  EXPECT_NE(std::find(ran.begin(), ran.end(), lost), ran.end()) << "the lost item never ran again";
  EXPECT_EQ(view(q, fresh).state, State::Done);
}

TEST_P(WorkQueueTest, ABatchItemWithLittleLeaseLeftIsGivenBackNotStarted) {
  // The review's finding: an item of a slow batch with 1 ms of lease left was started, outlived
  // its lease and ran beside its next holder.
  const auto q = mail();
  const auto first = enqueue(q, "slow");
  const auto second = enqueue(q, "next");
  std::vector<std::int64_t> ran;
  auto w = worker({.batch = 2}, [&](const Item& item) {
    ran.push_back(item.id);
    if (item.id == first) clock_.advance_ms(kLeaseMs * 6 / 10);  // a slow provider
    return Outcome::done();
  });
  EXPECT_EQ(w.run_once(), 2);
  EXPECT_EQ(ran, std::vector<std::int64_t>{first});
  EXPECT_EQ(view(q, second).state, State::Pending);
  EXPECT_EQ(view(q, second).attempts, 0) << "given back, not an attempt";
  w.run_once();
  EXPECT_EQ(ran, (std::vector<std::int64_t>{first, second}));
}

TEST_P(WorkQueueTest, AStaleLeaseCannotSettleOrRelease) {
  const auto q = mail();
  const auto id = enqueue(q, "hello", {.max_attempts = 3});
  const auto first = claim(q, "slow-instance");
  ASSERT_EQ(first.size(), 1u);
  clock_.advance_ms(kLeaseMs);
  const auto second = claim(q, "new-holder");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].lease_token, first[0].lease_token);

  db().transact(TxKind::WriteCommitted, [&](Tx& tx) {
    EXPECT_FALSE(q.settle(tx, first[0], q.decide(first[0], Outcome::fail("late"), {}, 0.5)));
    EXPECT_FALSE(q.settle(tx, first[0], q.decide(first[0], Outcome::done(), {}, 0.5)));
    EXPECT_FALSE(q.release(tx, first[0]));
  });
  auto held = view(q, id);
  EXPECT_EQ(held.state, State::Running);
  EXPECT_EQ(held.lease_owner, "new-holder");

  db().transact(TxKind::WriteCommitted, [&](Tx& tx) {
    EXPECT_TRUE(q.settle(tx, second[0], q.decide(second[0], Outcome::done(), {}, 0.5)));
    // Settled once: the same claim cannot settle again.
    EXPECT_FALSE(q.settle(tx, second[0], q.decide(second[0], Outcome::fail("again"), {}, 0.5)));
  });
  EXPECT_EQ(view(q, id).state, State::Done);
  EXPECT_EQ(view(q, id).attempts, 2);
}

TEST_P(WorkQueueTest, FailuresBackOffExponentiallyWithJitterWithinBounds) {
  // The rule: attempt n waits in [ceiling/2, ceiling], ceiling = min(cap, base · 2^(n-1)).
  const Backoff backoff{.base_ms = 1000, .cap_ms = 60'000};
  std::int64_t previous_least = 0;
  std::int64_t previous_most = 0;
  for (int n = 1; n <= 12; ++n) {
    const std::int64_t uncapped = 1000LL << (n - 1);
    const std::int64_t ceiling = std::min<std::int64_t>(60'000, uncapped);
    const auto least = backoff_ms(backoff, n, 0.0);
    const auto most = backoff_ms(backoff, n, 0.999999);
    EXPECT_EQ(least, ceiling / 2) << n;
    EXPECT_LE(most, ceiling) << n;
    EXPECT_GT(most, least) << n;
    EXPECT_GE(least, previous_least) << n;
    // Below the cap, never shorter than the previous attempt could have been.
    if (ceiling == uncapped) {
      EXPECT_GE(least, previous_most) << n;
    }
    previous_least = least;
    previous_most = most;
  }

  // As stored by the worker: each retry of each item waits within its attempt's bounds, and the
  // items do not all wait the same (jitter).
  constexpr int kItems = 20;
  const auto q = mail();
  for (int i = 0; i < kItems; ++i) enqueue(q, "x", {.max_attempts = 10});
  auto w = worker({.batch = kItems, .backoff = backoff},
                  [](const Item&) { return Outcome::retry("451 try later"); });
  for (int attempt = 1; attempt <= 4; ++attempt) {
    ASSERT_EQ(w.run_once(), kItems) << attempt;
    const std::int64_t ceiling = 1000LL << (attempt - 1);
    std::set<std::int64_t> delays;
    std::int64_t latest = 0;
    const auto pending =
        db().with_tx(TxKind::Read, [&](Tx& tx) { return q.list(tx, State::Pending, 100); });
    ASSERT_EQ(pending.size(), static_cast<std::size_t>(kItems));
    for (const auto& item : pending) {
      const auto delay = item.run_after_ms - clock_.now();
      EXPECT_GE(delay, ceiling / 2) << attempt;
      EXPECT_LE(delay, ceiling) << attempt;
      EXPECT_EQ(item.last_error, "451 try later");
      delays.insert(delay);
      latest = std::max(latest, item.run_after_ms);
    }
    EXPECT_GT(delays.size(), 1u) << "no jitter at attempt " << attempt;
    EXPECT_EQ(w.run_once(), 0);  // none is due yet
    clock_.advance_ms(latest - clock_.now());
  }
  EXPECT_EQ(metric(metrics_, kRetriedTotal, "mail"), 4 * kItems);
}

TEST_P(WorkQueueTest, DiscardDropsOnlyAPendingItem) {
  const auto q = mail();
  const auto skipped = enqueue(q, "fallback");
  const auto taken = enqueue(q, "in hand");
  EXPECT_TRUE(db().with_tx(TxKind::Write, [&](Tx& tx) { return q.discard(tx, skipped); }));
  const auto held = claim(q, "worker-a");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].id, taken);
  // A running item is no longer the enqueuer's to drop; a second discard finds nothing.
  EXPECT_FALSE(db().with_tx(TxKind::Write, [&](Tx& tx) { return q.discard(tx, taken); }));
  EXPECT_FALSE(db().with_tx(TxKind::Write, [&](Tx& tx) { return q.discard(tx, skipped); }));
  EXPECT_EQ(view(q, taken).state, State::Running);
  EXPECT_TRUE(claim(q, "worker-b").empty());
}

TEST_P(WorkQueueTest, AFollowUpDoneAtOnceIsDiscardedOtherwiseLeftToTheWorker) {
  const auto q = mail();
  const auto done = enqueue(q, "done now", {.run_after_ms = clock_.now() + 15'000});
  const auto later = enqueue(q, "provider down", {.run_after_ms = clock_.now() + 15'000});
  const auto thrown = enqueue(q, "threw", {.run_after_ms = clock_.now() + 15'000});
  EXPECT_EQ(run_follow_up(db(), q, done, [] { return Outcome::done(); }).kind, Outcome::Kind::Done);
  EXPECT_EQ(run_follow_up(db(), q, later, [] { return Outcome::retry("503"); }).kind,
            Outcome::Kind::Retry);
  const auto outcome =
      run_follow_up(db(), q, thrown, []() -> Outcome { throw std::runtime_error("boom"); });
  EXPECT_EQ(outcome.kind, Outcome::Kind::Retry);
  EXPECT_EQ(outcome.error, "boom");
  EXPECT_FALSE(db().with_tx(TxKind::Read, [&](Tx& tx) { return q.get(tx, done); }));
  EXPECT_EQ(view(q, later).state, State::Pending);
  EXPECT_EQ(view(q, thrown).state, State::Pending);
}

TEST_P(WorkQueueTest, MaxAttemptsEndFailedWithTheLastErrorThenRequeueRunsAgain) {
  const auto q = mail();
  const auto id = enqueue(q, "to@example.com", {.max_attempts = 3});
  bool provider_up = false;
  auto w = worker({}, [&](const Item& item) {
    if (provider_up) return Outcome::done();
    return Outcome::retry("451 mailbox busy (attempt " + std::to_string(item.attempts) + ")");
  });
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(w.run_once(), 1) << attempt;
    clock_.advance_ms(Backoff{}.cap_ms);
  }
  EXPECT_EQ(w.run_once(), 0);  // failed for good: never claimed again
  auto failed = view(q, id);
  EXPECT_EQ(failed.state, State::Failed);
  EXPECT_EQ(failed.attempts, 3);
  EXPECT_EQ(failed.last_error, "451 mailbox busy (attempt 3)");
  EXPECT_TRUE(failed.finished_at_ms);
  EXPECT_EQ(metric(metrics_, kRetriedTotal, "mail"), 2);
  EXPECT_EQ(metric(metrics_, kFailedTotal, "mail"), 1);

  // The dead-letter list shows it; a requeue gives it a full set of attempts.
  db().transact(TxKind::WriteCommitted, [&](Tx& tx) {
    const auto dead = q.list(tx, State::Failed, 10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].id, id);
    EXPECT_EQ(dead[0].payload, "to@example.com");
    EXPECT_EQ(q.counts(tx).failed, 1);
    EXPECT_TRUE(q.requeue(tx, id));
    EXPECT_FALSE(q.requeue(tx, id));                                 // no longer failed
    EXPECT_FALSE(WorkQueue("sms", db().backend()).requeue(tx, id));  // another queue's item
  });
  provider_up = true;
  EXPECT_EQ(w.run_once(), 1);
  const auto done = view(q, id);
  EXPECT_EQ(done.state, State::Done);
  EXPECT_EQ(done.attempts, 1);
  EXPECT_EQ(done.last_error, "451 mailbox busy (attempt 3)");  // kept for the record
}

TEST_P(WorkQueueTest, PermanentFailureFailsAtOnceAndRetryAfterIsHonoured) {
  const auto q = mail();
  const auto rejected = enqueue(q, "nobody@invalid", {.max_attempts = 5});
  const auto limited = enqueue(q, "busy@example.com", {.max_attempts = 5});
  const auto thrower = enqueue(q, "throws", {.max_attempts = 5});
  auto w = worker({.batch = 3}, [&](const Item& item) -> Outcome {
    if (item.id == rejected) return Outcome::fail("550 5.1.1 no such user");
    if (item.id == limited) return Outcome::retry("429 slow down", 120'000);
    throw std::runtime_error("connection reset");
  });
  ASSERT_EQ(w.run_once(), 3);
  const auto failed = view(q, rejected);
  EXPECT_EQ(failed.state, State::Failed);
  EXPECT_EQ(failed.attempts, 1);
  EXPECT_EQ(failed.last_error, "550 5.1.1 no such user");
  const auto later = view(q, limited);
  EXPECT_EQ(later.state, State::Pending);
  EXPECT_EQ(later.run_after_ms, clock_.now() + 120'000);  // longer than the back-off
  const auto thrown = view(q, thrower);
  EXPECT_EQ(thrown.state, State::Pending);  // an exception is a failure worth retrying
  EXPECT_EQ(thrown.last_error, "connection reset");
}

TEST_P(WorkQueueTest, TheOwnersHookCommitsWithTheResult) {
  const auto q = mail();
  // The notification row and its work item commit together (an outbox).
  const auto id = db().with_tx(TxKind::Write, [&](Tx& tx) {
    tx.exec("INSERT INTO notifications (id, status) VALUES ('n1', 'queued')");
    return *q.enqueue(tx, "n1", {.max_attempts = 3});
  });
  auto status = [&] {
    const auto row =
        db().query("SELECT status, attempts, last_error FROM notifications WHERE id = 'n1'").one();
    return std::tuple{row.text(0), row.integer(1), row.text(2)};
  };
  int calls = 0;
  bool hook_fails = false;
  auto w = worker({}, [&](const Item&) {
    return ++calls == 1 ? Outcome::retry("421 service not available")
                        : Outcome::done("provider-message-42");
  });
  w.on_settle([&](Tx& tx, const Item& item, const Settled& settled) {
    tx.exec("UPDATE notifications SET status = $2, attempts = $3, last_error = $4 WHERE id = $1",
            {item.payload,
             settled.state == State::Done ? "sent:" + settled.result
                                          : std::string(state_name(settled.state)),
             std::int64_t{settled.attempts}, settled.error});
    if (hook_fails) throw std::runtime_error("owner's update failed");
  });

  ASSERT_EQ(w.run_once(), 1);
  EXPECT_EQ(status(), (std::tuple{std::string("pending"), std::int64_t{1},
                                  std::string("421 service not available")}));
  clock_.advance_ms(Backoff{}.cap_ms);

  // A hook that throws rolls the result back with it: the item stays claimed until its lease.
  hook_fails = true;
  ASSERT_EQ(w.run_once(), 1);
  EXPECT_EQ(view(q, id).state, State::Running);
  EXPECT_EQ(std::get<0>(status()), "pending");
  EXPECT_EQ(metric(metrics_, kUnrecordedTotal, "mail"), 1);

  // After the lease the hook hears of the lost lease, and the next attempt is sent.
  hook_fails = false;
  clock_.advance_ms(kLeaseMs);
  ASSERT_EQ(w.run_once(), 1);
  EXPECT_EQ(view(q, id).state, State::Done);
  EXPECT_EQ(status(), (std::tuple{std::string("sent:provider-message-42"), std::int64_t{3},
                                  std::string("")}));
}

TEST_P(WorkQueueTest, ALeaseLostOnTheLastAttemptFailsTheItemAndTellsTheHook) {
  const auto q = mail();
  const auto id = enqueue(q, "poison", {.max_attempts = 2});
  std::vector<Settled> settled;
  auto w = worker({}, [](const Item&) -> Outcome { return Outcome::done(); });
  w.on_settle([&](Tx&, const Item&, const Settled& s) { settled.push_back(s); });
  for (int crash = 0; crash < 2; ++crash) {  // the worker dies with the item every time
    ASSERT_EQ(claim(q, "crashing").size(), 1u);
    clock_.advance_ms(kLeaseMs);
  }
  EXPECT_EQ(w.run_once(), 0);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(settled[0].state, State::Failed);
  EXPECT_EQ(settled[0].attempts, 2);
  const auto dead = view(q, id);
  EXPECT_EQ(dead.state, State::Failed);
  ASSERT_TRUE(dead.last_error);
  EXPECT_NE(dead.last_error->find("lease"), std::string::npos);
  EXPECT_EQ(metric(metrics_, kFailedTotal, "mail"), 1);
}

TEST_P(WorkQueueTest, EnqueueInARolledBackTransactionLeavesNoItem) {
  const auto q = mail();
  EXPECT_THROW(db().transact(TxKind::Write,
                             [&](Tx& tx) {
                               ASSERT_TRUE(q.enqueue(tx, "never"));
                               throw std::runtime_error("the state change failed");
                             }),
               std::runtime_error);
  EXPECT_TRUE(claim(q, "anyone").empty());
  EXPECT_EQ(db().query("SELECT COUNT(*) FROM emporium_work_items").one().integer(0), 0);
}

TEST_P(WorkQueueTest, ADedupeKeyEnqueuesOncePerQueue) {
  const auto q = mail();
  db().transact(TxKind::Write, [&](Tx& tx) {
    EXPECT_TRUE(q.enqueue(tx, "a", {.dedupe_key = "event-1"}));
    EXPECT_FALSE(q.enqueue(tx, "b", {.dedupe_key = "event-1"}));
    EXPECT_TRUE(q.enqueue(tx, "c", {.dedupe_key = "event-2"}));
    EXPECT_TRUE(q.enqueue(tx, "d"));
    EXPECT_TRUE(q.enqueue(tx, "e"));  // no key: no de-duplication
    EXPECT_TRUE(WorkQueue("sms", db().backend()).enqueue(tx, "f", {.dedupe_key = "event-1"}));
  });
  EXPECT_EQ(db().with_tx(TxKind::Read, [&](Tx& tx) { return q.counts(tx); }).pending, 4);
}

TEST_P(WorkQueueTest, ItemsNotYetDueWaitAndDoneItemsArePurged) {
  const auto q = mail();
  const auto later = enqueue(q, "later", {.run_after_ms = clock_.now() + 5000});
  const auto now = enqueue(q, "now");
  auto w = worker({.batch = 5}, [](const Item&) { return Outcome::done(); });
  EXPECT_EQ(w.run_once(), 1);
  EXPECT_EQ(view(q, now).state, State::Done);
  EXPECT_EQ(view(q, later).state, State::Pending);
  clock_.advance_ms(5000);
  EXPECT_EQ(w.run_once(), 1);
  db().transact(TxKind::WriteCommitted, [&](Tx& tx) {
    EXPECT_EQ(q.purge_done(tx, clock_.now() - 5000), 1);  // only the first finished by then
    EXPECT_EQ(q.purge_done(tx, clock_.now()), 1);
    EXPECT_FALSE(q.get(tx, now));
  });
}

TEST_P(WorkQueueTest, StopFinishesTheItemInHandAndGivesTheRestBack) {
  const auto q = mail();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(enqueue(q, "x"));
  std::latch in_hand(1);
  std::latch release(1);
  std::atomic<int> calls{0};
  auto w = worker({.batch = 3, .poll_interval_ms = 10}, [&](const Item&) {
    if (calls.fetch_add(1) == 0) {
      in_hand.count_down();
      release.wait();
    }
    return Outcome::done();
  });
  std::stop_source stop;
  auto running = std::async(std::launch::async, [&] { w.run(stop.get_token()); });
  in_hand.wait();
  stop.request_stop();
  release.count_down();
  ASSERT_EQ(running.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(view(q, ids[0]).state, State::Done);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    const auto rest = view(q, ids[i]);
    EXPECT_EQ(rest.state, State::Pending) << i;
    EXPECT_EQ(rest.attempts, 0) << i;  // given back unstarted: not an attempt
    EXPECT_FALSE(rest.lease_owner) << i;
  }
}

TEST_P(WorkQueueTest, GaugesShowPendingRunningAndDeadItems) {
  const auto q = mail();
  enqueue(q, "dead", {.max_attempts = 1});
  enqueue(q, "later", {.run_after_ms = clock_.now() + 60'000});
  enqueue(q, "later too", {.run_after_ms = clock_.now() + 60'000});
  auto w = worker({.poll_interval_ms = 10, .gauge_interval_ms = 1},
                  [](const Item&) { return Outcome::fail("550 rejected"); });
  std::stop_source stop;
  auto running = std::async(std::launch::async, [&] { w.run(stop.get_token()); });
  const bool shown = eventually([&] {
    return metric(metrics_, kDeadItems, "mail") == 1 &&
           metric(metrics_, kPendingItems, "mail") == 2;
  });
  stop.request_stop();
  ASSERT_EQ(running.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(shown) << metrics_.render();
  EXPECT_EQ(metric(metrics_, kRunningItems, "mail"), 0);
  EXPECT_NE(metrics_.render().find(std::string(kHandlerSeconds) + "_count{queue=\"mail\"} 1"),
            std::string::npos);
}

// The App stops its workers when the drain begins — while the server still drains — and run()
// returns once the item in hand is finished.
TEST(WorkQueueApp, WorkersStopClaimingWhenTheDrainBegins) {
  testing::TempSqliteFile file("emporium_queue_app");
  ServiceConfig config;
  config.service = "queue-test";
  config.database_url = file.url();
  config.internal_token = "internal-token-0123456789";
  config.access_log = false;
  config.host = "127.0.0.1";
  config.port = testing::free_port();
  config.drain_idle_ms = 10'000;  // an idle keep-alive connection holds the drain open
  config.shutdown_grace_ms = 20'000;
  App app(config);
  app.open_database({});
  const WorkQueue q("mail", app.db().backend());
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(app.db().with_tx(TxKind::Write, [&](Tx& tx) { return *q.enqueue(tx, "x"); }));
  }
  std::latch in_hand(1);
  std::latch release(1);
  std::atomic<int> calls{0};
  Worker worker(app.db(), "mail", {.poll_interval_ms = 10}, [&](const Item&) {
    if (calls.fetch_add(1) == 0) {
      in_hand.count_down();
      release.wait();
    }
    return Outcome::done();
  });
  worker.attach(app);
  std::atomic<bool> stop_seen{false};
  app.background("probe", [&](std::stop_token stop) {
    while (!stop.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop_seen = true;
  });
  std::atomic<bool> returned{false};
  auto running = std::async(std::launch::async, [&] {
    const int code = app.run();
    returned = true;
    return code;
  });
  int fd = -1;
  ASSERT_TRUE(eventually([&] { return (fd = testing::connect_to(config.port)) >= 0; }));
  EXPECT_NE(testing::roundtrip(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").find(" 200 "),
            std::string::npos);
  in_hand.wait();

  ::kill(::getpid(), SIGTERM);
  EXPECT_TRUE(eventually([&] { return stop_seen.load(); }));
  // Seen while the server still drains: the idle connection it would close at the drain's end
  // is still open.
  EXPECT_FALSE(testing::closed_within(fd, std::chrono::milliseconds(0)));
  EXPECT_FALSE(returned.load());
  release.count_down();
  ::close(fd);
  ASSERT_EQ(running.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(running.get(), 0);
  EXPECT_EQ(calls.load(), 1);
  db::Database& db = app.db();
  db.transact(TxKind::Read, [&](Tx& tx) {
    EXPECT_EQ(q.get(tx, ids[0])->state, State::Done);
    EXPECT_EQ(q.get(tx, ids[1])->state, State::Pending);
    EXPECT_EQ(q.get(tx, ids[2])->state, State::Pending);
  });
  EXPECT_EQ(metric(app.metrics(), kClaimedTotal, "mail"), 1);
}

TEST(Backoff, SaturatesInsteadOfOverflowing) {
  // The review's finding: doubling towards a cap near INT64_MAX, and now + a huge Retry-After,
  // overflowed (undefined behaviour; a wrapped next run in the past retries at once, in a loop).
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  for (int attempt : {1, 2, 62, 63, 64, 1000}) {
    const auto wait = backoff_ms({.base_ms = 1000, .cap_ms = kMax}, attempt, 1.0);
    EXPECT_GE(wait, 0) << attempt;
  }
  testing::FakeClock clock;
  WorkQueue q("mail", db::Backend::Sqlite, [&] { return clock.now(); });
  Item item;
  item.attempts = 1;
  item.max_attempts = 5;
  const auto settled =
      q.decide(item, Outcome::retry("busy", kMax), {.base_ms = 1000, .cap_ms = 60000}, 0.5);
  EXPECT_EQ(settled.state, State::Pending);
  EXPECT_GE(settled.next_run_ms, clock.now());
  EXPECT_LE(settled.next_run_ms, clock.now() + 60000) << "Retry-After is honoured up to the cap";
}

}  // namespace
}  // namespace emporium::queue
