// Test helpers for user-service: a fresh migrated database per test on SQLite (temp file) or
// PostgreSQL (a throwaway schema in EMPORIUM_TEST_PG_URL), a generated P-256 signing key, a
// controllable clock and cheap argon2 parameters.
#pragma once

#include <emporium/auth/password.hpp>
#include <emporium/db/database.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace emporium::user::testing {

// A PEM P-256 private key (PKCS#8), new for each call.
std::string generate_ec_private_key_pem();
// Writes `contents` to a new file in the temp directory and returns its path.
std::string write_temp_file(const std::string& contents, const std::string& suffix);

// Cheap parameters so tests do not spend seconds in argon2.
inline auth::Argon2Params fast_argon2() {
  return {1, 64, 1};
}

enum class Backend { Sqlite, Postgres };
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);

// A migrated, empty database that disappears with the object.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  db::Database& db() { return *db_; }
  const std::string& url() const { return url_; }

 private:
  Backend backend_;
  std::string url_;
  std::string schema_;          // PostgreSQL only
  std::filesystem::path file_;  // SQLite only
  std::unique_ptr<db::Database> db_;
};

// GTEST_SKIP()s (or fails with EMPORIUM_REQUIRE_PG=1) when PostgreSQL is asked for but not set up.
#define EMPORIUM_REQUIRE_BACKEND(backend)                                      \
  do {                                                                         \
    if ((backend) == ::emporium::user::testing::Backend::Postgres &&           \
        !::emporium::user::testing::postgres_available()) {                    \
      if (::emporium::user::testing::postgres_required()) {                    \
        FAIL() << "EMPORIUM_REQUIRE_PG=1 but EMPORIUM_TEST_PG_URL is not set"; \
      }                                                                        \
      GTEST_SKIP() << "EMPORIUM_TEST_PG_URL not set";                          \
    }                                                                          \
  } while (false)

bool postgres_available();
bool postgres_required();

// A clock tests move by hand.
class FakeClock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now() const { return now_.load(); }
  void advance_ms(std::int64_t ms) { now_ += ms; }
  void advance_s(std::int64_t s) { now_ += s * 1000; }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace emporium::user::testing
