// Test helpers for product-service: a fresh migrated database per test (emporium::testing) and
// product fields ready to create.
#pragma once

#include "catalog.hpp"

#include <emporium/testing/clock.hpp>
#include <emporium/testing/database.hpp>
#include <emporium/testing/tokens.hpp>

#include <cstdint>
#include <string>

namespace emporium::product::testing {

using ::emporium::testing::Backend;
using ::emporium::testing::backend_name;
using ::emporium::testing::FakeClock;
using ::emporium::testing::generate_ec_private_key_pem;

// A database with product-service's migrations applied.
class TestDatabase : public ::emporium::testing::TestDatabase {
 public:
  explicit TestDatabase(Backend backend, int pool_size = 8);
};

// Valid create fields: name, description, price (minor units), category, stock.
domain::ProductFields fields(std::string name, std::int64_t price_minor, std::string category,
                             std::int64_t stock, std::string description = "");

}  // namespace emporium::product::testing
