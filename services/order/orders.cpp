#include "orders.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/events/events.hpp>
#include <emporium/http/etag.hpp>
#include <emporium/money/currency.hpp>
#include <emporium/util/time.hpp>

#include <algorithm>
#include <utility>

namespace emporium::order {
namespace {

using db::Tx;
using db::TxKind;
using domain::Order;
using domain::Status;

// A follow-up tried at once waits this long in the queue before a worker would run it too.
constexpr std::int64_t kFallbackDelayMs = 15'000;
// An expiry is re-tried while a payment holds the order; each retry is an attempt.
constexpr int kExpiryAttempts = 1000;

HttpError order_not_found() {
  return not_found("Order not found");
}

HttpError not_payable(const Order& order, const std::string& detail, const char* code) {
  HttpError error = conflict(detail, code);
  error.with_extra("orderStatus", std::string(domain::status_name(order.status)));
  return error;
}

// 412 unless `if_match` (an If-Match header) names the order's current ETag.
void require_match(const Order& order, const std::optional<std::string>& if_match) {
  if (if_match && !http::if_match_satisfied(*if_match, http::etag(order.id, order.version))) {
    throw precondition_failed();
  }
}

std::string task_json(const std::string& kind, const std::string& order_id,
                      const std::string& user_id = {}, const std::vector<ItemLine>& lines = {}) {
  Json out{{"task", kind}, {"orderId", order_id}};
  if (!user_id.empty()) out["userId"] = user_id;
  if (!lines.empty()) {
    Json items = Json::array();
    for (const auto& line : lines) {
      items.push_back({{"productId", line.product_id}, {"quantity", line.quantity}});
    }
    out["items"] = std::move(items);
  }
  return dump_json(out);
}

}  // namespace

Orders::Orders(db::Database& db, std::shared_ptr<upstream::Upstreams> upstreams,
               const OrderConfig& config, obs::Logger* log, obs::Metrics* metrics, Clock clock)
    : db_(db),
      upstreams_(std::move(upstreams)),
      order_ttl_ms_(config.order_ttl_ms),
      lease_max_ms_(config.payment_lease_max_ms),
      worker_poll_ms_(config.worker_poll_ms),
      currency_(config.currency),
      log_(log),
      metrics_(metrics),
      clock_(clock ? std::move(clock) : Clock(&now_ms)),
      queue_(kTaskQueue, db.backend(), clock_) {}

void Orders::count(const char* metric, const char* help, const char* label,
                   std::string_view value) {
  if (metrics_ != nullptr) metrics_->increment(metric, help, label, std::string(value));
}

// ---- placing ---------------------------------------------------------------------------------

Order Orders::place(const std::string& user_id, const std::string& order_id,
                    const PlaceInput& input, const upstream::CallContext& context,
                    const InCommit& in_commit) {
  std::vector<ItemLine> lines;
  const bool from_cart = !input.items.has_value();
  if (input.items) {
    lines = *input.items;
  } else {
    auto cart = upstreams_->cart_lines(user_id, context);
    if (!cart || cart->empty()) {
      throw bad_request("Your cart is empty: add products to it, or send the order's items",
                        {{"items", "the cart is empty; send items or add products to the cart"}});
    }
    lines = merge_item_lines(std::move(*cart));
  }

  Order order;
  order.id = order_id;
  order.user_id = user_id;
  try {
    order.lines = upstreams_->reserve(order_id, lines, context);
  } catch (const HttpError& e) {
    count(kOrdersPlacedMetric, "Orders placed, by outcome", "result",
          e.status() == 409 ? "short" : "failed");
    // No answer may still mean the stock was held (a timeout after product-service committed).
    if (e.status() >= 500) release_unordered(order_id, context);
    throw;
  }
  order.total = domain::total_of(order.lines);
  order.currency = currency_.code;

  if (input.total && *input.total != order.total) {
    release_unordered(order_id, context);
    count(kOrdersPlacedMetric, "Orders placed, by outcome", "result", "total_mismatch");
    HttpError error =
        conflict("totalAmount " + dump_json(price_json(*input.total, currency_)) +
                     " does not match the order's total " +
                     dump_json(price_json(order.total, currency_)) + " (prices as held now)",
                 "total_mismatch");
    error.with_extra("totalAmount", price_json(order.total, currency_));
    error.with_extra("clientTotalAmount", price_json(*input.total, currency_));
    throw error;
  }

  const std::int64_t now = clock_();
  order.status = Status::Pending;
  order.history = {{Status::Pending, now}};
  order.shipping_address = input.shipping_address;
  order.from_cart = from_cart;
  order.expires_at_ms = now + order_ttl_ms_;
  order.created_at_ms = now;
  order.updated_at_ms = now;
  // The contact every event of the order carries (best effort: without it the order is still
  // placed, and notifications name the missing address as their failure).
  if (const auto customer = upstreams_->customer(user_id, context)) {
    order.customer = dump_json(*customer);
  }

  std::optional<FollowUp> cart_removal;
  db_.transact(TxKind::Write, [&](Tx& tx) {
    cart_removal.reset();
    store::insert_order(tx, order);
    enqueue(tx, {"expire", order.id, {}, {}}, order.expires_at_ms, "expire:" + order.id,
            kExpiryAttempts);
    if (from_cart) {
      Task task{"cart", order.id, user_id, lines};
      const auto id = enqueue(tx, task, now + kFallbackDelayMs);
      cart_removal = FollowUp{std::move(task), id};
    }
    if (on_change_) on_change_(tx, order, std::nullopt);
    in_commit(tx, order);
  });
  count(kOrdersPlacedMetric, "Orders placed, by outcome", "result", "placed");
  if (cart_removal) try_now(*cart_removal, context);
  return order;
}

void Orders::release_unordered(const std::string& order_id, const upstream::CallContext& context) {
  // Nothing was ordered: give the stock back now; if that fails too, the reservation's TTL does.
  try {
    upstreams_->release(order_id, context);
  } catch (const HttpError& e) {
    if (log_ != nullptr) {
      log_->warn("could not release the stock of an order that was not placed",
                 {{"orderId", order_id}, {"error", e.detail()}});
    }
  }
}

// ---- reads -----------------------------------------------------------------------------------

Order Orders::get(const std::string& order_id) {
  auto order = db_.with_tx(TxKind::Snapshot, [&](Tx& tx) { return store::find(tx, order_id); });
  if (!order) throw order_not_found();
  return std::move(*order);
}

store::OrderPage Orders::list(const store::ListFilter& filter, std::int64_t offset,
                              std::int64_t limit) {
  return db_.with_tx(TxKind::Snapshot,
                     [&](Tx& tx) { return store::list(tx, filter, offset, limit); });
}

// ---- status changes --------------------------------------------------------------------------

std::int64_t Orders::enqueue(Tx& tx, const Task& task, std::int64_t run_after_ms,
                             std::optional<std::string> dedupe_key, int max_attempts) {
  const auto id = queue_.enqueue(tx, task_json(task.kind, task.order_id, task.user_id, task.lines),
                                 {.max_attempts = max_attempts,
                                  .run_after_ms = run_after_ms,
                                  .dedupe_key = std::move(dedupe_key)});
  return id.value_or(0);
}

Orders::Changed Orders::apply(Tx& tx, const Order& order, Status to, store::StatusChange change) {
  if (!domain::can_transition(order.status, to)) throw domain::transition_refused(order.status, to);
  change.to = to;
  Changed out{store::change_status(tx, order, change), std::nullopt};
  if (on_change_) on_change_(tx, out.order, order.status);
  count(kTransitionsMetric, "Order status changes, by target status", "status",
        domain::status_name(to));
  const bool gives_back =
      (to == Status::Cancelled || to == Status::Expired) && domain::is_unpaid(order.status);
  const bool refunds = to == Status::Cancelled && order.status == Status::Paid;
  if (gives_back || refunds || to == Status::Paid) {
    const std::string kind = gives_back ? "release" : refunds ? "refund" : "commit";
    Task task{kind, order.id, {}, {}};
    const auto id = enqueue(tx, task, change.at_ms + kFallbackDelayMs, kind + ":" + order.id);
    out.follow_up = FollowUp{std::move(task), id};
  }
  return out;
}

Orders::Changed Orders::change(const std::string& order_id, const Decide& decide) {
  return db_.with_tx(TxKind::Write, [&](Tx& tx) {
    const auto order = store::find(tx, order_id);
    if (!order) throw order_not_found();
    return decide(tx, *order, clock_());
  });
}

Order Orders::cancel(const std::string& order_id, bool by_admin,
                     const upstream::CallContext& context,
                     const std::optional<std::string>& if_match) {
  const Changed changed = change(order_id, [&](Tx& tx, const Order& order, std::int64_t now) {
    require_match(order, if_match);
    if (order.status == Status::Paid) {
      if (!by_admin) {
        throw conflict("A paid order can only be cancelled by the shop, which refunds it",
                       "cancel_needs_refund");
      }
      if (!upstreams_->can_refund()) {
        throw conflict(
            "Cancelling a paid order needs a refund, and no refund path is configured: "
            "set PAYMENT_SERVICE_URLS (payment-service refunds it)",
            "refund_unavailable");
      }
    }
    return apply(tx, order, Status::Cancelled, {.at_ms = now, .drop_lease = true});
  });
  if (changed.follow_up) try_now(*changed.follow_up, context);
  return changed.order;
}

Order Orders::set_status(const std::string& order_id, Status to,
                         const upstream::CallContext& context,
                         const std::optional<std::string>& if_match) {
  if (to == Status::Cancelled) return cancel(order_id, true, context, if_match);
  if (to == Status::Paid) return mark_paid(order_id, {}, context, if_match);
  const Changed changed = change(order_id, [&](Tx& tx, const Order& order, std::int64_t now) {
    require_match(order, if_match);
    if (to == Status::Expired && domain::can_transition(order.status, to)) {
      throw conflict("An order becomes Expired only when its time to pay has passed",
                     "transition_not_allowed");
    }
    return apply(tx, order, to, {.at_ms = now});
  });
  if (changed.follow_up) try_now(*changed.follow_up, context);
  return changed.order;
}

// ---- payment-service -------------------------------------------------------------------------

Order Orders::take_lease(const std::string& order_id, const std::string& payment_id,
                         std::int64_t ttl_ms) {
  return change(
             order_id,
             [&](Tx& tx, const Order& found, std::int64_t now) {
               Order order = found;
               if (order.status == Status::Paid || order.status == Status::Shipped ||
                   order.status == Status::Delivered) {
                 throw not_payable(order, "Order is already paid", "already_paid");
               }
               if (!domain::is_unpaid(order.status)) {
                 throw not_payable(order,
                                   "Order is " + std::string(domain::status_name(order.status)) +
                                       " and cannot be paid",
                                   "order_not_payable");
               }
               const bool renewal = order.payment_lease_id == payment_id && order.lease_active(now);
               if (order.lease_active(now) && !renewal) {
                 HttpError error =
                     conflict("Another payment for this order is in flight", "payment_in_flight");
                 error.with_header("Retry-After",
                                   std::to_string((order.payment_lease_until_ms - now) / 1000 + 1));
                 throw error;
               }
               if (now >= order.expires_at_ms && !renewal) {
                 throw not_payable(order, "Order has expired", "order_expired");
               }
               if (order.status == Status::PaymentFailed) {
                 order = apply(tx, order, Status::Pending, {.at_ms = now}).order;
               }
               // A lease never reaches past the expiry by more than one maximal lease, so the
               // reservation (RESERVATION_TTL > ORDER_TTL + PAYMENT_LEASE_MAX) outlives every order
               // that may still pay.
               const std::int64_t until = std::min(now + std::min(ttl_ms, lease_max_ms_),
                                                   order.expires_at_ms + lease_max_ms_);
               return Changed{store::set_lease(tx, order, payment_id, until, now), std::nullopt};
             })
      .order;
}

Order Orders::drop_lease(const std::string& order_id, const std::string& payment_id) {
  return change(order_id,
                [&](Tx& tx, const Order& order, std::int64_t now) {
                  if (order.payment_lease_id != payment_id) return Changed{order, std::nullopt};
                  return Changed{store::set_lease(tx, order, std::nullopt, 0, now), std::nullopt};
                })
      .order;
}

Order Orders::mark_paid(const std::string& order_id, const std::string& payment_id,
                        const upstream::CallContext& context,
                        const std::optional<std::string>& if_match) {
  const Changed changed = change(order_id, [&](Tx& tx, const Order& found, std::int64_t now) {
    require_match(found, if_match);
    const bool paid = found.status == Status::Paid || found.status == Status::Shipped ||
                      found.status == Status::Delivered;
    if (paid && !payment_id.empty() && found.paid_payment_id == payment_id) {
      return Changed{found, std::nullopt};  // the same payment again: exactly once
    }
    if (paid) throw not_payable(found, "Order is already paid", "already_paid");
    if (!domain::is_unpaid(found.status)) {
      throw not_payable(
          found,
          "Order is " + std::string(domain::status_name(found.status)) + " and cannot be paid",
          "order_not_payable");
    }
    Order order = found;
    if (order.status == Status::PaymentFailed) {  // a later attempt succeeded
      order = apply(tx, order, Status::Pending, {.at_ms = now}).order;
    }
    store::StatusChange change{.at_ms = now, .drop_lease = true};
    if (!payment_id.empty()) change.paid_payment_id = payment_id;
    return apply(tx, order, Status::Paid, change);
  });
  if (changed.follow_up) try_now(*changed.follow_up, context);
  return changed.order;
}

void Orders::paid_by_event(Tx& tx, const std::string& order_id, const std::string& payment_id,
                           std::int64_t amount, const std::string& currency) {
  const auto found = store::find(tx, order_id);
  if (!found || !domain::is_unpaid(found->status)) return;  // paid already, or refused
  if (amount != found->total || currency != found->currency) {
    throw events::Poison("payment " + payment_id + " of " + std::to_string(amount) + " " +
                         currency + " does not match order " + order_id + " (" +
                         std::to_string(found->total) + " " + found->currency + ")");
  }
  const std::int64_t now = clock_();
  Order order = *found;
  if (order.status == Status::PaymentFailed) {
    order = apply(tx, order, Status::Pending, {.at_ms = now}).order;
  }
  apply(tx, order, Status::Paid, {.at_ms = now, .paid_payment_id = payment_id, .drop_lease = true});
}

Order Orders::mark_payment_failed(const std::string& order_id, const std::string& payment_id,
                                  const std::optional<std::string>& reason) {
  return change(order_id,
                [&](Tx& tx, const Order& order, std::int64_t now) {
                  if (order.status == Status::PaymentFailed) {
                    return Changed{order,
                                   std::nullopt};  // already recorded (this or an earlier attempt)
                  }
                  if (order.status != Status::Pending) {
                    throw domain::transition_refused(order.status, Status::PaymentFailed);
                  }
                  store::StatusChange change{.at_ms = now,
                                             .failed_payment_id = payment_id,
                                             .failure_reason = reason,
                                             .drop_lease = order.payment_lease_id == payment_id};
                  return apply(tx, order, Status::PaymentFailed, change);
                })
      .order;
}

// ---- tasks -----------------------------------------------------------------------------------

void Orders::try_now(const FollowUp& follow_up, const upstream::CallContext& context) {
  const auto outcome = queue::run_follow_up(db_, queue_, follow_up.item_id,
                                            [&] { return perform(follow_up.task, context); });
  if (outcome.kind != queue::Outcome::Kind::Done && log_ != nullptr) {
    log_->info("order follow-up left to the worker", {{"orderId", follow_up.task.order_id},
                                                      {"task", follow_up.task.kind},
                                                      {"error", outcome.error}});
  }
}

queue::Outcome Orders::perform(const Task& task, const upstream::CallContext& context) {
  try {
    if (task.kind == "release") {
      if (upstreams_->release(task.order_id, context) == upstream::Settled::Refused) {
        return queue::Outcome::fail("the reservation was already committed");
      }
      return queue::Outcome::done();
    }
    if (task.kind == "commit") {
      if (upstreams_->commit(task.order_id, context) == upstream::Settled::Refused) {
        if (log_ != nullptr) {
          log_->error("a paid order's reservation could not be committed",
                      {{"orderId", task.order_id}});
        }
        return queue::Outcome::fail("the reservation was released or expired before commit");
      }
      return queue::Outcome::done();
    }
    if (task.kind == "refund") {
      if (upstreams_->refund_order(task.order_id, context) == upstream::Settled::Refused) {
        if (log_ != nullptr) {
          log_->error("the provider refused the refund of a cancelled paid order",
                      {{"orderId", task.order_id}});
        }
        return queue::Outcome::fail("the provider refused the refund");
      }
      return queue::Outcome::done();
    }
    if (task.kind == "cart") {
      upstreams_->remove_from_cart(task.user_id, task.order_id, task.lines, context);
      return queue::Outcome::done();
    }
    if (task.kind == "expire") return expire(task.order_id);
  } catch (const HttpError& e) {
    return queue::Outcome::retry(e.detail());
  } catch (const db::Unavailable& e) {
    return queue::Outcome::retry(e.what());
  }
  return queue::Outcome::fail("unknown task " + task.kind);
}

queue::Outcome Orders::expire(const std::string& order_id) {
  std::optional<std::int64_t> wait_ms;
  const auto changed = db_.with_tx(TxKind::Write, [&](Tx& tx) -> std::optional<Changed> {
    wait_ms.reset();
    const auto order = store::find(tx, order_id);
    if (!order || !domain::is_unpaid(order->status)) return std::nullopt;
    const std::int64_t now = clock_();
    if (order->lease_active(now)) {
      wait_ms = order->payment_lease_until_ms - now;  // a payment is in flight
      return std::nullopt;
    }
    if (now < order->expires_at_ms) {
      wait_ms = order->expires_at_ms - now;
      return std::nullopt;
    }
    return apply(tx, *order, Status::Expired, {.at_ms = now, .drop_lease = true});
  });
  if (wait_ms) return queue::Outcome::retry("payment in flight or not yet due", *wait_ms);
  // The stock goes back now; the release task enqueued with the change is the fallback.
  if (changed && changed->follow_up) try_now(*changed->follow_up, {});
  return queue::Outcome::done();
}

queue::Outcome Orders::run_task(const queue::Item& item) {
  Task task;
  try {
    const Json payload = Json::parse(item.payload);
    task.kind = payload.at("task").get<std::string>();
    task.order_id = payload.at("orderId").get<std::string>();
    task.user_id = payload.value("userId", std::string());
    if (const auto items = payload.find("items"); items != payload.end()) {
      for (const Json& line : *items) {
        task.lines.push_back(
            {line.at("productId").get<std::string>(), line.at("quantity").get<std::int64_t>()});
      }
    }
  } catch (const std::exception& e) {
    return queue::Outcome::fail(std::string("malformed task: ") + e.what());
  }
  return perform(task, {});
}

void Orders::attach(App& app) {
  queue::WorkerOptions options;
  options.batch = 10;
  options.poll_interval_ms = worker_poll_ms_;
  options.backoff = {.base_ms = 1000, .cap_ms = 60'000};
  worker_ = std::make_shared<queue::Worker>(
      db_, kTaskQueue, options, [this](const queue::Item& item) { return run_task(item); },
      metrics_, log_, clock_);
  worker_->attach(app);
}

}  // namespace emporium::order
