// payment-service persistence: free functions on the caller's transaction (the use case opens it),
// so a payment's outcome, the tasks it enqueues and an idempotency key's answer commit together.
#pragma once

#include "domain/payment.hpp"

#include <emporium/db/database.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::payment::store {

// Throws db::UniqueViolation when the order already has an open or a successful payment.
void insert_payment(db::Tx& tx, const domain::Payment& payment);
std::optional<domain::Payment> find(db::Tx& tx, std::string_view payment_id);
std::optional<domain::Payment> find_by_provider_id(db::Tx& tx, std::string_view provider_id);
// The order's open payment (processing or requires_action), if any.
std::optional<domain::Payment> find_open(db::Tx& tx, std::string_view order_id);
// The order's successful (possibly refunded) payment, if any.
std::optional<domain::Payment> find_success(db::Tx& tx, std::string_view order_id);
std::vector<domain::Payment> list_for_order(db::Tx& tx, std::string_view order_id);

// Writes every mutable field of `payment` when the row is still at `payment.version`, and bumps
// it; false when the row changed meanwhile (the caller re-reads: it cannot happen inside the
// Write transactions the use cases use, which read the row first).
bool update(db::Tx& tx, domain::Payment& payment, std::int64_t now_ms);

// Deletes a payment no provider call was made for (still `processing`, no provider id): an
// attempt the order refused before it started. False when it was attempted after all.
bool delete_unattempted(db::Tx& tx, std::string_view payment_id);

void insert_refund(db::Tx& tx, const domain::Refund& refund);
std::optional<domain::Refund> find_refund(db::Tx& tx, std::string_view refund_id);
void update_refund(db::Tx& tx, const domain::Refund& refund, std::int64_t now_ms);
std::vector<domain::Refund> list_refunds(db::Tx& tx, std::string_view payment_id);

// Records a provider event id; false when it was recorded before (a redelivery).
bool record_event(db::Tx& tx, std::string_view event_id, std::string_view type,
                  std::int64_t now_ms);

}  // namespace emporium::payment::store
