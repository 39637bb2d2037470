#include "store/payment_store.hpp"

#include <stdexcept>

namespace emporium::payment::store {
namespace {

using db::Row;
using db::Tx;
using domain::Payment;
using domain::Refund;

constexpr std::string_view kColumns =
    "id, order_id, user_id, amount, currency, status, payment_method, provider_payment_id, "
    "client_secret, failure_code, failure_reason, refunded, order_settled, paid_at, created_at, "
    "updated_at, version, order_snapshot";
constexpr std::string_view kRefundColumns =
    "id, payment_id, amount, status, provider_refund_id, reason, created_at";

Payment payment_of(const Row& row) {
  Payment p;
  p.id = row.text(0);
  p.order_id = row.text(1);
  p.user_id = row.text(2);
  p.amount = row.integer(3);
  p.currency = row.text(4);
  const auto status = domain::parse_status(row.text(5));
  if (!status) throw std::logic_error("payments.status holds an unknown status: " + row.text(5));
  p.status = *status;
  p.payment_method = row.text(6);
  p.provider_payment_id = row.opt_text(7);
  p.client_secret = row.opt_text(8);
  p.failure_code = row.opt_text(9);
  p.failure_reason = row.opt_text(10);
  p.refunded = row.integer(11);
  p.order_settled = row.integer(12) != 0;
  p.paid_at_ms = row.opt_integer(13);
  p.created_at_ms = row.integer(14);
  p.updated_at_ms = row.integer(15);
  p.version = row.integer(16);
  p.order_snapshot = row.opt_text(17);
  return p;
}

Refund refund_of(const Row& row) {
  return Refund{row.text(0),     row.text(1),     row.integer(2), row.text(3),
                row.opt_text(4), row.opt_text(5), row.integer(6)};
}

std::optional<Payment> one(Tx& tx, std::string_view where, std::string_view value) {
  const auto result =
      tx.query("SELECT " + std::string(kColumns) + " FROM payments WHERE " + std::string(where),
               {std::string(value)});
  if (result.empty()) return std::nullopt;
  return payment_of(result.one());
}

}  // namespace

void insert_payment(Tx& tx, const Payment& p) {
  tx.exec(
      "INSERT INTO payments (id, order_id, user_id, amount, currency, status, payment_method, "
      "created_at, updated_at, version, order_snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
      "$8, 0, $9)",
      {p.id, p.order_id, p.user_id, p.amount, p.currency,
       std::string(domain::status_name(p.status)), p.payment_method, p.created_at_ms,
       db::nullable(p.order_snapshot)});
}

bool delete_unattempted(Tx& tx, std::string_view payment_id) {
  return tx.exec(
             "DELETE FROM payments WHERE id = $1 AND status = 'processing' AND "
             "provider_payment_id IS NULL",
             {std::string(payment_id)}) == 1;
}

std::optional<Payment> find(Tx& tx, std::string_view payment_id) {
  return one(tx, "id = $1", payment_id);
}

std::optional<Payment> find_by_provider_id(Tx& tx, std::string_view provider_id) {
  return one(tx, "provider_payment_id = $1", provider_id);
}

std::optional<Payment> find_open(Tx& tx, std::string_view order_id) {
  return one(tx, "order_id = $1 AND status IN ('processing', 'requires_action')", order_id);
}

std::optional<Payment> find_success(Tx& tx, std::string_view order_id) {
  return one(tx, "order_id = $1 AND status IN ('succeeded', 'refunded')", order_id);
}

std::vector<Payment> list_for_order(Tx& tx, std::string_view order_id) {
  std::vector<Payment> out;
  for (const auto& row : tx.query("SELECT " + std::string(kColumns) +
                                      " FROM payments WHERE order_id = $1 ORDER BY created_at, id",
                                  {std::string(order_id)})
                             .rows) {
    out.push_back(payment_of(row));
  }
  return out;
}

bool update(Tx& tx, Payment& p, std::int64_t now_ms) {
  const auto affected = tx.exec(
      "UPDATE payments SET status = $3, provider_payment_id = $4, client_secret = $5, "
      "failure_code = $6, failure_reason = $7, refunded = $8, order_settled = $9, paid_at = $10, "
      "updated_at = $11, version = version + 1 WHERE id = $1 AND version = $2",
      {p.id, p.version, std::string(domain::status_name(p.status)),
       db::nullable(p.provider_payment_id), db::nullable(p.client_secret),
       db::nullable(p.failure_code), db::nullable(p.failure_reason), p.refunded,
       std::int64_t{p.order_settled ? 1 : 0}, db::nullable(p.paid_at_ms), now_ms});
  if (affected != 1) return false;
  p.version += 1;
  p.updated_at_ms = now_ms;
  return true;
}

void insert_refund(Tx& tx, const Refund& r) {
  tx.exec(
      "INSERT INTO refunds (id, payment_id, amount, status, provider_refund_id, reason, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
      {r.id, r.payment_id, r.amount, r.status, db::nullable(r.provider_refund_id),
       db::nullable(r.reason), r.created_at_ms});
}

std::optional<Refund> find_refund(Tx& tx, std::string_view refund_id) {
  const auto result =
      tx.query("SELECT " + std::string(kRefundColumns) + " FROM refunds WHERE id = $1",
               {std::string(refund_id)});
  if (result.empty()) return std::nullopt;
  return refund_of(result.one());
}

void update_refund(Tx& tx, const Refund& r, std::int64_t now_ms) {
  tx.exec(
      "UPDATE refunds SET status = $2, provider_refund_id = $3, reason = $4, updated_at = $5 "
      "WHERE id = $1",
      {r.id, r.status, db::nullable(r.provider_refund_id), db::nullable(r.reason), now_ms});
}

std::vector<Refund> list_refunds(Tx& tx, std::string_view payment_id) {
  std::vector<Refund> out;
  for (const auto& row : tx.query("SELECT " + std::string(kRefundColumns) +
                                      " FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
                                  {std::string(payment_id)})
                             .rows) {
    out.push_back(refund_of(row));
  }
  return out;
}

bool record_event(Tx& tx, std::string_view event_id, std::string_view type, std::int64_t now_ms) {
  return tx.exec(
             "INSERT INTO webhook_events (id, type, received_at) VALUES ($1, $2, $3) "
             "ON CONFLICT (id) DO NOTHING",
             {std::string(event_id), std::string(type), now_ms}) == 1;
}

}  // namespace emporium::payment::store
