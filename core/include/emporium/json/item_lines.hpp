// The `items:[{"productId","quantity"}]` member every stock-moving body carries (an order, a
// reservation, a cart removal), read one way: 1..max_lines objects, each productId 24 lower-case
// hex characters, each quantity an integer 1..max_quantity. Every problem is recorded under its
// dotted path (`items`, `items[2].quantity`) so a client learns all of them at once. The lines
// come back merged per product and sorted by product id (the order in which stock rows are
// locked, so two requests never lock the same rows in opposite orders).
#pragma once

#include "emporium/error/errors.hpp"
#include "emporium/json/json.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emporium {

struct ItemLine {
  std::string product_id;
  std::int64_t quantity = 0;

  bool operator==(const ItemLine&) const = default;
};

struct ItemLineLimits {
  std::size_t max_lines = 100;
  std::int64_t max_quantity = 1000;
  // Whether a product's merged quantity (two lines of one product) must stay within max_quantity
  // too; the error then names the product under `items`.
  bool cap_merged = false;
};

// `body["items"]` as described above; nullopt when anything was recorded in `errors`.
std::optional<std::vector<ItemLine>> read_item_lines(const Json& body, FieldErrors& errors,
                                                     const ItemLineLimits& limits = {});

// Sums the quantities of each product and sorts by product id.
std::vector<ItemLine> merge_item_lines(std::vector<ItemLine> lines);

}  // namespace emporium
