#include "test_support.hpp"

#include "product_service.hpp"

#include <utility>
#include <vector>

namespace emporium::product::testing {

TestDatabase::TestDatabase(Backend backend, int pool_size)
    : ::emporium::testing::TestDatabase(backend, migrations(), "product", pool_size) {}

domain::ProductFields fields(std::string name, std::int64_t price_minor, std::string category,
                             std::int64_t stock, std::string description) {
  domain::ProductFields f;
  f.name = std::move(name);
  f.description = std::move(description);
  f.price_minor = price_minor;
  f.category = std::move(category);
  f.stock = stock;
  f.images = std::vector<std::string>();
  return f;
}

}  // namespace emporium::product::testing
