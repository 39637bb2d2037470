#include "store/cart_store.hpp"

#include "store/sql.hpp"

#include <stdexcept>
#include <utility>

namespace emporium::cart::store {
namespace {

using db::Params;
using db::Tx;

std::optional<domain::Cart> read_cart(Tx& tx, std::string_view user_id) {
  const db::Result result = tx.query(sql::kSelectCartWithLines, {std::string(user_id)});
  if (result.empty()) return std::nullopt;
  const db::Row& head = result.rows.front();
  domain::Cart cart;
  cart.id = head.text(0);
  cart.user_id = head.text(1);
  cart.created_at_ms = head.integer(2);
  cart.updated_at_ms = head.integer(3);
  cart.version = head.integer(4);
  for (const db::Row& row : result.rows) {
    if (row.is_null(5)) continue;  // the LEFT JOIN row of an empty cart
    cart.lines.push_back(
        domain::CartLine{row.text(5), row.integer(6), row.text(7), row.integer(8)});
  }
  return cart;
}

// A row this transaction has just seen or written: its absence is a bug, not a client error.
template <class T>
T must(std::optional<T> value) {
  if (!value) throw std::logic_error("cart store: the user's cart vanished inside a transaction");
  return std::move(*value);
}

std::optional<std::string> cart_id_of(Tx& tx, std::string_view user_id) {
  const db::Result result = tx.query(sql::kSelectCartIdByUser, {std::string(user_id)});
  if (result.empty()) return std::nullopt;
  return result.one().text(0);
}

// The user's existing cart with its row locked by this transaction (nullopt: no cart).
std::optional<std::string> lock_cart_of(Tx& tx, std::string_view user_id) {
  auto cart_id = cart_id_of(tx, user_id);
  if (cart_id && tx.exec(sql::kLockCart, {*cart_id}) == 0) cart_id.reset();  // deleted meanwhile
  return cart_id;
}

struct LockedCart {
  std::string id;
  bool created = false;
};

// The user's cart, created if absent, with its row locked by this transaction: the insert holds
// the row it created; an existing cart is locked with kLockCart. At READ COMMITTED a cart deleted
// between the lookup and the lock (a DELETE committed in between) is looked for again.
LockedCart lock_or_create_cart(Tx& tx, std::string_view user_id, const std::string& new_id,
                               std::int64_t now_ms) {
  for (int round = 0; round < 3; ++round) {
    if (const db::Result inserted =
            tx.query(sql::kInsertCartIfAbsent, {new_id, std::string(user_id), now_ms});
        !inserted.empty()) {
      return {inserted.one().text(0), true};
    }
    if (auto cart_id = lock_cart_of(tx, user_id)) return {std::move(*cart_id), false};
  }
  throw db::Unavailable("cart store: the cart was deleted and recreated under this add", 1);
}

// Deletes the line and gives its slot back; false when there was no such line.
bool delete_line(Tx& tx, const std::string& cart_id, std::string_view product_id,
                 std::int64_t now_ms) {
  if (tx.exec(sql::kDeleteLine, {cart_id, std::string(product_id)}) == 0) return false;
  tx.exec(sql::kReleaseLineSlot, {cart_id, now_ms});
  return true;
}

// Locks the user's cart, applies `change` (cart id -> result) and reads the cart back; NoCart,
// with nothing changed, when the user has none.
template <class Change>
ChangeOutcome change_cart(Tx& tx, std::string_view user_id, Change&& change) {
  ChangeOutcome outcome;
  const auto cart_id = lock_cart_of(tx, user_id);
  if (!cart_id) {
    outcome.result = ChangeResult::NoCart;
    return outcome;
  }
  outcome.result = change(*cart_id);
  outcome.cart = read_cart(tx, user_id);
  return outcome;
}

}  // namespace

AddOutcome add_line(Tx& tx, std::string_view user_id, const NewLine& line,
                    const std::string& new_cart_id, std::int64_t now_ms) {
  // READ COMMITTED (PostgreSQL): the adds of one cart queue on its row's lock, taken first,
  // instead of failing each other with 40001 under REPEATABLE READ; with all of a cart's writers
  // locking it before its lines, none can change what this one reads until it commits.
  AddOutcome outcome;
  const auto [cart_id, created] = lock_or_create_cart(tx, user_id, new_cart_id, now_ms);

  const Params line_key{cart_id, line.product_id};
  if (tx.exec(sql::kAddToLine, {cart_id, line.product_id, line.quantity, line.name, line.price,
                                domain::kMaxLineQuantity}) == 1) {
    tx.exec(sql::kTouchCart, {cart_id, now_ms});
  } else if (const db::Result existing = tx.query(sql::kSelectLineQuantity, line_key);
             !existing.empty()) {
    outcome.result = AddResult::QuantityCapped;
    outcome.existing_quantity = existing.one().integer(0);
  } else {
    const db::Result slot = tx.query(
        sql::kReserveLineSlot, {cart_id, now_ms, domain::kMaxLines, std::int64_t{created ? 0 : 1}});
    if (slot.empty()) {
      outcome.result = AddResult::TooManyLines;
    } else {
      tx.exec(sql::kInsertLine, {cart_id, line.product_id, line.quantity, line.name, line.price,
                                 slot.one().integer(0), now_ms});
    }
  }
  outcome.cart = must(read_cart(tx, user_id));
  return outcome;
}

std::optional<domain::Cart> find_by_user(Tx& tx, std::string_view user_id) {
  return read_cart(tx, user_id);
}

ChangeOutcome remove_line(Tx& tx, std::string_view user_id, std::string_view product_id,
                          std::int64_t now_ms) {
  return change_cart(tx, user_id, [&](const std::string& cart_id) {
    return delete_line(tx, cart_id, product_id, now_ms) ? ChangeResult::Changed
                                                        : ChangeResult::Unchanged;
  });
}

ChangeOutcome set_quantity(Tx& tx, std::string_view user_id, std::string_view product_id,
                           std::int64_t quantity, std::int64_t now_ms) {
  return change_cart(tx, user_id, [&](const std::string& cart_id) {
    if (quantity == 0) {
      return delete_line(tx, cart_id, product_id, now_ms) ? ChangeResult::Changed
                                                          : ChangeResult::NoLine;
    }
    if (tx.exec(sql::kSetLineQuantity, {cart_id, std::string(product_id), quantity}) == 0) {
      return ChangeResult::NoLine;
    }
    tx.exec(sql::kTouchCart, {cart_id, now_ms});
    return ChangeResult::Changed;
  });
}

ChangeOutcome deduct_lines(Tx& tx, std::string_view user_id,
                           const std::vector<domain::Deduction>& lines, std::int64_t now_ms,
                           const std::optional<std::string>& order_id) {
  return change_cart(tx, user_id, [&](const std::string& cart_id) {
    // Under the cart row's lock, so two removals of one order queue here and the second finds
    // the first's row.
    if (order_id && tx.exec(sql::kRecordRemoval, {std::string(user_id), *order_id, now_ms}) == 0) {
      return ChangeResult::Unchanged;
    }
    // The cart row is locked: no other writer changes its lines until this commits. A line is
    // either reduced (it holds more than the deduction) or deleted (it holds no more): one of the
    // two conditional statements matches a line that exists, neither an absent one.
    bool changed = false;
    std::int64_t removed = 0;
    for (const auto& line : lines) {
      const Params params{cart_id, line.product_id, line.quantity};
      if (tx.exec(sql::kDeductFromLine, params) == 1) {
        changed = true;
      } else if (tx.exec(sql::kDeleteDeductedLine, params) == 1) {
        changed = true;
        ++removed;
      }
    }
    if (!changed) return ChangeResult::Unchanged;
    tx.exec(sql::kTouchCartReleasingSlots, {cart_id, now_ms, removed});
    return ChangeResult::Changed;
  });
}

bool delete_cart(Tx& tx, std::string_view user_id) {
  const auto cart_id = lock_cart_of(tx, user_id);
  if (!cart_id) return false;
  tx.exec(sql::kDeleteCartLines, {*cart_id});
  tx.exec(sql::kDeleteCart, {*cart_id});
  return true;
}

}  // namespace emporium::cart::store
