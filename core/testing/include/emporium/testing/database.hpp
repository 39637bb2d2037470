// Databases for tests, shared by core and the services: a SQLite temp file or a throwaway
// PostgreSQL schema in EMPORIUM_TEST_PG_URL, each removed with its owner, and a migrated, empty
// database built on them. PostgreSQL tests are skipped when EMPORIUM_TEST_PG_URL is unset, and
// fail instead with EMPORIUM_REQUIRE_PG=1.
#pragma once

#include <emporium/db/database.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::testing {

using Backend = db::Backend;
// "Sqlite" or "Postgres", for INSTANTIATE_TEST_SUITE_P.
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);

bool postgres_available();  // EMPORIUM_TEST_PG_URL is set
bool postgres_required();   // EMPORIUM_REQUIRE_PG=1

// GTEST_SKIP()s (or fails with EMPORIUM_REQUIRE_PG=1) when PostgreSQL is asked for but not set up.
#define EMPORIUM_REQUIRE_BACKEND(backend)                                      \
  do {                                                                         \
    if ((backend) == ::emporium::testing::Backend::Postgres &&                 \
        !::emporium::testing::postgres_available()) {                          \
      if (::emporium::testing::postgres_required()) {                          \
        FAIL() << "EMPORIUM_REQUIRE_PG=1 but EMPORIUM_TEST_PG_URL is not set"; \
      }                                                                        \
      GTEST_SKIP() << "EMPORIUM_TEST_PG_URL not set";                          \
    }                                                                          \
  } while (false)

// 16 random hex characters, for names no other test or run uses.
std::string unique_suffix();

// A SQLite file name in the temp directory, `<prefix>-test-<random>.db`; the file and its
// -wal/-shm/-journal companions are removed with the object.
class TempSqliteFile {
 public:
  explicit TempSqliteFile(std::string_view prefix);
  ~TempSqliteFile();
  TempSqliteFile(const TempSqliteFile&) = delete;
  TempSqliteFile& operator=(const TempSqliteFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string url() const { return "sqlite://" + path_.string(); }

 private:
  std::filesystem::path path_;
};

// A new schema `<prefix>_test_<random>` in the database of EMPORIUM_TEST_PG_URL (which must be
// set), dropped with the object. Every connection opened with url() works in it.
class TempPgSchema {
 public:
  explicit TempPgSchema(std::string_view prefix);
  ~TempPgSchema();
  TempPgSchema(const TempPgSchema&) = delete;
  TempPgSchema& operator=(const TempPgSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }

 private:
  std::string base_url_;
  std::string name_;
  std::string url_;
};

// A migrated, empty database that disappears with the object.
class TestDatabase {
 public:
  TestDatabase(Backend backend, const db::MigrationSet& migrations, std::string_view prefix,
               int pool_size);
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  db::Database& db() { return *db_; }
  const std::string& url() const { return url_; }

 private:
  std::optional<TempSqliteFile> file_;  // SQLite only
  std::optional<TempPgSchema> schema_;  // PostgreSQL only
  std::string url_;
  std::unique_ptr<db::Database> db_;  // last: closed before the file or schema goes
};

}  // namespace emporium::testing
