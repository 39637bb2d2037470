// The stored product model of product-service. `on_hand` is the stock in the warehouse, `held`
// the units reserved by orders not yet paid; what can still be sold is on_hand − held
// (DESIGN §5). The wire format lives in handlers/dto.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emporium::product::domain {

struct Product {
  std::string id;
  std::string name;
  std::string description;
  std::int64_t price_minor = 0;
  std::string category;
  std::int64_t on_hand = 0;
  std::int64_t held = 0;
  std::optional<std::string> sku;
  std::vector<std::string> images;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 0;

  // The API's `stock`: units that can still be sold.
  std::int64_t stock() const { return on_hand - held; }
};

// The writable fields of a request body, each present or not. For a create every required field
// is present (validation saw to it); for an update the present ones replace the stored values.
struct ProductFields {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::int64_t> price_minor;
  std::optional<std::string> category;
  std::optional<std::int64_t> stock;  // sellable units wanted
  bool sku_present = false;           // `sku` given (a string, or null/"" to clear)
  std::optional<std::string> sku;
  std::optional<std::vector<std::string>> images;
};

struct CategoryCount {
  std::string name;
  std::int64_t count = 0;
};

}  // namespace emporium::product::domain
