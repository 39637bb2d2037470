// db::Database on both backends. SQLite uses a temporary file per test; PostgreSQL uses the
// database named by EMPORIUM_TEST_PG_URL, each test in its own schema (dropped afterwards), and
// is skipped when that variable is unset unless EMPORIUM_REQUIRE_PG=1.
//
// Faults (issue 7): a frozen PostgreSQL is a TCP proxy that stops forwarding (the kernel still
// accepts and acknowledges, as with a SIGSTOPped server), a held SQLite lock a second connection,
// a full disk a small tmpfs, an unwritable file the immutable attribute (both need root: skipped
// without it), a moved file a rename or unlink.
#include "emporium/db/database.hpp"

#include "db/sqlite_database.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/testing/database.hpp"
#include "emporium/testing/proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace emporium::db {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// How a call ended: "returned", "unavailable" (db::Unavailable), "error: …", or "hung …".
struct Ended {
  std::string how;
  double seconds = 0;
};

// Runs `fn` on another thread and waits for it at most `bound`. A call still running then hangs:
// `unblock` must end the hang (resume the proxy, release the lock) so the test can go on and
// fail instead of waiting for the outage to end.
Ended run_bounded(milliseconds bound, const std::function<void()>& fn,
                  const std::function<void()>& unblock) {
  const auto start = Clock::now();
  auto done = std::async(std::launch::async, [&]() -> std::string {
    try {
      fn();
      return "returned";
    } catch (const Unavailable&) {
      return "unavailable";
    } catch (const std::exception& e) {
      return std::string("error: ") + e.what();
    }
  });
  if (done.wait_for(bound) == std::future_status::timeout) {
    unblock();
    done.wait();
    return {
        "hung past " + std::to_string(bound.count()) + " ms (then, unblocked: " + done.get() + ")",
        seconds_since(start)};
  }
  return {done.get(), seconds_since(start)};
}

using testing::FreezableProxy;
using testing::pg_address;
using testing::PgAddress;

// Sets or clears the immutable attribute (chattr +i); false when not permitted (needs root).
bool set_immutable(const std::filesystem::path& path, bool on) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

// Clears the immutable attribute of its files when it goes, so the temp files can be removed.
struct ImmutableGuard {
  std::vector<std::filesystem::path> paths;
  ~ImmutableGuard() {
    for (const auto& p : paths) set_immutable(p, false);
  }
};

// A 1 MiB tmpfs mounted on a fresh temp directory (needs root), unmounted with the object.
class SmallTmpfs {
 public:
  SmallTmpfs() {
    std::string pattern = ::testing::TempDir() + "emporium_full_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=1m") == 0;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Writes a file until the filesystem is full.
  void fill(const std::filesystem::path& path) const {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    ASSERT_EQ(errno, ENOSPC);
    while (::write(fd, block.data(), 1) > 0) {
    }
    ::close(fd);
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

std::set<std::int64_t> versions(Database& db) {
  std::set<std::int64_t> out;
  for (const Row& row : db.query("SELECT version FROM schema_migrations").rows) {
    out.insert(row.integer(0));
  }
  return out;
}

std::int64_t count(Database& db, const std::string& table) {
  return db.query("SELECT COUNT(*) FROM " + table).one().integer(0);
}

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    // One file or schema per test, so reruns and parallel runs on a shared database do not see
    // each other's tables or schema_migrations.
    if (GetParam() == Backend::Sqlite) {
      url_ = sqlite_file_.emplace("emporium-db").url();
    } else {
      url_ = pg_schema_.emplace("emporium_db").url();
      admin_ = Database::open(url_, {.pool_size = 1});
    }
  }

  std::unique_ptr<Database> open(const Options& options = {}) {
    return Database::open(url_, options);
  }

  static void create_items(Database& db) {
    db.transact(TxKind::Write, [](Tx& tx) {
      tx.exec(
          "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, "
          "n INTEGER CHECK (n >= 0), big BIGINT, ratio DOUBLE PRECISION, "
          "kind TEXT NOT NULL DEFAULT 'plain')");
    });
  }

  std::optional<testing::TempSqliteFile> sqlite_file_;
  std::optional<testing::TempPgSchema> pg_schema_;
  std::string url_;
  std::unique_ptr<Database> admin_;  // PostgreSQL only: a second session
};

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

TEST_P(DatabaseTest, ReportsItsBackendAndPings) {
  auto db = open();
  EXPECT_EQ(db->backend(), GetParam());
  EXPECT_TRUE(db->ping());
}

TEST_P(DatabaseTest, PlaceholdersBindByNumberNotByOrderOfAppearance) {
  auto db = open();
  EXPECT_EQ(db->query("SELECT $2 || '-' || $1", {"a", "b"}).one().text(0), "b-a");

  create_items(*db);
  db->transact(TxKind::Write, [](Tx& tx) {
    tx.exec("INSERT INTO items (id, name, n) VALUES ($3, $1, $2)",
            {"x", std::int64_t{5}, std::int64_t{7}});
  });
  const Row row = db->query("SELECT id, name, n FROM items").one();
  EXPECT_EQ(row.integer(0), 7);
  EXPECT_EQ(row.text(1), "x");
  EXPECT_EQ(row.integer(2), 5);
}

TEST_P(DatabaseTest, DollarInsideStringLiteralIsNotAPlaceholder) {
  auto db = open();
  const Row row = db->query("SELECT 'cost $2' AS s, 'it''s $1' AS t, $1 AS v", {"x"}).one();
  EXPECT_EQ(row.text(0), "cost $2");
  EXPECT_EQ(row.text(1), "it's $1");
  EXPECT_EQ(row.text(2), "x");
}

TEST_P(DatabaseTest, WrongParameterCountIsAnError) {
  auto db = open();
  EXPECT_THROW(db->query("SELECT $1"), DbError);
  EXPECT_THROW(db->query("SELECT $1, $2", {"a", "b", "c"}), DbError);
  EXPECT_THROW(db->query("SELECT 1; SELECT 2"), DbError);
  EXPECT_THROW(db->query("SELEKT 1"), DbError);
  if (GetParam() == Backend::Postgres) {
    // libpq would cut the value at the NUL; refuse instead.
    EXPECT_THROW(db->query("SELECT $1", {std::string("a\0b", 3)}), DbError);
  } else {
    EXPECT_EQ(db->query("SELECT $1", {std::string("a\0b", 3)}).one().text(0).size(), 3u);
  }
}

TEST_P(DatabaseTest, ConcurrentReadThenWriteNeverLosesAnUpdate) {
  auto db = open({.pool_size = 8});
  db->transact(TxKind::Write, [](Tx& tx) {
    tx.exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    tx.exec("INSERT INTO counter (id, n) VALUES (1, 0)");
  });

  constexpr int kThreads = 200;
  std::atomic<int> ok{0};
  std::atomic<int> unavailable{0};
  std::atomic<int> other{0};
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      go.arrive_and_wait();
      try {
        db->transact(TxKind::Write, [](Tx& tx) {
          const std::int64_t n =
              tx.query("SELECT n FROM counter WHERE id = $1", {std::int64_t{1}}).one().integer(0);
          tx.exec("UPDATE counter SET n = $1 WHERE id = $2", {n + 1, std::int64_t{1}});
        });
        ++ok;
      } catch (const Unavailable&) {
        ++unavailable;
      } catch (...) {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  RecordProperty("committed", ok.load());
  RecordProperty("unavailable", unavailable.load());

  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load() + unavailable.load(), kThreads);
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(db->query("SELECT n FROM counter WHERE id = 1").one().integer(0), ok.load());
}

// Conditional single-statement updates of one hot row (the stock pattern): WriteCommitted runs
// them at READ COMMITTED on PostgreSQL, where each re-checks its WHERE on the latest row version,
// so none fails and none oversells.
TEST_P(DatabaseTest, WriteCommittedConditionalUpdatesNeverOversell) {
  auto db = open({.pool_size = 8, .max_attempts = 3});
  db->transact(TxKind::Write, [](Tx& tx) {
    tx.exec(
        "CREATE TABLE stock (id INTEGER PRIMARY KEY, held INTEGER NOT NULL, on_hand INTEGER NOT "
        "NULL)");
    tx.exec("INSERT INTO stock (id, held, on_hand) VALUES (1, 0, 50)");
  });
  constexpr int kThreads = 120;
  std::atomic<int> held{0};
  std::atomic<int> short_{0};
  std::atomic<int> failed{0};
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      go.arrive_and_wait();
      try {
        bool got = db->with_tx(TxKind::WriteCommitted, [](Tx& tx) {
          return tx.exec("UPDATE stock SET held = held + 1 WHERE id = 1 AND on_hand - held >= 1") ==
                 1;
        });
        (got ? held : short_)++;
      } catch (...) {
        ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(held.load(), 50);
  EXPECT_EQ(short_.load(), kThreads - 50);
  EXPECT_EQ(db->query("SELECT held FROM stock WHERE id = 1").one().integer(0), 50);
}

TEST_P(DatabaseTest, ConstraintViolationsAreTyped) {
  auto db = open();
  create_items(*db);
  db->transact(TxKind::Write,
               [](Tx& tx) { tx.exec("INSERT INTO items (id, name, n) VALUES (1, 'a', 1)"); });

  auto insert = [&](const char* sql) {
    db->transact(TxKind::Write, [&](Tx& tx) { tx.exec(sql); });
  };
  EXPECT_THROW(insert("INSERT INTO items (id, name) VALUES (1, 'b')"), UniqueViolation);
  EXPECT_THROW(insert("INSERT INTO items (id, name) VALUES (2, 'a')"), UniqueViolation);
  EXPECT_THROW(insert("INSERT INTO items (id, name, n) VALUES (3, 'c', -1)"), CheckViolation);
  try {
    insert("INSERT INTO items (id, name, kind) VALUES (4, 'd', NULL)");
    ADD_FAILURE() << "expected a DbError";
  } catch (const UniqueViolation&) {
    ADD_FAILURE() << "a NOT NULL failure is not a unique violation";
  } catch (const CheckViolation&) {
    ADD_FAILURE() << "a NOT NULL failure is not a check violation";
  } catch (const DbError&) {
  }
  EXPECT_EQ(count(*db, "items"), 1);
}

TEST_P(DatabaseTest, ExceptionRollsBackAndPropagates) {
  auto db = open();
  create_items(*db);

  EXPECT_THROW(db->transact(TxKind::Write,
                            [](Tx& tx) {
                              tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')");
                              throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  EXPECT_EQ(count(*db, "items"), 0);

  try {
    db->transact(TxKind::Write, [](Tx& tx) {
      tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')");
      throw not_found("No such thing");
    });
    ADD_FAILURE() << "expected HttpError";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.detail(), "No such thing");
  }
  EXPECT_EQ(count(*db, "items"), 0);

  // A unique violation raised inside the function also undoes the earlier insert.
  EXPECT_THROW(db->transact(TxKind::Write,
                            [](Tx& tx) {
                              tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')");
                              tx.exec("INSERT INTO items (id, name) VALUES (2, 'a')");
                            }),
               UniqueViolation);
  EXPECT_EQ(count(*db, "items"), 0);
}

TEST_P(DatabaseTest, SwallowedStatementFailure) {
  auto db = open();
  create_items(*db);
  auto attempt = [&] {
    db->transact(TxKind::Write, [](Tx& tx) {
      tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')");
      try {
        tx.exec("INSERT INTO items (id, name) VALUES (2, 'a')");
      } catch (const UniqueViolation&) {
      }
    });
  };
  if (GetParam() == Backend::Sqlite) {
    // SQLite undoes only the failed statement.
    attempt();
    EXPECT_EQ(count(*db, "items"), 1);
  } else {
    // PostgreSQL aborts the whole transaction; it must not look committed.
    EXPECT_THROW(attempt(), DbError);
    EXPECT_EQ(count(*db, "items"), 0);
  }
}

TEST_P(DatabaseTest, ReturningGivesRowsAndAffectedCount) {
  auto db = open();
  create_items(*db);
  db->transact(TxKind::Write, [](Tx& tx) {
    Result r = tx.query("INSERT INTO items (id, name) VALUES ($1, $2), ($3, $4) RETURNING id, name",
                        {std::int64_t{1}, "a", std::int64_t{2}, "b"});
    EXPECT_EQ(r.affected, 2);
    ASSERT_EQ(r.rows.size(), 2u);
    std::set<std::string> names{r.rows[0].text(1), r.rows[1].text(1)};
    EXPECT_EQ(names, (std::set<std::string>{"a", "b"}));

    r = tx.query("UPDATE items SET n = 3 WHERE id >= $1 RETURNING id", {std::int64_t{1}});
    EXPECT_EQ(r.affected, 2);
    EXPECT_EQ(r.rows.size(), 2u);

    r = tx.query("SELECT id FROM items ORDER BY id");
    EXPECT_EQ(r.affected, 0);  // a SELECT changes nothing, even right after an UPDATE
    EXPECT_EQ(r.rows.size(), 2u);

    r = tx.query("UPDATE items SET n = 4 WHERE id = 99 RETURNING id");
    EXPECT_EQ(r.affected, 0);
    EXPECT_TRUE(r.empty());

    r = tx.query("DELETE FROM items WHERE id = $1 RETURNING name", {std::int64_t{2}});
    EXPECT_EQ(r.affected, 1);
    EXPECT_EQ(r.one().text(0), "b");

    EXPECT_EQ(tx.exec("UPDATE items SET n = n + 1"), 1);
  });
}

TEST_P(DatabaseTest, NullsRoundTrip) {
  auto db = open();
  create_items(*db);
  db->transact(TxKind::Write, [](Tx& tx) {
    tx.exec("INSERT INTO items (id, name, n) VALUES ($1, $2, $3)",
            {std::int64_t{1}, nullptr, nullable(std::optional<std::int64_t>{})});
    tx.exec("INSERT INTO items (id, name, n) VALUES ($1, $2, $3)",
            {std::int64_t{2}, nullable(std::optional<std::string>("b")),
             nullable(std::optional<std::int64_t>(9))});
  });
  const Result r = db->query("SELECT name, n FROM items ORDER BY id");
  ASSERT_EQ(r.rows.size(), 2u);
  const Row& null_row = r.rows[0];
  EXPECT_TRUE(null_row.is_null(0));
  EXPECT_TRUE(null_row.is_null(1));
  EXPECT_EQ(null_row.opt_text(0), std::nullopt);
  EXPECT_EQ(null_row.opt_integer(1), std::nullopt);
  EXPECT_EQ(null_row.text(0), "");
  EXPECT_EQ(null_row.integer(1), 0);
  EXPECT_EQ(r.rows[1].opt_text(0), "b");
  EXPECT_EQ(r.rows[1].opt_integer(1), 9);

  EXPECT_EQ(db->query("SELECT COUNT(*) FROM items WHERE name IS NULL").one().integer(0), 1);
  EXPECT_TRUE(db->query("SELECT CAST($1 AS TEXT)", {nullptr}).one().is_null(0));
}

TEST_P(DatabaseTest, Int64ExtremesAndDoublesRoundTrip) {
  auto db = open();
  create_items(*db);
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const std::vector<double> doubles{0.1, -2.5e-300, 1e300, 123456789.125};
  const std::vector<std::int64_t> bigs{kMin, kMax, 0, -1};
  db->transact(TxKind::Write, [&](Tx& tx) {
    for (std::size_t i = 0; i < bigs.size(); ++i) {
      tx.exec("INSERT INTO items (id, big, ratio) VALUES ($1, $2, $3)",
              {static_cast<std::int64_t>(i + 1), bigs[i], doubles[i]});
    }
  });
  const Result r = db->query("SELECT big, ratio FROM items ORDER BY id");
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0].integer(0), kMin);
  EXPECT_EQ(r.rows[1].integer(0), kMax);
  EXPECT_EQ(r.rows[1].text(0), "9223372036854775807");
  for (std::size_t i = 0; i < doubles.size(); ++i) EXPECT_EQ(r.rows[i].real(1), doubles[i]);

  EXPECT_EQ(db->query("SELECT id FROM items WHERE big = $1", {kMax}).one().integer(0), 2);
  EXPECT_EQ(db->query("SELECT id FROM items WHERE big = $1", {kMin}).one().integer(0), 1);
}

TEST_P(DatabaseTest, MigrationsApplyOnceUnderConcurrentStartUp) {
  const std::string create =
      "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
      "-- a comment between statements\n"
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT);";
  // Applied twice, this would fail on the primary key.
  const std::string seed = "INSERT INTO notes (id, note) VALUES (1, 'seeded');";
  MigrationSet set;
  set.sqlite = {{2, "002_seed", seed}, {1, "001_create", create}};
  set.postgres = set.sqlite;

  auto db1 = open();
  auto db2 = open();
  std::latch go(2);
  std::atomic<int> failures{0};
  auto run = [&](Database& db) {
    go.arrive_and_wait();
    try {
      db.migrate(set);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      ++failures;
    }
  };
  std::thread a(run, std::ref(*db1));
  std::thread b(run, std::ref(*db2));
  a.join();
  b.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(versions(*db1), (std::set<std::int64_t>{1, 2}));
  EXPECT_EQ(count(*db1, "notes"), 1);
  EXPECT_EQ(db1->query("SELECT name FROM schema_migrations WHERE version = 2").one().text(0),
            "002_seed");

  // A later start with one more migration applies only that one.
  set.sqlite.push_back({3, "003_more", "INSERT INTO notes (id, note) VALUES (2, 'more');"});
  set.postgres = set.sqlite;
  db2->migrate(set);
  db1->migrate(set);
  EXPECT_EQ(versions(*db1), (std::set<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(count(*db1, "notes"), 2);

  // A broken migration names itself and is not recorded.
  set.sqlite.push_back({4, "004_broken", "CREATE TABLE broken (;"});
  set.postgres = set.sqlite;
  try {
    db1->migrate(set);
    ADD_FAILURE() << "expected DbError";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("004_broken"), std::string::npos) << e.what();
  }
  EXPECT_EQ(versions(*db1), (std::set<std::int64_t>{1, 2, 3}));
}

TEST_P(DatabaseTest, CoreTablesHaveTheirOwnMigrationNamespace) {
  // A service's version 1 and 2 must apply although the core has versions 1 and 2 of its own:
  // before the core had a namespace, a core table would have taken a service's version number.
  MigrationSet set;
  set.sqlite = {{1, "001_widgets", "CREATE TABLE widgets (id INTEGER PRIMARY KEY)"},
                {2, "002_gadgets", "CREATE TABLE gadgets (id INTEGER PRIMARY KEY)"}};
  set.postgres = set.sqlite;
  auto db = open();
  db->migrate(set);
  EXPECT_EQ(versions(*db), (std::set<std::int64_t>{1, 2}));
  const auto core =
      db->query("SELECT version, name FROM emporium_core_migrations ORDER BY version");
  ASSERT_GE(core.rows.size(), 2u);
  EXPECT_EQ(core.rows[0].integer(0), 1);
  EXPECT_EQ(core.rows[0].text(1), "001_health");
  EXPECT_EQ(count(*db, "widgets"), 0);
  EXPECT_EQ(count(*db, "gadgets"), 0);
  EXPECT_EQ(count(*db, "emporium_health"), 1);  // the start-up write
  for (const auto& row : core.rows) {
    EXPECT_EQ(db->query("SELECT COUNT(*) FROM schema_migrations WHERE name = $1", {row.text(1)})
                  .one()
                  .integer(0),
              0)
        << row.text(1) << " was recorded in the service's namespace";
  }

  // Again, and from a second instance: nothing applies twice (a core migration applied twice
  // would fail on its CREATE TABLE).
  auto other = open();
  other->migrate(set);
  db->migrate(set);
  EXPECT_EQ(count(*db, "emporium_core_migrations"), static_cast<std::int64_t>(core.rows.size()));
}

TEST_P(DatabaseTest, SnapshotReadsSeeOneStateAcrossStatements) {
  auto db = open({.pool_size = 4});
  create_items(*db);
  db->transact(TxKind::Write, [](Tx& tx) { tx.exec("INSERT INTO items (id, n) VALUES (1, 10)"); });
  std::latch first_read(1);
  std::latch written(1);
  std::thread writer([&] {
    first_read.wait();
    db->transact(TxKind::Write, [](Tx& tx) {
      tx.exec("UPDATE items SET n = 20 WHERE id = 1");
      tx.exec("INSERT INTO items (id, n) VALUES (2, 5)");
    });
    written.count_down();
  });
  std::int64_t before = 0, after = 0, rows_after = 0;
  db->transact(TxKind::Snapshot, [&](Tx& tx) {
    before = tx.query("SELECT n FROM items WHERE id = 1").one().integer(0);
    first_read.count_down();
    written.wait();
    after = tx.query("SELECT n FROM items WHERE id = 1").one().integer(0);
    rows_after = tx.query("SELECT COUNT(*) FROM items").one().integer(0);
  });
  writer.join();
  EXPECT_EQ(before, 10);
  EXPECT_EQ(after, 10) << "the second read saw a write committed after the first";
  EXPECT_EQ(rows_after, 1);
  EXPECT_EQ(db->query("SELECT n FROM items WHERE id = 1").one().integer(0), 20);
}

TEST_P(DatabaseTest, PersistentConflictEndsIn503) {
  auto db = open({.pool_size = 2, .busy_timeout_ms = 20, .max_attempts = 3});
  auto other = open({.pool_size = 1});
  db->transact(TxKind::Write, [](Tx& tx) {
    tx.exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    tx.exec("INSERT INTO counter (id, n) VALUES (1, 0)");
  });
  int calls = 0;
  auto expect_503 = [&](const std::function<void(Tx&)>& fn) {
    calls = 0;
    try {
      db->transact(TxKind::Write, fn);
      ADD_FAILURE() << "expected db::Unavailable (503)";
    } catch (const Unavailable& e) {
      EXPECT_GE(e.retry_after_seconds(), 1);
    }
  };

  if (GetParam() == Backend::Sqlite) {
    // Another connection holds the write lock for the whole test.
    std::promise<void> locked;
    std::promise<void> release;
    std::thread holder([&] {
      other->transact(TxKind::Write, [&](Tx& tx) {
        tx.exec("UPDATE counter SET n = n + 100");
        locked.set_value();
        release.get_future().wait();
      });
    });
    locked.get_future().wait();
    expect_503([&](Tx&) { ++calls; });
    EXPECT_EQ(calls, 0);  // BEGIN IMMEDIATE never got the lock
    release.set_value();
    holder.join();
    EXPECT_EQ(db->query("SELECT n FROM counter").one().integer(0), 100);
    return;
  }

  // Every attempt reads, then loses the row to a transaction that commits in between.
  auto racing_update = [&](Tx& tx) {
    ++calls;
    tx.query("SELECT n FROM counter WHERE id = 1");
    other->transact(TxKind::Write, [](Tx& o) { o.exec("UPDATE counter SET n = n + 100"); });
    tx.exec("UPDATE counter SET n = n + 1 WHERE id = 1");
  };
  expect_503(racing_update);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(db->query("SELECT n FROM counter").one().integer(0), 300);

  // Swallowing the serialization failure does not make the attempt commit.
  expect_503([&](Tx& tx) {
    try {
      racing_update(tx);
    } catch (const DbError&) {
    }
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(db->query("SELECT n FROM counter").one().integer(0), 600);
}

TEST_P(DatabaseTest, BrokenPostgresSessionIsReplaced) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  auto db = open({.pool_size = 1});
  const std::int64_t pid = db->query("SELECT pg_backend_pid()").one().integer(0);
  // The timeout makes pg_terminate_backend wait until the session is really gone.
  admin_->query("SELECT pg_terminate_backend($1, 5000)", {pid});
  EXPECT_NE(db->query("SELECT pg_backend_pid()").one().integer(0), pid);
  EXPECT_TRUE(db->ping());
}

// ---- prepared statements (issue 12) -------------------------------------------------------------

// How many of the session's prepared statements hold `sql`, asked on the same session.
std::int64_t prepared_count(Tx& tx, const std::string& sql) {
  return tx.query("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = $1", {sql})
      .one()
      .integer(0);
}

// PostgreSQL parses and plans a Tx::query text once per session: run twice, it is one prepared
// statement, in transactions and reads alike. The names die with the session: after the backend
// is terminated, the next use (reconnecting as before) prepares the text again.
TEST_P(DatabaseTest, PostgresPreparesEachStatementOncePerSession) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  auto db = open({.pool_size = 1});
  const std::string sql = "SELECT $1::bigint + 1, pg_backend_pid()";
  std::int64_t pid = 0;
  db->transact(TxKind::Write, [&](Tx& tx) {
    EXPECT_EQ(tx.query(sql, {std::int64_t{1}}).one().integer(0), 2);
    const Row row = tx.query(sql, {std::int64_t{41}}).one();
    EXPECT_EQ(row.integer(0), 42);
    pid = row.integer(1);
    EXPECT_EQ(prepared_count(tx, sql), 1);
  });
  EXPECT_EQ(db->query(sql, {std::int64_t{2}}).one().integer(0), 3);
  EXPECT_EQ(db->with_tx(TxKind::Read, [&](Tx& tx) { return prepared_count(tx, sql); }), 1);

  for (const TxKind kind : {TxKind::Write, TxKind::Read}) {
    // The timeout makes pg_terminate_backend wait until the session is really gone.
    admin_->query("SELECT pg_terminate_backend($1, 5000)", {pid});
    db->transact(kind, [&](Tx& tx) {
      const Row row = tx.query(sql, {std::int64_t{6}}).one();
      EXPECT_EQ(row.integer(0), 7);
      EXPECT_NE(row.integer(1), pid);
      pid = row.integer(1);
      EXPECT_EQ(prepared_count(tx, sql), 1);
    });
  }
}

// A text the server refuses to prepare is reported as it always was (a DbError with the server's
// reason, again on the next try) and is not taken for prepared; nor is a statement sent in a
// transaction a failed one aborted. Both sessions' later statements work.
TEST_P(DatabaseTest, PostgresStatementThatFailsToPrepareIsNotRemembered) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  auto db = open({.pool_size = 1});
  const std::string bad = "SELEKT $1";
  const std::string good = "SELECT $1::bigint * 2";
  for (int i = 0; i < 2; ++i) {
    try {
      db->query(bad, {std::int64_t{1}});
      ADD_FAILURE() << "expected a DbError";
    } catch (const Unavailable& e) {
      ADD_FAILURE() << "a syntax error is not unavailability: " << e.what();
    } catch (const DbError& e) {
      EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
    }
  }
  try {
    db->transact(TxKind::Write, [&](Tx& tx) {
      try {
        tx.query(bad, {std::int64_t{1}});
      } catch (const DbError&) {
      }
      tx.query(good, {std::int64_t{2}});
    });
    ADD_FAILURE() << "expected a DbError";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("current transaction is aborted"), std::string::npos)
        << e.what();
  }
  db->transact(TxKind::Write, [&](Tx& tx) {
    EXPECT_EQ(tx.query(good, {std::int64_t{21}}).one().integer(0), 42);
    EXPECT_EQ(prepared_count(tx, good), 1);
    EXPECT_EQ(prepared_count(tx, bad), 0);
  });
}

// A migration of another instance changes a column's type: a statement prepared before would
// fail with "cached plan must not change result type" for the session's whole life; instead
// it is prepared again and the caller gets the new column, in reads and transactions.
TEST_P(DatabaseTest, PostgresPreparedStatementFollowsAColumnTypeChange) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  auto db = open({.pool_size = 1});
  create_items(*db);
  db->transact(TxKind::Write,
               [](Tx& tx) { tx.exec("INSERT INTO items (id, name, big) VALUES (1, 'a', 5)"); });
  const std::string sql = "SELECT big FROM items WHERE id = $1";
  EXPECT_EQ(db->query(sql, {std::int64_t{1}}).one().text(0), "5");

  admin_->query("ALTER TABLE items ALTER COLUMN big TYPE TEXT USING big || ' units'");
  EXPECT_EQ(db->query(sql, {std::int64_t{1}}).one().text(0), "5 units");

  admin_->query("ALTER TABLE items ALTER COLUMN big TYPE BIGINT USING length(big)");
  db->transact(TxKind::Write, [&](Tx& tx) {
    EXPECT_EQ(tx.query(sql, {std::int64_t{1}}).one().integer(0), 7);
    EXPECT_EQ(prepared_count(tx, sql), 1);  // the old name was deallocated
  });
}

// Assembled texts (listing filters, IN lists) could make a session prepare without end: it keeps
// the 256 most recently used, deallocates the others, and prepares a forgotten text again.
TEST_P(DatabaseTest, PostgresPreparedStatementsPerSessionAreBounded) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  auto db = open({.pool_size = 1});
  auto text = [](int i) { return "SELECT $1::bigint + " + std::to_string(i); };
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(db->query(text(i), {std::int64_t{1}}).one().integer(0), i + 1);
  }
  // 256, and the one this count retires by being prepared (deallocated at the next use).
  const std::int64_t kept =
      db->query("SELECT COUNT(*) FROM pg_prepared_statements").one().integer(0);
  EXPECT_LE(kept, 257);
  EXPECT_GE(kept, 256);
  EXPECT_EQ(db->query(text(0), {std::int64_t{1}}).one().integer(0), 1);
  EXPECT_EQ(db->with_tx(TxKind::Read, [&](Tx& tx) { return prepared_count(tx, text(0)); }), 1);
}

// ---- deadlines and faults (issue 7) -------------------------------------------------------------

// Every worker stuck: the next caller is not queued forever but told 503 after the acquisition
// deadline.
TEST_P(DatabaseTest, PoolAcquisitionHasADeadline) {
  auto db = open({.pool_size = 1, .acquire_timeout_ms = 200});
  std::promise<void> holding;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::thread holder([&] {
    db->transact(TxKind::Read, [&](Tx& tx) {
      tx.query("SELECT 1");
      holding.set_value();
      released.wait();
    });
  });
  holding.get_future().wait();
  bool released_once = false;
  auto unblock = [&] {
    if (!released_once) release.set_value();
    released_once = true;
  };
  const Ended read = run_bounded(
      milliseconds(5000), [&] { db->query("SELECT 1"); }, unblock);
  EXPECT_EQ(read.how, "unavailable");
  EXPECT_LT(read.seconds, 3.0);
  bool pinged = true;
  const Ended ping = run_bounded(
      milliseconds(5000), [&] { pinged = db->ping(); }, unblock);
  EXPECT_EQ(ping.how, "returned");
  EXPECT_FALSE(pinged);
  EXPECT_LT(ping.seconds, 3.0);
  unblock();
  holder.join();
  EXPECT_EQ(db->query("SELECT 1").one().integer(0), 1);
}

TEST_P(DatabaseTest, OptionsOutOfRangeAreRejected) {
  EXPECT_THROW(open({.statement_timeout_ms = 0}), std::invalid_argument);
  EXPECT_THROW(open({.lock_timeout_ms = -1}), std::invalid_argument);
  EXPECT_THROW(open({.acquire_timeout_ms = 0}), std::invalid_argument);
  EXPECT_THROW(open({.connect_timeout_ms = 0}), std::invalid_argument);
  EXPECT_THROW(open({.max_attempts = -1}), std::invalid_argument);
}

// A write lock held by another process (here: another connection, BEGIN IMMEDIATE) ends every
// writer within the lock budget, and readers, ping and readiness go on meanwhile: WAL readers need
// no lock, and writers waiting for it must not take the pool from them.
TEST_P(DatabaseTest, SqliteHeldWriteLockEndsWritersWithinTheBudgetAndReadsGoOn) {
  if (GetParam() != Backend::Sqlite) GTEST_SKIP() << "SQLite only";
  auto db = open({.pool_size = 4, .lock_timeout_ms = 700});
  db->migrate({});  // creates the table can_write() writes
  db->transact(TxKind::Write, [](Tx& tx) {
    tx.exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    tx.exec("INSERT INTO counter (id, n) VALUES (1, 0)");
  });

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(sqlite_file_->path().c_str(), &other), SQLITE_OK);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> close_other(other, sqlite3_close);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE counter SET n = n + 100", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  std::mutex unlock_mutex;
  bool unlocked = false;
  auto unlock = [&] {
    std::lock_guard lock(unlock_mutex);
    if (!unlocked) sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    unlocked = true;
  };

  // Twice as many writers as connections.
  constexpr int kWriters = 8;
  std::vector<std::future<Ended>> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(std::async(std::launch::async, [&] {
      return run_bounded(
          milliseconds(8000),
          [&] {
            db->transact(TxKind::Write, [](Tx& tx) { tx.exec("UPDATE counter SET n = n + 1"); });
          },
          unlock);
    }));
  }
  std::this_thread::sleep_for(milliseconds(100));  // the writers are waiting now
  for (int i = 0; i < 3; ++i) {
    const Ended read = run_bounded(
        milliseconds(2000),
        [&] { EXPECT_EQ(db->query("SELECT n FROM counter").one().integer(0), 0); }, unlock);
    EXPECT_EQ(read.how, "returned") << "read " << i;
    EXPECT_LT(read.seconds, 1.0) << "read " << i;
  }
  bool pinged = false;
  const Ended ping = run_bounded(
      milliseconds(2000), [&] { pinged = db->ping(); }, unlock);
  EXPECT_EQ(ping.how, "returned");
  EXPECT_TRUE(pinged);
  EXPECT_LT(ping.seconds, 1.0);

  for (auto& writer : writers) {
    const Ended w = writer.get();
    EXPECT_EQ(w.how, "unavailable");
    EXPECT_LT(w.seconds, 3.0);  // budget 0.7 s (it was 12 busy waits of 5 s)
  }
  bool writable = true;
  const Ended check = run_bounded(
      milliseconds(5000), [&] { writable = db->can_write(); }, unlock);
  EXPECT_EQ(check.how, "returned");
  EXPECT_FALSE(writable);
  EXPECT_LT(check.seconds, 3.0);

  unlock();
  EXPECT_TRUE(db->can_write());
  db->transact(TxKind::Write, [](Tx& tx) { tx.exec("UPDATE counter SET n = n + 1"); });
  EXPECT_EQ(db->query("SELECT n FROM counter").one().integer(0), 1);
}

// A file that cannot be written must stop start-up, naming the cause, instead of a service that
// looks ready and fails every write.
TEST_P(DatabaseTest, SqliteReadOnlyFileRefusesToOpen) {
  if (GetParam() != Backend::Sqlite) GTEST_SKIP() << "SQLite only";
  {
    auto db = open();
    db->migrate({});
    create_items(*db);
  }
  const auto& path = sqlite_file_->path();
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::others_read);
  ImmutableGuard guard;
  if (::geteuid() == 0) {
    // Permissions do not stop root: the immutable attribute does.
    if (!set_immutable(path, true)) GTEST_SKIP() << "cannot set the immutable attribute here";
    guard.paths.push_back(path);
  }
  try {
    auto db = open();
    db->migrate({});
    ADD_FAILURE() << "a read-only database opened and migrated";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

// SQLITE_FULL is the storage's fault, not a bug: Unavailable (503), can_write() false, and
// writes work again once there is room.
TEST_P(DatabaseTest, SqliteDiskFullIsUnavailableAndRecovers) {
  if (GetParam() != Backend::Sqlite) GTEST_SKIP() << "SQLite only";
  SmallTmpfs fs;
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string url = "sqlite://" + (fs.dir() / "full.db").string();
  auto db = Database::open(url, {.pool_size = 2});
  db->migrate({});
  create_items(*db);
  ASSERT_TRUE(db->can_write());
  const auto filler = fs.dir() / "filler";
  fs.fill(filler);

  const std::string blob(200 * 1024, 'b');
  const Ended write = run_bounded(
      milliseconds(10000),
      [&] {
        db->transact(TxKind::Write, [&](Tx& tx) {
          tx.exec("INSERT INTO items (id, name) VALUES (1, $1)", {blob});
        });
      },
      [] {});
  EXPECT_EQ(write.how, "unavailable");
  EXPECT_FALSE(db->can_write());
  EXPECT_TRUE(db->ping());

  std::filesystem::remove(filler);
  db->transact(TxKind::Write,
               [&](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (1, $1)", {blob}); });
  EXPECT_TRUE(db->can_write());
  EXPECT_EQ(count(*db, "items"), 1);
}

// An I/O error (here: the WAL made immutable while open, EPERM on write) is Unavailable too.
TEST_P(DatabaseTest, SqliteWriteErrorIsUnavailable) {
  if (GetParam() != Backend::Sqlite) GTEST_SKIP() << "SQLite only";
  auto db = open({.pool_size = 2});
  db->migrate({});
  create_items(*db);
  ASSERT_TRUE(db->can_write());
  const std::filesystem::path wal = sqlite_file_->path().string() + "-wal";
  ImmutableGuard guard;
  if (!set_immutable(wal, true)) GTEST_SKIP() << "cannot set the immutable attribute (needs root)";
  guard.paths.push_back(wal);

  // Connections opened now cannot open the WAL for writing. (On descriptors opened before,
  // Linux lets some writes through an immutable file and refuses others, depending on what
  // SQLite's next write needs: that made this test flaky when it reused `db`.)
  auto fresh = open({.pool_size = 2});
  const Ended write = run_bounded(
      milliseconds(10000),
      [&] {
        fresh->transact(TxKind::Write,
                        [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')"); });
      },
      [] {});
  EXPECT_EQ(write.how, "unavailable");
  EXPECT_FALSE(fresh->can_write());

  set_immutable(wal, false);
  db->transact(TxKind::Write,
               [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')"); });
  EXPECT_TRUE(db->can_write());
}

// A file moved or deleted under a running service: SQLite would keep writing into the unlinked
// inode and every acknowledged write would be gone at the next start. No write may commit.
TEST_P(DatabaseTest, SqliteMovedOrDeletedFileTakesNoWrite) {
  if (GetParam() != Backend::Sqlite) GTEST_SKIP() << "SQLite only";
  const auto& path = sqlite_file_->path();
  const std::string moved = path.string() + ".moved";
  for (const bool unlink : {false, true}) {
    SCOPED_TRACE(unlink ? "deleted" : "renamed");
    auto db = open({.pool_size = 2});
    db->migrate({});
    create_items(*db);
    db->transact(TxKind::Write,
                 [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (1, 'before')"); });
    ASSERT_TRUE(db->can_write());
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::string from = path.string() + suffix;
      if (unlink) {
        std::filesystem::remove(from);
      } else {
        std::filesystem::rename(from, moved + suffix);
      }
    }
    auto insert = [&] {
      db->transact(TxKind::Write,
                   [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (2, 'lost')"); });
    };
    const Ended write = run_bounded(milliseconds(5000), insert, [] {});
    EXPECT_EQ(write.how, "unavailable");
    EXPECT_FALSE(db->can_write());
    db.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(moved + suffix);
    std::filesystem::remove(path);
  }
}

// PostgreSQL behind a proxy that stops answering, as a SIGSTOPped server does. Every call ends
// within its deadline with Unavailable (reads, writes, new sessions, a full pool), ping() and
// can_write() say false promptly, and after the thaw everything works again by itself.
TEST_P(DatabaseTest, FrozenPostgresEndsEveryCallWithinItsDeadlineAndRecovers) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  const PgAddress upstream = pg_address(url_);
  FreezableProxy proxy(upstream.host, upstream.port);
  const std::string url = upstream.via(url_, proxy.port());
  const Options options{.pool_size = 2,
                        .statement_timeout_ms = 300,
                        .lock_timeout_ms = 1000,
                        .acquire_timeout_ms = 300,
                        .connect_timeout_ms = 500};
  auto db = Database::open(url, options);
  db->migrate({});
  create_items(*db);
  db->transact(TxKind::Write,
               [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')"); });
  ASSERT_TRUE(db->can_write());

  proxy.freeze();
  auto thaw = [&] { proxy.thaw(); };
  // The client deadline is 0.3 s + 1 s of grace; 4 s leaves room for a loaded machine.
  constexpr double kBound = 4.0;
  const Ended read = run_bounded(
      milliseconds(20000), [&] { count(*db, "items"); }, thaw);
  EXPECT_EQ(read.how, "unavailable");
  EXPECT_LT(read.seconds, kBound);
  const Ended write = run_bounded(
      milliseconds(20000),
      [&] {
        db->transact(TxKind::Write,
                     [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (2, 'b')"); });
      },
      thaw);
  EXPECT_EQ(write.how, "unavailable");
  EXPECT_LT(write.seconds, kBound);
  bool pinged = true;
  const Ended ping = run_bounded(
      milliseconds(20000), [&] { pinged = db->ping(); }, thaw);
  EXPECT_FALSE(pinged);
  EXPECT_LT(ping.seconds, kBound);
  bool writable = true;
  const Ended check = run_bounded(
      milliseconds(20000), [&] { writable = db->can_write(); }, thaw);
  EXPECT_FALSE(writable);
  EXPECT_LT(check.seconds, kBound);

  // Three times as many callers as sessions: each ends, none queues for the whole outage.
  std::vector<std::future<Ended>> callers;
  for (int i = 0; i < 6; ++i) {
    callers.push_back(std::async(std::launch::async, [&] {
      return run_bounded(
          milliseconds(20000), [&] { count(*db, "items"); }, thaw);
    }));
  }
  for (auto& caller : callers) {
    const Ended c = caller.get();
    EXPECT_EQ(c.how, "unavailable");
    EXPECT_LT(c.seconds, kBound);
  }

  // A new instance starting during the outage: connecting is bounded too.
  auto fresh = Database::open(url, options);
  bool fresh_pinged = true;
  const Ended connect = run_bounded(
      milliseconds(20000), [&] { fresh_pinged = fresh->ping(); }, thaw);
  EXPECT_FALSE(fresh_pinged);
  EXPECT_LT(connect.seconds, kBound);

  proxy.thaw();
  EXPECT_TRUE(db->ping());
  EXPECT_TRUE(db->can_write());
  EXPECT_TRUE(fresh->ping());
  db->transact(TxKind::Write,
               [](Tx& tx) { tx.exec("INSERT INTO items (id, name) VALUES (3, 'c')"); });
  EXPECT_GE(count(*db, "items"), 2);
}

// A COMMIT that got no answer may or may not have happened: Unavailable, and the transaction is
// not run a second time.
TEST_P(DatabaseTest, FrozenPostgresCommitIsUnavailableAndNotRunAgain) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  const PgAddress upstream = pg_address(url_);
  FreezableProxy proxy(upstream.host, upstream.port);
  auto db =
      Database::open(upstream.via(url_, proxy.port()),
                     {.pool_size = 1, .statement_timeout_ms = 300, .connect_timeout_ms = 500});
  create_items(*db);
  int calls = 0;
  const Ended commit = run_bounded(
      milliseconds(20000),
      [&] {
        db->transact(TxKind::Write, [&](Tx& tx) {
          ++calls;
          tx.exec("INSERT INTO items (id, name) VALUES (1, 'a')");
          proxy.freeze();  // the COMMIT goes out, its answer never comes back
        });
      },
      [&] { proxy.thaw(); });
  EXPECT_EQ(commit.how, "unavailable");
  EXPECT_LT(commit.seconds, 4.0);
  EXPECT_EQ(calls, 1);
  proxy.thaw();
  EXPECT_TRUE(db->ping());
}

// The server bounds its side too: a statement past statement_timeout and a lock wait past
// lock_timeout end with Unavailable, and the session stays usable.
TEST_P(DatabaseTest, PostgresStatementAndLockTimeoutsAreUnavailable) {
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  auto db = open({.pool_size = 1, .statement_timeout_ms = 300, .lock_timeout_ms = 400});
  create_items(*db);
  db->transact(TxKind::Write,
               [](Tx& tx) { tx.exec("INSERT INTO items (id, name, n) VALUES (1, 'a', 0)"); });

  const Ended slow = run_bounded(
      milliseconds(10000), [&] { db->query("SELECT pg_sleep(5)"); }, [] {});
  EXPECT_EQ(slow.how, "unavailable");
  EXPECT_LT(slow.seconds, 3.0);
  EXPECT_TRUE(db->ping());

  // Another session holds the row lock until released.
  std::promise<void> locked;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::thread holder([&] {
    admin_->transact(TxKind::Write, [&](Tx& tx) {
      tx.exec("UPDATE items SET n = n + 100 WHERE id = 1");
      locked.set_value();
      released.wait();
    });
  });
  locked.get_future().wait();
  bool released_once = false;
  auto unblock = [&] {
    if (!released_once) release.set_value();
    released_once = true;
  };
  const Ended blocked = run_bounded(
      milliseconds(10000),
      [&] {
        db->transact(TxKind::Write,
                     [](Tx& tx) { tx.exec("UPDATE items SET n = n + 1 WHERE id = 1"); });
      },
      unblock);
  EXPECT_EQ(blocked.how, "unavailable");
  EXPECT_LT(blocked.seconds, 3.0);
  unblock();
  holder.join();
  db->transact(TxKind::Write, [](Tx& tx) { tx.exec("UPDATE items SET n = n + 1 WHERE id = 1"); });
  EXPECT_EQ(db->query("SELECT n FROM items WHERE id = 1").one().integer(0), 101);
}

TEST(DatabaseOpen, RejectsUnsupportedUrls) {
  EXPECT_THROW(Database::open("sqlite://host/x.db"), std::invalid_argument);
  EXPECT_THROW(Database::open("sqlite:"), std::invalid_argument);
  EXPECT_THROW(Database::open("sqlite:///"), std::invalid_argument);
  EXPECT_THROW(Database::open(""), std::invalid_argument);
  EXPECT_THROW(Database::open("postgresql://u@h/db?no_such_option=1"), std::invalid_argument);
  try {
    Database::open("mysql://localhost/db");
    ADD_FAILURE() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("DATABASE_URL"), std::string::npos);
  }
}

// Instances starting together on a fresh file race to switch it to WAL; SQLite answers some of
// those races with SQLITE_BUSY without calling the busy handler. A single attempt made an
// instance exit at start-up ("database locked while enabling WAL", seen in CI).
TEST(DatabaseOpen, InstancesOpeningAFreshSqliteFileTogetherAllStart) {
  // Separate processes, as the instances of a service are.
  for (int round = 0; round < 40; ++round) {
    testing::TempSqliteFile file("wal_race");
    constexpr int kInstances = 8;
    std::vector<pid_t> children;
    for (int i = 0; i < kInstances; ++i) {
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        int code = 0;
        try {
          auto db = Database::open(file.url(), {.pool_size = 4});
          db->migrate({});
        } catch (const std::exception& e) {
          std::fprintf(stderr, "instance %d: %s\n", i, e.what());
          code = 1;
        }
        std::_Exit(code);
      }
      children.push_back(pid);
    }
    int failed = 0;
    for (pid_t pid : children) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    ASSERT_EQ(failed, 0) << "round " << round;
  }
}

TEST(DatabaseOpen, AcceptsRelativeSqlitePathsAndBothPostgresSchemes) {
  std::string pattern = ::testing::TempDir() + "emporium_rel_XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(pattern);
  {
    auto db = Database::open("sqlite:rel.db", {.pool_size = 1});
    EXPECT_TRUE(db->ping());
  }
  std::filesystem::current_path(previous);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(pattern) / "rel.db"));
  std::filesystem::remove_all(pattern);

  // Connections are made on first use, so opening does not need a server.
  EXPECT_EQ(Database::open("postgres://u@127.0.0.1:1/db")->backend(), Backend::Postgres);
  EXPECT_EQ(Database::open("postgresql://u@127.0.0.1:1/db")->backend(), Backend::Postgres);
}

TEST(DatabaseOpen, UnreachablePostgresIs503AndPingFalse) {
  auto db = Database::open("postgresql://postgres@127.0.0.1:1/none", {.connect_timeout_ms = 1000});
  EXPECT_FALSE(db->ping());
  try {
    db->query("SELECT 1");
    ADD_FAILURE() << "expected db::Unavailable (503)";
  } catch (const Unavailable& e) {
    EXPECT_GE(e.retry_after_seconds(), 1);
  }
}

TEST(SqlitePlaceholders, RewritesOnlyRealPlaceholders) {
  EXPECT_EQ(rewrite_placeholders("SELECT $2, $1, $10"), "SELECT ?2, ?1, ?10");
  EXPECT_EQ(rewrite_placeholders("SELECT '$1', 'it''s $2', $3"), "SELECT '$1', 'it''s $2', ?3");
  EXPECT_EQ(rewrite_placeholders("SELECT \"a$1\" -- $2\n, $3 /* $4 */"),
            "SELECT \"a$1\" -- $2\n, ?3 /* $4 */");
  EXPECT_EQ(rewrite_placeholders("SELECT x$1, $name, $"), "SELECT x$1, $name, $");
  EXPECT_EQ(rewrite_placeholders("SELECT 'unterminated $1"), "SELECT 'unterminated $1");
}

TEST(RowConversions, AcceptBothBackendsRepresentations) {
  const Row row({std::string("t"), std::string("f"), std::string("15.00"), std::string("abc"),
                 std::string("2.5"), 0.1, std::int64_t{-7}, 3.0, nullptr});
  EXPECT_EQ(row.integer(0), 1);
  EXPECT_EQ(row.integer(1), 0);
  EXPECT_EQ(row.integer(2), 15);
  EXPECT_THROW(row.integer(3), DbError);
  EXPECT_THROW(row.integer(4), DbError);
  EXPECT_EQ(row.real(4), 2.5);
  EXPECT_EQ(row.text(5), "0.1");
  EXPECT_EQ(row.text(6), "-7");
  EXPECT_EQ(row.integer(7), 3);
  EXPECT_EQ(row.real(8), 0.0);
  EXPECT_THROW(row.text(9), std::out_of_range);
  EXPECT_THROW(Result{}.one(), std::logic_error);
}

}  // namespace
}  // namespace emporium::db
