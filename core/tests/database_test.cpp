// db::Database on both backends. SQLite uses a temporary file per test; PostgreSQL uses the
// database named by EMPORIUM_TEST_PG_URL, each test in its own schema (dropped afterwards), and
// is skipped when that variable is unset unless EMPORIUM_REQUIRE_PG=1.
#include "emporium/db/database.hpp"

#include "db/sqlite_database.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/testing/database.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <latch>
#include <limits>
#include <optional>
#include <set>
#include <thread>

namespace emporium::db {
namespace {

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
  auto db = Database::open("postgresql://postgres@127.0.0.1:1/none", {.busy_timeout_ms = 1000});
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
