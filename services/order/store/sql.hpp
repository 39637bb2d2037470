// Every SQL statement of order-service, as named constants with $N placeholders. Only the DML
// subset both backends share: timestamps are parameters computed in C++; DDL lives in migrations/.
#pragma once

#include <string_view>

namespace emporium::order::sql {

inline constexpr std::string_view kOrderColumns =
    "id, user_id, status, total, currency, shipping_address, from_cart, expires_at, "
    "payment_lease_id, payment_lease_until, paid_payment_id, failed_payment_id, failure_reason, "
    "created_at, updated_at, version, customer";

inline constexpr std::string_view kInsertOrder = R"(
INSERT INTO orders (id, user_id, status, total, currency, shipping_address, from_cart, expires_at,
                    created_at, updated_at, version, customer)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 0, $10))";

// Followed by one "($1, $n, …)" tuple per line (store/order_store.cpp).
inline constexpr std::string_view kInsertItems = R"(
INSERT INTO order_items (order_id, position, product_id, name, price, quantity) VALUES )";

inline constexpr std::string_view kInsertHistory = R"(
INSERT INTO order_history (order_id, seq, status, at) VALUES ($1, $2, $3, $4))";

// A status change: the row's version decides (a concurrent change of the same order makes this
// match nothing, or fail with 40001 on PostgreSQL, and the transaction runs again).
inline constexpr std::string_view kUpdateStatus = R"(
UPDATE orders
SET status = $3, updated_at = $4, version = version + 1,
    paid_payment_id = COALESCE($5, paid_payment_id),
    failed_payment_id = COALESCE($6, failed_payment_id),
    failure_reason = COALESCE($7, failure_reason),
    payment_lease_id = CASE WHEN $8 = 1 THEN NULL ELSE payment_lease_id END,
    payment_lease_until = CASE WHEN $8 = 1 THEN 0 ELSE payment_lease_until END
WHERE id = $1 AND version = $2)";

inline constexpr std::string_view kSetLease = R"(
UPDATE orders
SET payment_lease_id = $3, payment_lease_until = $4, updated_at = $5, version = version + 1
WHERE id = $1 AND version = $2)";

}  // namespace emporium::order::sql
