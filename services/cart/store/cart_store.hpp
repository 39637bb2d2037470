// Repository functions of shopping-cart-service: each runs store/sql.hpp statements on the
// transaction it is given and answers with what happened and the cart as it is afterwards. The
// caller (carts.hpp) opens the transaction, so a cart write can share it with another row (an
// outbox row, an idempotency record). The limits are enforced here, in SQL (a conditional UPDATE
// of the cart row guards the line count, a WHERE guards the quantity sum) and by CHECK
// constraints, so they hold under any concurrency and across instances.
//
// Every write locks the cart row first (the same order everywhere, store/sql.hpp). The kind of
// transaction each write needs is stated on it: `add_line` at db::TxKind::WriteCommitted (the adds
// of one cart queue on its row instead of failing each other with 40001 on PostgreSQL); the other
// writes at db::TxKind::Write; reads at any kind.
#pragma once

#include "domain/cart.hpp"

#include <emporium/db/database.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  Unchanged,  // removing a line the cart does not have; deducting only absent lines
  NoCart,
  NoLine,  // updating a line the cart does not have
};

struct ChangeOutcome {
  ChangeResult result = ChangeResult::Changed;
  std::optional<domain::Cart> cart;  // afterwards; unset with NoCart
};

// Run in a db::TxKind::WriteCommitted transaction. Creates the user's cart (id `new_cart_id`,
// chosen outside the transaction so a retry reuses it) if there is none, then adds
// `line.quantity` units (1..1000) of the product, creating its line or adding to it; the line's
// name and price become `line`'s.
AddOutcome add_line(db::Tx& tx, std::string_view user_id, const NewLine& line,
                    const std::string& new_cart_id, std::int64_t now_ms);

std::optional<domain::Cart> find_by_user(db::Tx& tx, std::string_view user_id);

// Run in a db::TxKind::Write transaction. Removes the product's line; removing an absent line
// changes nothing (Unchanged).
ChangeOutcome remove_line(db::Tx& tx, std::string_view user_id, std::string_view product_id,
                          std::int64_t now_ms);

// Run in a db::TxKind::Write transaction. Sets the line's quantity (0..1000); 0 removes the line.
// NoLine when there is no such line.
ChangeOutcome set_quantity(db::Tx& tx, std::string_view user_id, std::string_view product_id,
                           std::int64_t quantity, std::int64_t now_ms);

// Run in a db::TxKind::Write transaction. Takes each of `lines` (quantities ≥ 1, one entry per
// product, e.g. domain::merge_deductions) off the cart: a line left with 0 or fewer units is
// removed, a product the cart does not hold is ignored, whatever the line holds beyond the
// quantity stays. Changed bumps the version once; Unchanged when no line was touched. With
// `order_id`, the removal happens once per (user, order): a repeat is Unchanged.
ChangeOutcome deduct_lines(db::Tx& tx, std::string_view user_id,
                           const std::vector<domain::Deduction>& lines, std::int64_t now_ms,
                           const std::optional<std::string>& order_id = std::nullopt);

// Run in a db::TxKind::Write transaction. Deletes the cart and its lines; false when there was
// none.
bool delete_cart(db::Tx& tx, std::string_view user_id);

}  // namespace emporium::cart::store
