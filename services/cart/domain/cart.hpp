// The cart model and its pure rules: quantity limits, pricing a cart against what product-service
// reports now (availability, stale marking) and the subtotal in integer cents. No I/O here; tests
// call these directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emporium::cart::domain {

// Quantity rules. An add brings 1..kMaxLineQuantity units and the line's sum stays within
// kMaxLineQuantity; an update sets 0..kMaxLineQuantity (0 removes the line). The handlers read
// quantities within these bounds; the sum is checked by the store in SQL (and a CHECK), since two
// concurrent adds must not both pass a check made on what each read.
inline constexpr std::int64_t kMaxLineQuantity = 1000;
// One cart holds at most this many lines (distinct products); the database enforces it too.
inline constexpr std::int64_t kMaxLines = 100;
// Quantity of an add when the body has none.
inline constexpr std::int64_t kDefaultAddQuantity = 1;

// Units of a product to take off a cart (an order placed them): quantity ≥ 1.
struct Deduction {
  std::string product_id;
  std::int64_t quantity = 0;
};

// Sums the quantities of deductions naming the same product; the result is sorted by product id,
// the order the lines are changed in.
std::vector<Deduction> merge_deductions(std::vector<Deduction> deductions);

// A stored line: the product's name and price (cents) as they were when the line was last added to.
struct CartLine {
  std::string product_id;
  std::int64_t quantity = 0;
  std::string name;
  std::int64_t price = 0;  // minor units, snapshot
};

// A stored cart, lines in the order they were first added.
struct Cart {
  std::string id;
  std::string user_id;
  std::vector<CartLine> lines;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 0;
};

// A product as product-service reports it now.
struct Product {
  std::string id;
  std::string name;
  std::int64_t price = 0;  // minor units
  std::int64_t stock = 0;  // sellable units (on-hand − held)
};

struct PricedLine {
  std::string product_id;
  std::int64_t quantity = 0;
  std::string name;
  std::int64_t price = 0;  // minor units: current when known, else the stored snapshot
  bool available = true;
};

// What a client reads: the stored cart with a price and availability per line.
struct PricedCart {
  std::string id;
  std::string user_id;
  std::vector<PricedLine> lines;
  std::int64_t subtotal = 0;  // minor units: Σ price × quantity over available lines
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 0;
  bool stale = false;  // product-service could not be asked: stored prices, availability unknown
};

// Σ price × quantity over the available lines, in minor units, with core's checked arithmetic
// (emporium/money/arithmetic.hpp): within the caps (100 lines × 1000 units × 9,999,999,999 cents)
// it is exact; a line beyond them that would overflow throws MoneyOverflow (a logged 500), never a
// wrapped subtotal.
std::int64_t subtotal(const std::vector<PricedLine>& lines);

// Prices `cart` against `current`, the products product-service returned for the cart's lines
// (one `ids` call). A line whose product is absent (deleted) keeps its stored name and price and is
// unavailable; a product with no stock is unavailable at its current price; every other line takes
// the current name and price. With `current` unset (product-service unavailable) every line keeps
// its stored name and price, counts as available (unknown is not "sold out"; checkout re-checks
// stock) and the cart is marked stale.
PricedCart price_cart(const Cart& cart, const std::optional<std::vector<Product>>& current);

}  // namespace emporium::cart::domain
