// Test helpers for product-service: a fresh migrated database per test on SQLite (temp file) or
// PostgreSQL (a throwaway schema in EMPORIUM_TEST_PG_URL), a clock tests move by hand, and
// product fields ready to create.
#pragma once

#include "catalog.hpp"

#include <emporium/db/database.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace emporium::product::testing {

enum class Backend { Sqlite, Postgres };
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);

bool postgres_available();
bool postgres_required();

// GTEST_SKIP()s (or fails with EMPORIUM_REQUIRE_PG=1) when PostgreSQL is asked for but not set up.
#define EMPORIUM_REQUIRE_BACKEND(backend)                                      \
  do {                                                                         \
    if ((backend) == ::emporium::product::testing::Backend::Postgres &&        \
        !::emporium::product::testing::postgres_available()) {                 \
      if (::emporium::product::testing::postgres_required()) {                 \
        FAIL() << "EMPORIUM_REQUIRE_PG=1 but EMPORIUM_TEST_PG_URL is not set"; \
      }                                                                        \
      GTEST_SKIP() << "EMPORIUM_TEST_PG_URL not set";                          \
    }                                                                          \
  } while (false)

// A migrated, empty database that disappears with the object.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend, int pool_size = 8);
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

// A clock tests move by hand.
class FakeClock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now() const { return now_.load(); }
  void advance_ms(std::int64_t ms) { now_ += ms; }

 private:
  std::atomic<std::int64_t> now_;
};

// A PEM P-256 private key (PKCS#8), new for each call.
std::string generate_ec_private_key_pem();

// Valid create fields: name, description, price (minor units), category, stock.
domain::ProductFields fields(std::string name, std::int64_t price_minor, std::string category,
                             std::int64_t stock, std::string description = "");

}  // namespace emporium::product::testing
