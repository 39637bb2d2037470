// db::ChangeFeed on both backends (emporium/db/change_feed.hpp): every change committed before a
// sync is handed over by the time the sync returns, also while other threads write and sync at
// once; SQLite resets on a pruned gap; PostgreSQL resets and recovers when its session is killed.
#include "emporium/db/change_feed.hpp"
#include "emporium/db/database.hpp"
#include "emporium/testing/database.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace emporium::db {
namespace {

using testing::Backend;
using Clock = std::chrono::steady_clock;

class ChangeFeedTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    channel_ = "feed_test_" + testing::unique_suffix();
    if (GetParam() == Backend::Sqlite) {
      url_ = sqlite_file_.emplace("emporium-feed").url();
    } else {
      url_ = pg_schema_.emplace("emporium_feed").url();
    }
    db_ = Database::open(url_, {.pool_size = 4});
    db_->transact(TxKind::Write, [&](Tx& tx) {
      tx.exec("CREATE TABLE items (id TEXT PRIMARY KEY, v BIGINT NOT NULL)");
      if (GetParam() == Backend::Sqlite) {
        tx.exec("CREATE TABLE item_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT)");
        tx.exec(
            "CREATE TRIGGER items_ins AFTER INSERT ON items BEGIN "
            "INSERT INTO item_changes (key) VALUES (NEW.id); END");
        tx.exec(
            "CREATE TRIGGER items_upd AFTER UPDATE ON items BEGIN "
            "INSERT INTO item_changes (key) VALUES (NEW.id); END");
      } else {
        tx.exec(
            "CREATE FUNCTION items_notify() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
            "PERFORM pg_notify('" +
            channel_ + "', NEW.id); RETURN NULL; END $f$");
        tx.exec(
            "CREATE TRIGGER items_notify AFTER INSERT OR UPDATE ON items FOR EACH ROW "
            "EXECUTE FUNCTION items_notify()");
      }
    });
    ChangeFeedSpec spec;
    spec.channel = channel_;
    spec.log_table = "item_changes";
    spec.reconnect_delay_ms = 50;
    feed_ = db_->change_feed(spec);
    feed_->start({[this](std::string_view key) {
                    std::lock_guard lock(mutex_);
                    ++seen_[std::string(key)];
                  },
                  [this] { resets_.fetch_add(1); }});
  }

  void TearDown() override {
    if (feed_) feed_->stop();
  }

  void write(const std::string& id, std::int64_t v) {
    db_->transact(TxKind::Write, [&](Tx& tx) {
      if (tx.exec("UPDATE items SET v = $2 WHERE id = $1", {id, v}) == 0) {
        tx.exec("INSERT INTO items (id, v) VALUES ($1, $2)", {id, v});
      }
    });
  }

  int seen(const std::string& key) {
    std::lock_guard lock(mutex_);
    return seen_[key];
  }

  // Syncs until true, for at most `seconds`.
  bool synced_within(double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      if (feed_->sync()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::optional<testing::TempSqliteFile> sqlite_file_;
  std::optional<testing::TempPgSchema> pg_schema_;
  std::string url_;
  std::string channel_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<ChangeFeed> feed_;
  std::mutex mutex_;
  std::map<std::string, int> seen_;
  std::atomic<int> resets_{0};
};

INSTANTIATE_TEST_SUITE_P(Backends, ChangeFeedTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

TEST_P(ChangeFeedTest, EveryChangeCommittedBeforeASyncIsHandedOverByItsEnd) {
  ASSERT_TRUE(synced_within(10));
  EXPECT_GE(resets_.load(), 1) << "the first sync starts from an empty cache";
  for (int i = 0; i < 20; ++i) write("k" + std::to_string(i), i);
  ASSERT_TRUE(feed_->sync());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(seen("k" + std::to_string(i)), 1) << i;
  write("k3", 100);
  write("k3", 101);
  ASSERT_TRUE(feed_->sync());
  EXPECT_EQ(seen("k3"), 3);
  EXPECT_EQ(seen("k4"), 1);
  ASSERT_TRUE(feed_->sync());  // nothing new: nothing handed over again
  EXPECT_EQ(seen("k3"), 3);
}

// The property a cache relies on, under concurrency: once a write's commit has returned, a sync
// that starts afterwards (on any thread) returns only after that change was handed over.
TEST_P(ChangeFeedTest, ASyncStartedAfterACommitAlwaysCoversIt) {
  ASSERT_TRUE(synced_within(10));
  std::atomic<int> committed{0};
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<int> syncs{0};
  std::thread writer([&] {
    for (int i = 1; i <= 300; ++i) {
      write("hot", i);
      committed.store(i);
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        const int before = committed.load();
        if (!feed_->sync()) continue;
        syncs.fetch_add(1);
        // `seen` counts notifications of "hot": one per committed write.
        if (seen("hot") < before) violations.fetch_add(1);
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(syncs.load(), 10);
  ASSERT_TRUE(feed_->sync());
  EXPECT_EQ(seen("hot"), 300);
}

TEST_P(ChangeFeedTest, SyncAsyncAnswersOnceWithTheSameGuarantee) {
  ASSERT_TRUE(synced_within(10));
  write("a", 1);
  std::promise<bool> answered;
  feed_->sync_async([&](bool ok) { answered.set_value(ok); });
  auto future = answered.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(future.get());
  EXPECT_EQ(seen("a"), 1);
}

TEST_P(ChangeFeedTest, AStoppedFeedAnswersFalse) {
  ASSERT_TRUE(synced_within(10));
  feed_->stop();
  EXPECT_FALSE(feed_->sync());
  std::promise<bool> answered;
  feed_->sync_async([&](bool ok) { answered.set_value(ok); });
  EXPECT_FALSE(answered.get_future().get());
}

TEST_P(ChangeFeedTest, SqliteAGapLeftByPruningResetsInsteadOfMissingChanges) {
  if (GetParam() != Backend::Sqlite) GTEST_SKIP() << "SQLite's change log";
  ASSERT_TRUE(synced_within(10));
  const int resets = resets_.load();
  for (int i = 0; i < 10; ++i) write("g" + std::to_string(i), i);
  feed_->prune(2);  // another instance pruned what this one had not read yet
  ASSERT_TRUE(feed_->sync());
  EXPECT_EQ(resets_.load(), resets + 1) << "the pruned changes may be in the cache: reset";
  write("after", 1);
  ASSERT_TRUE(feed_->sync());
  EXPECT_EQ(seen("after"), 1);
}

TEST_P(ChangeFeedTest, PostgresALostSessionResetsAndTheFeedComesBack) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL's session";
  ASSERT_TRUE(synced_within(10));
  const int resets = resets_.load();
  // End the feed's session from another one, as a server restart would.
  auto admin = Database::open(url_, {.pool_size = 1});
  const auto killed = admin->query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
      "AND (query LIKE 'LISTEN %' OR query LIKE 'NOTIFY %') AND query LIKE '%" +
      channel_ + "%'");
  ASSERT_EQ(killed.rows.size(), 1u);
  // A change while the feed is down: handed over as a reset at the latest.
  write("during", 1);
  ASSERT_TRUE(synced_within(10)) << "the feed did not come back";
  EXPECT_GT(resets_.load(), resets);
  write("after", 1);
  ASSERT_TRUE(feed_->sync());
  EXPECT_EQ(seen("after"), 1);
}

}  // namespace
}  // namespace emporium::db
