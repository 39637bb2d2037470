#include "store/product_store.hpp"

#include "domain/search.hpp"
#include "store/sql.hpp"

#include <emporium/json/json.hpp>

namespace emporium::product::store {
namespace {

using domain::Product;

std::string images_text(const std::vector<std::string>& images) {
  return dump_json(Json(images));
}

std::vector<std::string> images_from_text(const std::string& text) {
  std::vector<std::string> out;
  const Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return out;
  for (const auto& item : parsed) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

Product product_from_row(const db::Row& row) {
  Product p;
  p.id = row.text(0);
  p.name = row.text(1);
  p.description = row.text(2);
  p.price_minor = row.integer(3);
  p.category = row.text(4);
  p.on_hand = row.integer(5);
  p.held = row.integer(6);
  p.sku = row.opt_text(7);
  p.images = images_from_text(row.text(8));
  p.created_at_ms = row.integer(9);
  p.updated_at_ms = row.integer(10);
  p.version = row.integer(11);
  return p;
}

// Appends a listing part, numbering its `?` marks $N and collecting the matching parameters.
class ListSql {
 public:
  void add(std::string_view part) { add(part, {}); }
  void add(std::string_view part, std::initializer_list<db::Value> values) {
    std::size_t used = 0;
    for (char c : part) {
      if (c == '?') {
        text_ += '$' + std::to_string(++marks_);
        ++used;
      } else {
        text_ += c;
      }
    }
    for (const auto& v : values) params_.push_back(v);
    if (used != values.size()) throw std::logic_error("listing part and parameters disagree");
  }
  const std::string& text() const { return text_; }
  const db::Params& params() const { return params_; }

 private:
  std::string text_;
  db::Params params_;
  int marks_ = 0;
};

// FROM and WHERE of a listing, shared by the page and the count.
void add_filters(ListSql& sql, db::Backend backend, const domain::ListQuery& query) {
  if (query.tokens.empty()) {
    sql.add(query.has_ids ? sql::kListFromIds : sql::kListFrom);
  } else if (backend == db::Backend::Sqlite) {
    sql.add(sql::kListFromSqliteSearch, {domain::fts5_match(query.tokens)});
  } else {
    sql.add(sql::kListFromPgSearch, {domain::pg_tsquery(query.tokens)});
  }
  if (query.category) sql.add(sql::kListWhereCategory, {*query.category});
  if (query.min_price_minor) sql.add(sql::kListWhereMinPrice, {*query.min_price_minor});
  if (query.max_price_minor) sql.add(sql::kListWhereMaxPrice, {*query.max_price_minor});
  if (query.in_stock) sql.add(*query.in_stock ? sql::kListWhereInStock : sql::kListWhereOutOfStock);
  if (query.has_ids) {
    sql.add(sql::kListWhereIdsOpen);
    for (std::size_t i = 0; i < query.ids.size(); ++i) {
      if (i > 0) sql.add(sql::kListIdsSeparator);
      sql.add(sql::kListIdsMark, {query.ids[i]});
    }
    sql.add(sql::kListWhereIdsClose);
  }
}

std::string_view order_by(domain::Sort sort) {
  switch (sort) {
    case domain::Sort::CreatedAsc: return sql::kListOrderCreatedAsc;
    case domain::Sort::CreatedDesc: return sql::kListOrderCreatedDesc;
    case domain::Sort::PriceAsc: return sql::kListOrderPriceAsc;
    case domain::Sort::PriceDesc: return sql::kListOrderPriceDesc;
    case domain::Sort::NameAsc: return sql::kListOrderNameAsc;
  }
  return sql::kListOrderCreatedAsc;
}

}  // namespace

// ---- products

std::optional<Product> find_product(db::Tx& tx, std::string_view id) {
  const db::Result r = tx.query(sql::kSelectProduct, {std::string(id)});
  if (r.empty()) return std::nullopt;
  return product_from_row(r.one());
}

void insert_product(db::Tx& tx, const Product& p) {
  tx.exec(sql::kInsertProduct,
          {p.id, p.name, p.description, p.price_minor, p.category, p.on_hand, db::nullable(p.sku),
           images_text(p.images), domain::search_text(p.name, p.description), p.created_at_ms});
}

bool update_product(db::Tx& tx, const Product& p, std::optional<std::int64_t> new_stock,
                    std::int64_t now_ms) {
  db::Params params = {p.id,
                       p.name,
                       p.description,
                       p.price_minor,
                       p.category,
                       db::nullable(p.sku),
                       images_text(p.images),
                       domain::search_text(p.name, p.description),
                       now_ms,
                       p.version};
  if (new_stock) {
    params.emplace_back(*new_stock);
    return tx.exec(sql::kUpdateProductWithStock, params) == 1;
  }
  return tx.exec(sql::kUpdateProduct, params) == 1;
}

bool adjust_stock(db::Tx& tx, std::string_view id, std::int64_t delta, std::int64_t max_stock,
                  std::int64_t now_ms) {
  return tx.exec(sql::kAdjustStock, {std::string(id), delta, now_ms, max_stock}) == 1;
}

bool soft_delete_product(db::Tx& tx, std::string_view id, std::int64_t now_ms) {
  return tx.exec(sql::kSoftDeleteProduct, {std::string(id), now_ms}) == 1;
}

std::vector<domain::CategoryCount> list_categories(db::Tx& tx) {
  std::vector<domain::CategoryCount> out;
  for (const auto& row : tx.query(sql::kListCategories).rows) {
    out.push_back({row.text(0), row.integer(1)});
  }
  return out;
}

ListStatement list_page_statement(db::Backend backend, const domain::ListQuery& query) {
  ListSql rows;
  rows.add(sql::kListColumns);
  add_filters(rows, backend, query);
  rows.add(order_by(query.effective_sort()));
  rows.add(sql::kListPage, {query.limit, query.offset()});
  return {rows.text(), rows.params()};
}

ProductPage list_products(db::Tx& tx, db::Backend backend, const domain::ListQuery& query) {
  ProductPage page;
  if (query.has_ids && query.ids.empty()) return page;

  const ListStatement rows = list_page_statement(backend, query);
  for (const auto& row : tx.query(rows.sql, rows.params).rows) {
    page.products.push_back(product_from_row(row));
  }

  // The count is only needed when this page does not tell it already.
  const auto n = static_cast<std::int64_t>(page.products.size());
  if (n > 0 && n < query.limit) {
    page.total = query.offset() + n;
  } else if (n == 0 && query.page == 1) {
    page.total = 0;
  } else {
    ListSql count;
    count.add(sql::kListCount);
    add_filters(count, backend, query);
    page.total = tx.query(count.text(), count.params()).one().integer(0);
  }
  return page;
}

// ---- stock

std::optional<domain::HeldLine> hold_stock(db::Tx& tx, std::string_view product_id,
                                           std::int64_t quantity) {
  const db::Result r = tx.query(sql::kHoldStock, {std::string(product_id), quantity});
  if (r.empty()) return std::nullopt;
  return domain::HeldLine{std::string(product_id), quantity, r.one().text(0), r.one().integer(1)};
}

std::int64_t available_stock(db::Tx& tx, std::string_view product_id) {
  const db::Result r = tx.query(sql::kSelectAvailable, {std::string(product_id)});
  return r.empty() ? 0 : r.one().integer(0);
}

void commit_held_stock(db::Tx& tx, std::string_view product_id, std::int64_t quantity) {
  tx.exec(sql::kCommitHeldStock, {std::string(product_id), quantity});
}

void release_held_stock(db::Tx& tx, std::string_view product_id, std::int64_t quantity) {
  tx.exec(sql::kReleaseHeldStock, {std::string(product_id), quantity});
}

std::optional<StockTaken> deduct_stock(db::Tx& tx, std::string_view product_id,
                                       std::int64_t quantity) {
  const db::Result r = tx.query(sql::kDeductStock, {std::string(product_id), quantity});
  if (r.empty()) return std::nullopt;
  const db::Row& row = r.one();
  return StockTaken{row.integer(0),
                    {std::string(product_id), quantity, row.text(1), row.integer(2)}};
}

// ---- reservations

std::optional<domain::Reservation> find_reservation(db::Tx& tx, std::string_view id) {
  const db::Result r = tx.query(sql::kSelectReservation, {std::string(id)});
  if (r.empty()) return std::nullopt;
  const db::Row& row = r.one();
  domain::Reservation out;
  out.id = row.text(0);
  out.kind =
      row.text(1) == "deduct" ? domain::ReservationKind::Deduct : domain::ReservationKind::Reserve;
  out.items_hash = row.text(2);
  out.state = domain::parse_state(row.text(3)).value_or(domain::ReservationState::Held);
  out.release_reason = row.text(4);
  out.expires_at_ms = row.integer(5);
  out.created_at_ms = row.integer(6);
  out.stock_after = row.opt_integer(7);
  for (const auto& line : tx.query(sql::kSelectReservationLines, {std::string(id)}).rows) {
    out.lines.push_back({line.text(0), line.integer(1), line.text(2), line.integer(3)});
  }
  return out;
}

void insert_reservation(db::Tx& tx, const domain::Reservation& r, std::int64_t now_ms) {
  tx.exec(sql::kInsertReservation, {r.id, std::string(domain::kind_name(r.kind)), r.items_hash,
                                    std::string(domain::state_name(r.state)), r.expires_at_ms,
                                    db::nullable(r.stock_after), now_ms});
}

void insert_reservation_line(db::Tx& tx, std::string_view reservation_id,
                             const domain::HeldLine& line) {
  tx.exec(sql::kInsertReservationLine, {std::string(reservation_id), line.product_id, line.quantity,
                                        line.name, line.price_minor});
}

std::optional<domain::HeldLine> insert_reservation_line_from_product(
    db::Tx& tx, std::string_view reservation_id, std::string_view product_id,
    std::int64_t quantity) {
  const auto r = tx.query(sql::kInsertReservationLineFromProduct,
                          {std::string(reservation_id), std::string(product_id), quantity});
  if (r.empty()) return std::nullopt;
  return domain::HeldLine{std::string(product_id), quantity, r.one().text(0), r.one().integer(1)};
}

void set_reservation_line_snapshot(db::Tx& tx, std::string_view reservation_id,
                                   const domain::HeldLine& line) {
  tx.exec(sql::kSetReservationLineSnapshot,
          {std::string(reservation_id), line.product_id, line.name, line.price_minor});
}

void set_stock_after(db::Tx& tx, std::string_view id, std::int64_t stock) {
  tx.exec(sql::kSetReservationStockAfter, {std::string(id), stock});
}

bool mark_committed(db::Tx& tx, std::string_view id, std::int64_t now_ms) {
  return tx.exec(sql::kMarkReservationCommitted, {std::string(id), now_ms}) == 1;
}

bool mark_released(db::Tx& tx, std::string_view id, std::string_view reason, std::int64_t now_ms) {
  return tx.exec(sql::kMarkReservationReleased, {std::string(id), now_ms, std::string(reason)}) ==
         1;
}

std::vector<std::string> expired_reservation_ids(db::Tx& tx, std::int64_t now_ms,
                                                 std::int64_t limit) {
  std::vector<std::string> out;
  for (const auto& row : tx.query(sql::kSelectExpiredReservations, {now_ms, limit}).rows) {
    out.push_back(row.text(0));
  }
  return out;
}

std::int64_t delete_finished_reservations(db::Tx& tx, std::int64_t finished_before_ms,
                                          std::int64_t limit) {
  return tx.exec(sql::kDeleteFinishedReservations, {finished_before_ms, limit});
}

}  // namespace emporium::product::store
