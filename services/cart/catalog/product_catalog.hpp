// What the cart needs from the catalog, as an interface: the HTTP implementation calls
// product-service through the core client; tests use a fake.
#pragma once

#include "domain/cart.hpp"

#include <optional>
#include <string>
#include <vector>

namespace emporium::cart::catalog {

// The incoming request a call is made for: its id and trace travel with the call.
struct CallContext {
  std::string request_id;
  std::string traceparent;
};

class ProductCatalog {
 public:
  virtual ~ProductCatalog() = default;

  // The product with this (24-hex) id; nullopt when product-service says it does not exist.
  // Throws service_unavailable (503) when product-service cannot answer (or answers nonsense).
  virtual std::optional<domain::Product> find(const std::string& product_id,
                                              const CallContext& context) = 0;

  // The existing products among `product_ids` (at most domain::kMaxLines, one call); deleted or
  // unknown ids are simply absent. nullopt when product-service cannot answer: the caller degrades.
  virtual std::optional<std::vector<domain::Product>> find_many(
      const std::vector<std::string>& product_ids, const CallContext& context) = 0;
};

}  // namespace emporium::cart::catalog
