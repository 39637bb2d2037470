// order-service persistence: free functions on the caller's transaction (the use case opens it, of
// the kind it needs), so a status change, its history entry, the work it enqueues and an
// idempotency key's answer commit together.
#pragma once

#include "domain/order.hpp"

#include <emporium/db/database.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::order::store {

// Inserts `order` with its lines and its history (a new order: version 0).
void insert_order(db::Tx& tx, const domain::Order& order);

// The order with its lines and history; nullopt when absent. Run in a Snapshot or Write
// transaction (three statements that must agree).
std::optional<domain::Order> find(db::Tx& tx, std::string_view order_id);

struct ListFilter {
  std::optional<std::string> user_id;
  std::optional<domain::Status> status;
};
struct OrderPage {
  std::vector<domain::Order> orders;  // newest first
  std::int64_t total = 0;
};
// One page (offset, limit) of the orders matching `filter`, each with lines and history.
OrderPage list(db::Tx& tx, const ListFilter& filter, std::int64_t offset, std::int64_t limit);

// What a status change writes besides the status.
struct StatusChange {
  domain::Status to = domain::Status::Pending;
  std::int64_t at_ms = 0;
  std::optional<std::string> paid_payment_id{};
  std::optional<std::string> failed_payment_id{};
  std::optional<std::string> failure_reason{};
  bool drop_lease = false;
};
// Moves `order` (as read in this transaction) to `change.to`, appends the history entry and
// returns the order as it now is. The caller has checked the transition table on `order`, read in
// the same Write transaction; a row changed meanwhile (impossible under SQLite's write lock,
// 40001 on PostgreSQL) throws std::logic_error rather than write over it.
domain::Order change_status(db::Tx& tx, const domain::Order& order, const StatusChange& change);

// Sets (or with an empty id clears) the payment lease; returns the order as it now is.
domain::Order set_lease(db::Tx& tx, const domain::Order& order,
                        const std::optional<std::string>& payment_id, std::int64_t until_ms,
                        std::int64_t now_ms);

}  // namespace emporium::order::store
