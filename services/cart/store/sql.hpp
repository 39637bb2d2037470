// Every SQL statement of shopping-cart-service, as named constants with $N placeholders (the name
// doubles as its label in logs). Only the DML subset both backends share: timestamps are
// parameters computed in C++, CASE instead of LEAST, no FOR UPDATE; DDL lives in migrations/.
//
// Every transaction that changes a cart's lines first writes the cart's row (kLockCart, or the
// insert that creates it) and later updates it (version, line_count), so writes of one cart
// serialize, always locking the cart before its lines: SQLite's BEGIN IMMEDIATE takes the write
// lock up front; on PostgreSQL the adds run at READ COMMITTED and queue on the cart row's lock
// (a hot cart makes them wait, not fail), while updates and removals at REPEATABLE READ fail with
// 40001 when the cart changed since their snapshot and the database layer runs them again.
#pragma once

#include <string_view>

namespace emporium::cart::sql {

// ---- carts -------------------------------------------------------------------------------------

// One cart per user: of two first adds racing, one inserts and the other does nothing (then reads).
inline constexpr std::string_view kInsertCartIfAbsent = R"(
INSERT INTO carts (id, user_id, line_count, created_at, updated_at, version)
VALUES ($1, $2, 0, $3, $3, 0)
ON CONFLICT (user_id) DO NOTHING
RETURNING id)";

inline constexpr std::string_view kSelectCartIdByUser = R"(
SELECT id FROM carts WHERE user_id = $1)";

// Takes the cart row's lock without changing it (0 rows: the cart was deleted meanwhile). At READ
// COMMITTED the statements after it see what the previous holder committed.
inline constexpr std::string_view kLockCart = R"(
UPDATE carts SET version = version WHERE id = $1)";

// The whole cart in one statement (one snapshot on both backends); an empty cart is one row with
// NULL line columns.
inline constexpr std::string_view kSelectCartWithLines = R"(
SELECT c.id, c.user_id, c.created_at, c.updated_at, c.version,
       i.product_id, i.quantity, i.name, i.price
FROM carts c
LEFT JOIN cart_items i ON i.cart_id = c.id
WHERE c.user_id = $1
ORDER BY i.position, i.product_id)";

// The guard of the 100-line limit: a new line may be inserted only when this changed the row.
// $4 is 0 for the first line of a cart created in the same transaction (a new cart is version 0),
// else 1. RETURNING gives the new line's position.
inline constexpr std::string_view kReserveLineSlot = R"(
UPDATE carts
SET line_count = line_count + 1, version = version + $4, updated_at = $2
WHERE id = $1 AND line_count < $3
RETURNING version)";

inline constexpr std::string_view kReleaseLineSlot = R"(
UPDATE carts
SET line_count = line_count - 1, version = version + 1, updated_at = $2
WHERE id = $1)";

inline constexpr std::string_view kTouchCart = R"(
UPDATE carts SET version = version + 1, updated_at = $2 WHERE id = $1)";

// A deduct's one change of the cart row: $3 lines removed give their slots back, one version bump
// however many lines it touched.
inline constexpr std::string_view kTouchCartReleasingSlots = R"(
UPDATE carts
SET line_count = line_count - $3, version = version + 1, updated_at = $2
WHERE id = $1)";

inline constexpr std::string_view kDeleteCart = R"(
DELETE FROM carts WHERE id = $1)";

// ---- lines -------------------------------------------------------------------------------------

// Adds to an existing line while the sum stays within the cap ($6); refreshes the snapshot.
inline constexpr std::string_view kAddToLine = R"(
UPDATE cart_items
SET quantity = quantity + $3, name = $4, price = $5
WHERE cart_id = $1 AND product_id = $2 AND quantity + $3 <= $6)";

inline constexpr std::string_view kSelectLineQuantity = R"(
SELECT quantity FROM cart_items WHERE cart_id = $1 AND product_id = $2)";

inline constexpr std::string_view kInsertLine = R"(
INSERT INTO cart_items (cart_id, product_id, quantity, name, price, position, added_at)
VALUES ($1, $2, $3, $4, $5, $6, $7))";

inline constexpr std::string_view kSetLineQuantity = R"(
UPDATE cart_items SET quantity = $3 WHERE cart_id = $1 AND product_id = $2)";

inline constexpr std::string_view kDeleteLine = R"(
DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2)";

// One order's removal, recorded in the removal's own transaction: 0 rows when it was done before.
inline constexpr std::string_view kRecordRemoval = R"(
INSERT INTO cart_removals (user_id, order_id, created_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id, order_id) DO NOTHING)";

// A deduct ($3 units ordered): the line keeps what it holds beyond $3 ...
inline constexpr std::string_view kDeductFromLine = R"(
UPDATE cart_items SET quantity = quantity - $3
WHERE cart_id = $1 AND product_id = $2 AND quantity > $3)";

// ... or, holding no more than $3, disappears.
inline constexpr std::string_view kDeleteDeductedLine = R"(
DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2 AND quantity <= $3)";

inline constexpr std::string_view kDeleteCartLines = R"(
DELETE FROM cart_items WHERE cart_id = $1)";

}  // namespace emporium::cart::sql
