// Every SQL statement of product-service, as named constants with $N placeholders (the name
// doubles as its label in logs). Only the DML subset both backends share: timestamps are
// parameters computed in C++, no lower(), no FOR UPDATE, CASE instead of LEAST; DDL lives in
// migrations/. The listing is assembled from the kList* parts below, whose `?` marks are numbered
// $1, $2, … by store::list_products; nothing else builds SQL.
#pragma once

#include <string_view>

namespace emporium::product::sql {

// ---- products ----------------------------------------------------------------------------------
// Column order of every product SELECT: see store::product_from_row.

inline constexpr std::string_view kSelectProduct = R"(
SELECT id, name, description, price_minor, category, on_hand, held, sku, images, created_at,
       updated_at, version
FROM products WHERE id = $1 AND deleted_at IS NULL)";

inline constexpr std::string_view kInsertProduct = R"(
INSERT INTO products (id, name, description, price_minor, category, on_hand, held, sku, images,
                      search_text, created_at, updated_at, version)
VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $10, 0))";

// A document update based on version $10; `stock` untouched.
inline constexpr std::string_view kUpdateProduct = R"(
UPDATE products
SET name = $2, description = $3, price_minor = $4, category = $5, sku = $6, images = $7,
    search_text = $8, updated_at = $9, version = version + 1
WHERE id = $1 AND version = $10 AND deleted_at IS NULL)";

// The same with a new sellable stock $11: on-hand becomes $11 plus whatever is held right now,
// so reserved units are never lost.
inline constexpr std::string_view kUpdateProductWithStock = R"(
UPDATE products
SET name = $2, description = $3, price_minor = $4, category = $5, sku = $6, images = $7,
    search_text = $8, updated_at = $9, version = version + 1, on_hand = $11 + held
WHERE id = $1 AND version = $10 AND deleted_at IS NULL)";

// A relative stock change that keeps on-hand ≥ held and the sellable stock ≤ $4.
inline constexpr std::string_view kAdjustStock = R"(
UPDATE products
SET on_hand = on_hand + $2, updated_at = $3, version = version + 1
WHERE id = $1 AND deleted_at IS NULL AND on_hand + $2 >= held AND on_hand + $2 - held <= $4)";

inline constexpr std::string_view kSoftDeleteProduct = R"(
UPDATE products SET deleted_at = $2, updated_at = $2, version = version + 1
WHERE id = $1 AND deleted_at IS NULL)";

inline constexpr std::string_view kListCategories = R"(
SELECT category, COUNT(*) FROM products WHERE deleted_at IS NULL
GROUP BY category ORDER BY category)";

// ---- stock held by reservations ----------------------------------------------------------------
// Each line is one conditional UPDATE: it holds $2 units only if that many can still be sold, so
// concurrent reservations can never oversell (the CHECK on the table backs this up).

// RETURNING gives the name and price of the row version the hold changed: the price snapshot of
// the line, read under the row lock the hold takes (a concurrent price change waits for this
// transaction or went before it), so it is the price the held units are sold at.
inline constexpr std::string_view kHoldStock = R"(
UPDATE products SET held = held + $2
WHERE id = $1 AND deleted_at IS NULL AND on_hand - held >= $2
RETURNING name, price_minor)";

// What can be sold now; no row for an unknown or deleted product.
inline constexpr std::string_view kSelectAvailable = R"(
SELECT on_hand - held FROM products WHERE id = $1 AND deleted_at IS NULL)";

// Commit: the held units leave the warehouse. No deleted_at test: a product deleted while
// reserved still settles its reservations.
inline constexpr std::string_view kCommitHeldStock = R"(
UPDATE products SET on_hand = on_hand - $2, held = held - $2 WHERE id = $1)";

inline constexpr std::string_view kReleaseHeldStock = R"(
UPDATE products SET held = held - $2 WHERE id = $1)";

// Deduct: units leave the warehouse at once, if that many can be sold; with the price snapshot, as
// kHoldStock.
inline constexpr std::string_view kDeductStock = R"(
UPDATE products SET on_hand = on_hand - $2
WHERE id = $1 AND deleted_at IS NULL AND on_hand - held >= $2
RETURNING on_hand - held, name, price_minor)";

// ---- reservations ------------------------------------------------------------------------------

inline constexpr std::string_view kSelectReservation = R"(
SELECT id, kind, items_hash, state, release_reason, expires_at, created_at, stock_after
FROM reservations WHERE id = $1)";

// The snapshot columns are NULL only on a line written by a binary older than migration 002 during
// a rolling upgrade; such a line answers with the product's price now, the nearest thing known.
inline constexpr std::string_view kSelectReservationLines = R"(
SELECT l.product_id, l.quantity, COALESCE(l.name, p.name, ''),
       COALESCE(l.price_minor, p.price_minor, 0)
FROM reservation_lines l LEFT JOIN products p ON p.id = l.product_id
WHERE l.reservation_id = $1
ORDER BY l.product_id)";

inline constexpr std::string_view kInsertReservation = R"(
INSERT INTO reservations (id, kind, items_hash, state, release_reason, expires_at, stock_after,
                          created_at, updated_at)
VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $7))";

inline constexpr std::string_view kInsertReservationLine = R"(
INSERT INTO reservation_lines (reservation_id, product_id, quantity, name, price_minor)
VALUES ($1, $2, $3, $4, $5))";

// A reservation's line with the product's name and price as read now, before its units are held
// (no row lock: the hold's lock window stays one statement and the COMMIT). No row for an unknown
// product (its hold fails and the reservation rolls back). The hold re-reads both under its lock;
// kSetReservationLineSnapshot corrects the line when a price change came in between.
inline constexpr std::string_view kInsertReservationLineFromProduct = R"(
INSERT INTO reservation_lines (reservation_id, product_id, quantity, name, price_minor)
SELECT $1, id, $3, name, price_minor FROM products WHERE id = $2
RETURNING name, price_minor)";

inline constexpr std::string_view kSetReservationLineSnapshot = R"(
UPDATE reservation_lines SET name = $3, price_minor = $4
WHERE reservation_id = $1 AND product_id = $2)";

inline constexpr std::string_view kSetReservationStockAfter = R"(
UPDATE reservations SET stock_after = $2 WHERE id = $1)";

// The transitions: each names the state it leaves, so it happens once however often it is asked.
inline constexpr std::string_view kMarkReservationCommitted = R"(
UPDATE reservations SET state = 'committed', updated_at = $2
WHERE id = $1 AND state = 'held' AND expires_at > $2)";

inline constexpr std::string_view kMarkReservationReleased = R"(
UPDATE reservations SET state = 'released', release_reason = $3, updated_at = $2
WHERE id = $1 AND state = 'held')";

inline constexpr std::string_view kSelectExpiredReservations = R"(
SELECT id FROM reservations WHERE state = 'held' AND expires_at <= $1
ORDER BY expires_at, id LIMIT $2)";

// Finished reservations are kept long enough to answer retries, then dropped (lines cascade).
inline constexpr std::string_view kDeleteFinishedReservations = R"(
DELETE FROM reservations WHERE id IN (
  SELECT id FROM reservations WHERE state <> 'held' AND updated_at < $1 LIMIT $2))";

// ---- listing parts (`?` marks numbered in order by store::list_products) -----------------------

inline constexpr std::string_view kListColumns = R"(
SELECT p.id, p.name, p.description, p.price_minor, p.category, p.on_hand, p.held, p.sku,
       p.images, p.created_at, p.updated_at, p.version)";
inline constexpr std::string_view kListCount = "\nSELECT COUNT(*)";

inline constexpr std::string_view kListFrom = "\nFROM products p\nWHERE p.deleted_at IS NULL";
// A listing by `ids` (the cart prices its lines with one): the unary `+` keeps the planner off the
// partial and category indexes, which it otherwise prefers for the ORDER BY and then walks the
// whole catalog (SQLite, measured ~100 ms on 100,000 products); the id primary key drives instead.
inline constexpr std::string_view kListFromIds = "\nFROM products p\nWHERE +p.deleted_at IS NULL";
// Search, SQLite: the FTS5 matches drive the join (CROSS JOIN fixes the loop order), so a
// selective search never scans the catalog.
inline constexpr std::string_view kListFromSqliteSearch =
    "\nFROM products_fts CROSS JOIN products p ON p.seq = products_fts.rowid"
    "\nWHERE products_fts MATCH ? AND p.deleted_at IS NULL";
// Search, PostgreSQL: GIN index on the tsvector; the tsquery text is built by domain/search.
inline constexpr std::string_view kListFromPgSearch =
    "\nFROM products p\nWHERE p.search_tsv @@ CAST(? AS tsquery) AND p.deleted_at IS NULL";

inline constexpr std::string_view kListWhereCategory = " AND p.category = ?";
inline constexpr std::string_view kListWhereMinPrice = " AND p.price_minor >= ?";
inline constexpr std::string_view kListWhereMaxPrice = " AND p.price_minor <= ?";
inline constexpr std::string_view kListWhereInStock = " AND p.on_hand - p.held > 0";
inline constexpr std::string_view kListWhereOutOfStock = " AND p.on_hand - p.held <= 0";
inline constexpr std::string_view kListWhereIdsOpen = " AND p.id IN (";
inline constexpr std::string_view kListIdsMark = "?";
inline constexpr std::string_view kListIdsSeparator = ", ";
inline constexpr std::string_view kListWhereIdsClose = ")";

// Ties break on _id, in the direction of the sort, so each order matches one index.
inline constexpr std::string_view kListOrderCreatedAsc = "\nORDER BY p.created_at, p.id";
inline constexpr std::string_view kListOrderCreatedDesc = "\nORDER BY p.created_at DESC, p.id DESC";
inline constexpr std::string_view kListOrderPriceAsc = "\nORDER BY p.price_minor, p.id";
inline constexpr std::string_view kListOrderPriceDesc = "\nORDER BY p.price_minor DESC, p.id DESC";
inline constexpr std::string_view kListOrderNameAsc = "\nORDER BY p.name, p.id";
inline constexpr std::string_view kListPage = "\nLIMIT ? OFFSET ?";

}  // namespace emporium::product::sql
