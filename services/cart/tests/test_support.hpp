// Test helpers for shopping-cart-service: a fresh migrated database per test on SQLite (temp file)
// or PostgreSQL (a throwaway schema in EMPORIUM_TEST_PG_URL), a fake product catalog, a generated
// P-256 key pair for tokens.
#pragma once

#include "catalog/product_catalog.hpp"
#include "domain/cart.hpp"

#include <emporium/db/database.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace emporium::cart::testing {

// A PEM P-256 private key (PKCS#8), new for each call.
std::string generate_ec_private_key_pem();

enum class Backend { Sqlite, Postgres };
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);

bool postgres_available();
bool postgres_required();

// A migrated, empty database that disappears with the object.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend, int pool_size = 4);
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
#define EMPORIUM_CART_REQUIRE_BACKEND(backend)                                 \
  do {                                                                         \
    if ((backend) == ::emporium::cart::testing::Backend::Postgres &&           \
        !::emporium::cart::testing::postgres_available()) {                    \
      if (::emporium::cart::testing::postgres_required()) {                    \
        FAIL() << "EMPORIUM_REQUIRE_PG=1 but EMPORIUM_TEST_PG_URL is not set"; \
      }                                                                        \
      GTEST_SKIP() << "EMPORIUM_TEST_PG_URL not set";                          \
    }                                                                          \
  } while (false)

// An in-memory catalog. `set_unavailable(true)` makes `find` throw 503 and `find_many` answer
// nullopt, as the HTTP catalog does when product-service cannot answer.
class FakeCatalog final : public catalog::ProductCatalog {
 public:
  void put(domain::Product product);
  void erase(const std::string& id);
  void set_unavailable(bool unavailable) { unavailable_ = unavailable; }

  std::optional<domain::Product> find(const std::string& product_id,
                                      const catalog::CallContext& context) override;
  std::optional<std::vector<domain::Product>> find_many(
      const std::vector<std::string>& product_ids, const catalog::CallContext& context) override;

  int find_calls() const { return find_calls_; }
  int find_many_calls() const { return find_many_calls_; }
  std::vector<std::string> last_ids() const;
  std::string last_request_id() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, domain::Product> products_;
  std::vector<std::string> last_ids_;
  std::string last_request_id_;
  std::atomic<bool> unavailable_{false};
  std::atomic<int> find_calls_{0};
  std::atomic<int> find_many_calls_{0};
};

}  // namespace emporium::cart::testing
