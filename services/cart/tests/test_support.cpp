#include "test_support.hpp"

#include "cart_service.hpp"

#include <emporium/error/errors.hpp>

namespace emporium::cart::testing {

TestDatabase::TestDatabase(Backend backend, int pool_size)
    : ::emporium::testing::TestDatabase(backend, migrations(), "cart", pool_size) {}

void FakeCatalog::put(domain::Product product) {
  std::lock_guard lock(mutex_);
  products_[product.id] = std::move(product);
}

void FakeCatalog::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  products_.erase(id);
}

std::optional<domain::Product> FakeCatalog::find(const std::string& product_id,
                                                 const catalog::CallContext& context) {
  ++find_calls_;
  if (unavailable_) throw service_unavailable("product-service is unavailable");
  std::lock_guard lock(mutex_);
  last_request_id_ = context.request_id;
  const auto it = products_.find(product_id);
  if (it == products_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::vector<domain::Product>> FakeCatalog::find_many(
    const std::vector<std::string>& product_ids, const catalog::CallContext& context) {
  ++find_many_calls_;
  std::lock_guard lock(mutex_);
  last_ids_ = product_ids;
  last_request_id_ = context.request_id;
  if (unavailable_) return std::nullopt;
  std::vector<domain::Product> found;
  for (const auto& id : product_ids) {
    if (const auto it = products_.find(id); it != products_.end()) found.push_back(it->second);
  }
  return found;
}

std::vector<std::string> FakeCatalog::last_ids() const {
  std::lock_guard lock(mutex_);
  return last_ids_;
}

std::string FakeCatalog::last_request_id() const {
  std::lock_guard lock(mutex_);
  return last_request_id_;
}

}  // namespace emporium::cart::testing
