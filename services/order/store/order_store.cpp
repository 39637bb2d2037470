#include "store/order_store.hpp"

#include "store/sql.hpp"

#include <map>
#include <stdexcept>
#include <utility>

namespace emporium::order::store {
namespace {

using db::Params;
using db::Row;
using db::Tx;
using domain::Order;
using domain::Status;

Status status_of(const std::string& text) {
  const auto status = domain::parse_status(text);
  if (!status) throw std::logic_error("orders.status holds an unknown status: " + text);
  return *status;
}

Order order_of(const Row& row) {
  Order o;
  o.id = row.text(0);
  o.user_id = row.text(1);
  o.status = status_of(row.text(2));
  o.total = row.integer(3);
  o.currency = row.text(4);
  o.shipping_address = row.opt_text(5);
  o.from_cart = row.integer(6) != 0;
  o.expires_at_ms = row.integer(7);
  o.payment_lease_id = row.opt_text(8);
  o.payment_lease_until_ms = row.integer(9);
  o.paid_payment_id = row.opt_text(10);
  o.failed_payment_id = row.opt_text(11);
  o.failure_reason = row.opt_text(12);
  o.created_at_ms = row.integer(13);
  o.updated_at_ms = row.integer(14);
  o.version = row.integer(15);
  o.customer = row.opt_text(16);
  return o;
}

// "$first, $first+1, …" for `count` parameters.
std::string placeholders(std::size_t first, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    out += "$" + std::to_string(first + i);
  }
  return out;
}

// Fills the lines and history of `orders` with one query each.
void attach_details(Tx& tx, std::vector<Order>& orders) {
  if (orders.empty()) return;
  std::map<std::string, Order*> by_id;
  Params ids;
  for (auto& o : orders) {
    by_id[o.id] = &o;
    ids.emplace_back(o.id);
  }
  const std::string in = "(" + placeholders(1, ids.size()) + ")";
  for (const auto& row :
       tx.query("SELECT order_id, product_id, name, price, quantity FROM order_items "
                "WHERE order_id IN " +
                    in + " ORDER BY order_id, position",
                ids)
           .rows) {
    by_id.at(row.text(0))
        ->lines.push_back({row.text(1), row.text(2), row.integer(3), row.integer(4)});
  }
  for (const auto& row : tx.query("SELECT order_id, status, at FROM order_history "
                                  "WHERE order_id IN " +
                                      in + " ORDER BY order_id, seq",
                                  ids)
                             .rows) {
    by_id.at(row.text(0))->history.push_back({status_of(row.text(1)), row.integer(2)});
  }
}

void insert_history(Tx& tx, const std::string& order_id, std::size_t seq,
                    const domain::HistoryEntry& entry) {
  tx.exec(sql::kInsertHistory, {order_id, static_cast<std::int64_t>(seq),
                                std::string(domain::status_name(entry.status)), entry.at_ms});
}

}  // namespace

void insert_order(Tx& tx, const Order& order) {
  tx.exec(
      sql::kInsertOrder,
      {order.id, order.user_id, std::string(domain::status_name(order.status)), order.total,
       order.currency, db::nullable(order.shipping_address), std::int64_t{order.from_cart ? 1 : 0},
       order.expires_at_ms, order.created_at_ms, db::nullable(order.customer)});
  // All lines in one statement: one round trip however many lines (at most 100: 501 parameters).
  if (!order.lines.empty()) {
    std::string values;
    Params params{order.id};
    std::int64_t position = 0;
    for (const auto& line : order.lines) {
      if (!values.empty()) values += ", ";
      const std::size_t p = params.size() + 1;
      values += "($1, " + placeholders(p, 5) + ")";
      params.insert(params.end(),
                    {position++, line.product_id, line.name, line.price, line.quantity});
    }
    tx.exec(std::string(sql::kInsertItems) + values, params);
  }
  for (std::size_t i = 0; i < order.history.size(); ++i) {
    insert_history(tx, order.id, i, order.history[i]);
  }
}

std::optional<Order> find(Tx& tx, std::string_view order_id) {
  const std::string id(order_id);
  const auto result =
      tx.query("SELECT " + std::string(sql::kOrderColumns) + " FROM orders WHERE id = $1", {id});
  if (result.empty()) return std::nullopt;
  std::vector<Order> one{order_of(result.one())};
  attach_details(tx, one);
  return std::move(one.front());
}

OrderPage list(Tx& tx, const ListFilter& filter, std::int64_t offset, std::int64_t limit) {
  std::string where;
  Params params;
  if (filter.user_id) {
    params.emplace_back(*filter.user_id);
    where += " WHERE user_id = $" + std::to_string(params.size());
  }
  if (filter.status) {
    params.emplace_back(std::string(domain::status_name(*filter.status)));
    where += (where.empty() ? " WHERE" : " AND");
    where += " status = $" + std::to_string(params.size());
  }
  OrderPage page;
  page.total = tx.query("SELECT COUNT(*) FROM orders" + where, params).one().integer(0);
  Params page_params = params;
  page_params.emplace_back(limit);
  page_params.emplace_back(offset);
  const std::string sql = "SELECT " + std::string(sql::kOrderColumns) + " FROM orders" + where +
                          " ORDER BY created_at DESC, id DESC LIMIT $" +
                          std::to_string(params.size() + 1) + " OFFSET $" +
                          std::to_string(params.size() + 2);
  for (const auto& row : tx.query(sql, page_params).rows) page.orders.push_back(order_of(row));
  attach_details(tx, page.orders);
  return page;
}

Order change_status(Tx& tx, const Order& order, const StatusChange& change) {
  const auto affected =
      tx.exec(sql::kUpdateStatus,
              {order.id, order.version, std::string(domain::status_name(change.to)), change.at_ms,
               db::nullable(change.paid_payment_id), db::nullable(change.failed_payment_id),
               db::nullable(change.failure_reason), std::int64_t{change.drop_lease ? 1 : 0}});
  if (affected != 1) throw std::logic_error("order " + order.id + " changed under its transaction");
  Order out = order;
  out.status = change.to;
  out.updated_at_ms = change.at_ms;
  out.version += 1;
  if (change.paid_payment_id) out.paid_payment_id = change.paid_payment_id;
  if (change.failed_payment_id) out.failed_payment_id = change.failed_payment_id;
  if (change.failure_reason) out.failure_reason = change.failure_reason;
  if (change.drop_lease) {
    out.payment_lease_id.reset();
    out.payment_lease_until_ms = 0;
  }
  out.history.push_back({change.to, change.at_ms});
  insert_history(tx, order.id, out.history.size() - 1, out.history.back());
  return out;
}

Order set_lease(Tx& tx, const Order& order, const std::optional<std::string>& payment_id,
                std::int64_t until_ms, std::int64_t now_ms) {
  const auto affected = tx.exec(sql::kSetLease, {order.id, order.version, db::nullable(payment_id),
                                                 payment_id ? until_ms : 0, now_ms});
  if (affected != 1) throw std::logic_error("order " + order.id + " changed under its transaction");
  Order out = order;
  out.payment_lease_id = payment_id;
  out.payment_lease_until_ms = payment_id ? until_ms : 0;
  out.updated_at_ms = now_ms;
  out.version += 1;
  return out;
}

}  // namespace emporium::order::store
