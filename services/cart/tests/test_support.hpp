// Test helpers for shopping-cart-service: a fresh migrated database per test (emporium::testing)
// and a fake product catalog.
#pragma once

#include "catalog/product_catalog.hpp"
#include "domain/cart.hpp"

#include <emporium/testing/database.hpp>
#include <emporium/testing/tokens.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace emporium::cart::testing {

using ::emporium::testing::Backend;
using ::emporium::testing::backend_name;
using ::emporium::testing::generate_ec_private_key_pem;

// A database with shopping-cart-service's migrations applied.
class TestDatabase : public ::emporium::testing::TestDatabase {
 public:
  explicit TestDatabase(Backend backend, int pool_size = 4);
};

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
