// Repository functions of product-service: each runs statements from store/sql.hpp on the
// transaction it is given and maps rows to the domain models. No decisions beyond "what the row
// says"; the use cases (catalog.hpp) own the transactions and the rules.
#pragma once

#include "domain/list_query.hpp"
#include "domain/product.hpp"
#include "domain/stock.hpp"

#include <emporium/db/database.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::product::store {

// ---- products
std::optional<domain::Product> find_product(db::Tx& tx, std::string_view id);  // live only
void insert_product(db::Tx& tx, const domain::Product& product);
// Writes the document fields of `product` if the stored version is still `product.version`; with
// `new_stock` also sets on-hand to new_stock + held. Bumps version and sets updated_at. False when
// the row moved or is gone.
bool update_product(db::Tx& tx, const domain::Product& product,
                    std::optional<std::int64_t> new_stock, std::int64_t now_ms);
// False when the product is gone or the change would take on-hand below held or the sellable
// stock above `max_stock`.
bool adjust_stock(db::Tx& tx, std::string_view id, std::int64_t delta, std::int64_t max_stock,
                  std::int64_t now_ms);
bool soft_delete_product(db::Tx& tx, std::string_view id, std::int64_t now_ms);
std::vector<domain::CategoryCount> list_categories(db::Tx& tx);

struct ProductPage {
  std::vector<domain::Product> products;
  std::int64_t total = 0;
};
ProductPage list_products(db::Tx& tx, db::Backend backend, const domain::ListQuery& query);

// The statement list_products runs for one page (exposed so tests can check its query plan).
struct ListStatement {
  std::string sql;
  db::Params params;
};
ListStatement list_page_statement(db::Backend backend, const domain::ListQuery& query);

// ---- stock
// One conditional hold: the held line with the product's name and price read by the statement
// that held it; nullopt (nothing held) when the product is unknown, deleted or short.
std::optional<domain::HeldLine> hold_stock(db::Tx& tx, std::string_view product_id,
                                           std::int64_t quantity);
// Sellable units now; 0 for an unknown or deleted product.
std::int64_t available_stock(db::Tx& tx, std::string_view product_id);
void commit_held_stock(db::Tx& tx, std::string_view product_id, std::int64_t quantity);
void release_held_stock(db::Tx& tx, std::string_view product_id, std::int64_t quantity);
struct StockTaken {
  std::int64_t stock_after = 0;  // sellable stock right after
  domain::HeldLine line;         // what was taken, with its price snapshot
};
// Takes `quantity` units off on-hand stock at once; nullopt when unknown, deleted or short.
std::optional<StockTaken> deduct_stock(db::Tx& tx, std::string_view product_id,
                                       std::int64_t quantity);

// ---- reservations
std::optional<domain::Reservation> find_reservation(db::Tx& tx, std::string_view id);
// The header only (its lines follow with insert_reservation_line once held). Throws
// db::UniqueViolation when the id exists.
void insert_reservation(db::Tx& tx, const domain::Reservation& reservation, std::int64_t now_ms);
void insert_reservation_line(db::Tx& tx, std::string_view reservation_id,
                             const domain::HeldLine& line);
// Inserts the line with the product's current name and price, read without a lock, and returns
// it; nullopt (nothing inserted) for an unknown product. Called before the line's hold, so that
// the hold's lock is not kept across the insert.
std::optional<domain::HeldLine> insert_reservation_line_from_product(
    db::Tx& tx, std::string_view reservation_id, std::string_view product_id,
    std::int64_t quantity);
// Replaces a line's snapshot with the one its hold read under the lock.
void set_reservation_line_snapshot(db::Tx& tx, std::string_view reservation_id,
                                   const domain::HeldLine& line);
// A deduct's answer, recorded once its stock change is known.
void set_stock_after(db::Tx& tx, std::string_view id, std::int64_t stock);
// held -> committed while not expired at `now_ms`; false when the state was anything else.
bool mark_committed(db::Tx& tx, std::string_view id, std::int64_t now_ms);
// held -> released with `reason` ("released" or "expired"); false when not held.
bool mark_released(db::Tx& tx, std::string_view id, std::string_view reason, std::int64_t now_ms);
std::vector<std::string> expired_reservation_ids(db::Tx& tx, std::int64_t now_ms,
                                                 std::int64_t limit);
std::int64_t delete_finished_reservations(db::Tx& tx, std::int64_t finished_before_ms,
                                          std::int64_t limit);

}  // namespace emporium::product::store
