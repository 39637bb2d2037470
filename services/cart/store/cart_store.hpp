// The cart repository: each call is one transaction over store/sql.hpp statements and answers
// with what happened and the cart as it is afterwards. The limits are enforced here, in SQL (a
// conditional UPDATE of the cart row guards the line count, a WHERE guards the quantity sum) and by
// CHECK constraints, so they hold under any concurrency and across instances.
#pragma once

#include "domain/cart.hpp"

#include <emporium/db/database.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::cart::store {

// A line to add: the quantity to add and the product's current name and price (the snapshot).
struct NewLine {
  std::string product_id;
  std::int64_t quantity = 0;
  std::string name;
  std::int64_t price = 0;  // minor units
};

enum class AddResult {
  Added,           // a new line, or more units on an existing one
  QuantityCapped,  // the line would exceed domain::kMaxLineQuantity; nothing changed
  TooManyLines,    // a new line would exceed domain::kMaxLines; nothing changed
};

struct AddOutcome {
  AddResult result = AddResult::Added;
  domain::Cart cart;                   // afterwards (created by this add if it was the first)
  std::int64_t existing_quantity = 0;  // the line's quantity before (QuantityCapped)
};

enum class ChangeResult {
  Changed,
  Unchanged,  // removing a line the cart does not have
  NoCart,
  NoLine,  // updating a line the cart does not have
};

struct ChangeOutcome {
  ChangeResult result = ChangeResult::Changed;
  std::optional<domain::Cart> cart;  // afterwards; unset with NoCart
};

class CartStore {
 public:
  using IdGenerator = std::function<std::string()>;

  explicit CartStore(db::Database& db, IdGenerator new_id = {});

  // Creates the user's cart if there is none, then adds `line.quantity` units (1..1000) of the
  // product, creating its line or adding to it; the line's name and price become `line`'s.
  AddOutcome add_line(std::string_view user_id, const NewLine& line, std::int64_t now_ms);

  std::optional<domain::Cart> find_by_user(std::string_view user_id);

  // Removes the product's line; removing an absent line changes nothing (Unchanged).
  ChangeOutcome remove_line(std::string_view user_id, std::string_view product_id,
                            std::int64_t now_ms);

  // Sets the line's quantity (0..1000); 0 removes the line. NoLine when there is no such line.
  ChangeOutcome set_quantity(std::string_view user_id, std::string_view product_id,
                             std::int64_t quantity, std::int64_t now_ms);

  // Deletes the cart and its lines; false when there was none.
  bool delete_cart(std::string_view user_id);

 private:
  db::Database& db_;
  IdGenerator new_id_;
};

}  // namespace emporium::cart::store
