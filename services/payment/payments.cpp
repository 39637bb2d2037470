#include "payments.hpp"

#include "store/payment_store.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/external_client.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

#include <algorithm>
#include <utility>

namespace emporium::payment {
namespace {

using db::Tx;
using db::TxKind;
using domain::Payment;
using domain::Refund;
using domain::Status;

// An open payment nobody has touched for this long belongs to a request that died: a new
// attempt for the order resolves it instead of waiting (longer than a charge with its retries).
constexpr std::int64_t kStaleOpenMs = 90'000;
// failure_code of an open payment whose provider call got no answer: a new attempt resolves it.
constexpr const char* kProviderUnreachable = "provider_unreachable";

HttpError payment_not_found() {
  return not_found("Payment not found");
}

std::string charge_key(const std::string& payment_id) {
  return "emporium:payment:" + payment_id;
}
std::string refund_key(const std::string& refund_id) {
  return "emporium:refund:" + refund_id;
}

HttpError refused_by_order(const upstream::Refusal& refusal) {
  const std::string code = refusal.code.empty() ? "order_not_payable" : refusal.code;
  HttpError error =
      conflict(refusal.detail.empty() ? "The order cannot be paid" : refusal.detail, code);
  if (!refusal.status.empty()) error.with_extra("orderStatus", refusal.status);
  if (!refusal.retry_after.empty()) error.with_header("Retry-After", refusal.retry_after);
  return error;
}

std::string member(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Payments::Payments(db::Database& db, std::shared_ptr<provider::Provider> provider,
                   std::shared_ptr<upstream::OrdersClient> orders, const PaymentConfig& config,
                   obs::Logger* log, obs::Metrics* metrics, Clock clock)
    : db_(db),
      provider_(std::move(provider)),
      orders_(std::move(orders)),
      lease_ttl_s_(config.lease_ttl_s),
      worker_poll_ms_(config.worker_poll_ms),
      log_(log),
      metrics_(metrics),
      clock_(clock ? std::move(clock) : Clock(&now_ms)),
      queue_(kTaskQueue, db.backend(), clock_) {}

void Payments::count(std::string_view result) {
  if (metrics_ != nullptr) {
    metrics_->increment(kPaymentsMetric, "Payment attempts by outcome", "result",
                        std::string(result));
  }
}

namespace {

// What every payment event carries (docs/events.md).
Json event_data(const Payment& payment) {
  Json snapshot = payment.order_snapshot ? Json::parse(*payment.order_snapshot) : Json::object();
  return Json{{"paymentId", payment.id},
              {"orderId", payment.order_id},
              {"userId", payment.user_id},
              {"amount", payment.amount},
              {"currency", payment.currency},
              {"status", std::string(domain::status_name(payment.status))},
              {"order", snapshot.value("order", Json(nullptr))},
              {"customer", snapshot.value("customer", Json(nullptr))}};
}

}  // namespace

bool Payments::save(Tx& tx, Payment& payment, std::int64_t now) {
  if (events_ == nullptr || !events_->enabled()) return store::update(tx, payment, now);
  const auto before = store::find(tx, payment.id);
  const bool saved = store::update(tx, payment, now);
  // Only the end of an attempt is news: a refund given back (Refunded → Succeeded) is not a second
  // success.
  if (!saved || !before || !domain::is_open(before->status)) return saved;
  if (payment.status == Status::Succeeded) {
    events_->emit(tx, "payment.succeeded", event_data(payment));
  } else if (payment.status == Status::Failed) {
    Json out = event_data(payment);
    out["failureCode"] = payment.failure_code ? Json(*payment.failure_code) : Json(nullptr);
    out["failureMessage"] = payment.failure_reason ? Json(*payment.failure_reason) : Json(nullptr);
    events_->emit(tx, "payment.failed", std::move(out));
  }
  return saved;
}

void Payments::refunded(Tx& tx, const Payment& payment, const Refund& refund) {
  if (events_ == nullptr) return;
  Json out = event_data(payment);
  out["refundId"] = refund.id;
  out["refundedAmount"] = refund.amount;
  out["totalRefunded"] = payment.refunded;
  events_->emit(tx, "payment.refunded", std::move(out));
}

// ---- paying ----------------------------------------------------------------------------------

Payment Payments::pay(const Caller& caller, const std::string& payment_id, const PayInput& input,
                      const upstream::CallContext& context, const InCommit& in_commit) {
  const auto order = orders_->get(input.order_id, context);
  if (!order) throw not_found("Order not found");
  if (!caller.admin && order->user_id != caller.user_id) {
    throw forbidden("You can only pay for your own orders");
  }
  if (input.amount && *input.amount != order->amount) {
    HttpError error =
        conflict("amount " + std::to_string(*input.amount) + " does not match the order's amount " +
                     std::to_string(order->amount) + " (minor units)",
                 "amount_mismatch");
    error.with_extra("amount", order->amount);
    error.with_extra("clientAmount", *input.amount);
    throw error;
  }

  // One snapshot for what decides the attempt: this payment (a retry that took over this key's
  // claim continues it), the order's success and its open payment.
  struct Found {
    std::optional<Payment> existing, success, open;
  };
  const Found found = db_.with_tx(TxKind::Snapshot, [&](Tx& tx) {
    return Found{store::find(tx, payment_id), store::find_success(tx, input.order_id),
                 store::find_open(tx, input.order_id)};
  });
  if (const auto& existing = found.existing) {
    if (domain::is_open(existing->status)) return charge(*existing, context, in_commit, false);
    if (existing->status == Status::Failed) {
      throw HttpError(402, existing->failure_code.value_or("card_declined"),
                      "The payment was declined: " + existing->failure_reason.value_or("declined"));
    }
    db_.transact(TxKind::Write, [&](Tx& tx) { in_commit(tx, *existing); });
    return *existing;
  }
  const auto& success = found.success;
  const auto& open = found.open;
  if (success || order->status == "Paid" || order->status == "Shipped" ||
      order->status == "Delivered") {
    HttpError error = conflict("Order is already paid", "already_paid");
    error.with_extra("orderStatus", order->status);
    throw error;
  }
  if (open) {
    const bool stale =
        open->failure_code == kProviderUnreachable || clock_() - open->updated_at_ms > kStaleOpenMs;
    if (!stale) {
      HttpError error = conflict("A payment for this order is in flight", "payment_in_flight");
      error.with_header("Retry-After", "1");
      throw error;
    }
    // Resolve the earlier attempt with its own parameters and key: the provider replays what it
    // did, or does it now. Success pays the order; any other end lets this attempt go on.
    const Payment resolved = charge(
        *open, context, [](Tx&, const Payment&) {}, false);
    if (resolved.status == Status::Succeeded || resolved.status == Status::RequiresAction) {
      db_.transact(TxKind::Write, [&](Tx& tx) { in_commit(tx, resolved); });
      return resolved;
    }
  }
  if (order->status != "Pending" && order->status != "PaymentFailed") {
    HttpError error =
        conflict("Order is " + order->status + " and cannot be paid", "order_not_payable");
    error.with_extra("orderStatus", order->status);
    throw error;
  }

  Payment payment;
  payment.id = payment_id;
  payment.order_id = order->id;
  payment.user_id = order->user_id;
  payment.amount = order->amount;
  payment.currency = order->currency;
  payment.status = Status::Processing;
  payment.payment_method = input.payment_method;
  payment.order_snapshot = dump_json(order->snapshot);
  payment.created_at_ms = clock_();
  payment.updated_at_ms = payment.created_at_ms;
  try {
    db_.transact(TxKind::Write, [&](Tx& tx) { store::insert_payment(tx, payment); });
  } catch (const db::UniqueViolation&) {
    HttpError error = conflict("A payment for this order is in flight", "payment_in_flight");
    error.with_header("Retry-After", "1");
    throw error;
  }
  return charge(payment, context, in_commit, true);
}

Payment Payments::charge(Payment payment, const upstream::CallContext& context,
                         const InCommit& in_commit, bool fresh) {
  if (fresh || payment.status == Status::Processing) {
    // The order must not expire while the provider works: payment-service's lease.
    if (const auto refusal =
            orders_->take_lease(payment.order_id, payment.id, lease_ttl_s_, context)) {
      if (fresh) {
        // This request's own attempt, refused before any charge (another payment holds the
        // order, or it was paid, expired or cancelled meanwhile): it never happened. Left
        // `processing`, it would stay open for good and block the order's next attempt.
        db_.transact(TxKind::Write, [&](Tx& tx) { store::delete_unattempted(tx, payment.id); });
        throw refused_by_order(*refusal);
      }
      if (refusal->code == "payment_in_flight") throw refused_by_order(*refusal);
      // No payment.failed: the card was never tried, and the customer reads the order's refusal
      // (already paid, expired, cancelled) in the answer.
      db_.transact(TxKind::Write, [&](Tx& tx) {
        auto current = store::find(tx, payment.id);
        if (!current || !domain::is_open(current->status)) return;
        current->status = Status::Failed;
        current->failure_code = refusal->code;
        current->failure_reason = refusal->detail;
        store::update(tx, *current, clock_());
      });
      throw refused_by_order(*refusal);
    }
  }
  provider::ChargeResult result;
  try {
    result = provider_->charge({payment.id, payment.order_id, payment.amount, payment.currency,
                                payment.payment_method, charge_key(payment.id)});
  } catch (const http::ProviderError& e) {
    count("provider_error");
    // The outcome is unknown: the payment stays open, marked so the next attempt resolves it.
    db_.transact(TxKind::Write, [&](Tx& tx) {
      auto current = store::find(tx, payment.id);
      if (!current || !domain::is_open(current->status)) return;
      current->failure_code = kProviderUnreachable;
      current->failure_reason = e.detail();
      save(tx, *current, clock_());
    });
    try {
      orders_->drop_lease(payment.order_id, payment.id, context);
    } catch (const HttpError&) {
      // The lease ends by itself.
    }
    throw;
  }
  auto [applied, task] = apply(payment.id, result, in_commit);
  try_now(task);
  if (applied.status == Status::Failed) {
    const bool invalid = result.kind == provider::ChargeResult::Kind::Invalid;
    HttpError error = invalid ? bad_request("paymentMethodId: " + result.failure_reason,
                                            {{"paymentMethodId", result.failure_reason}})
                              : HttpError(402, result.failure_code,
                                          "The payment was declined: " + result.failure_reason);
    error.with_extra("paymentId", applied.id);
    error.with_extra("declineCode", result.failure_reason);
    throw error;
  }
  return applied;
}

std::pair<Payment, std::optional<Payments::Task>> Payments::apply(
    const std::string& payment_id, const provider::ChargeResult& result,
    const InCommit& in_commit) {
  using Kind = provider::ChargeResult::Kind;
  std::optional<Task> task;
  Payment out = db_.with_tx(TxKind::Write, [&](Tx& tx) {
    task.reset();
    auto p = store::find(tx, payment_id);
    if (!p) throw payment_not_found();
    if (domain::is_open(p->status)) {
      if (result.provider_payment_id) p->provider_payment_id = result.provider_payment_id;
      const std::int64_t now = clock_();
      switch (result.kind) {
        case Kind::Succeeded:
          p->status = Status::Succeeded;
          p->paid_at_ms = now;
          p->failure_code.reset();
          p->failure_reason.reset();
          p->client_secret.reset();
          task = Task{"settle", p->id, enqueue(tx, "settle", p->id)};
          break;
        case Kind::RequiresAction:
          p->status = Status::RequiresAction;
          p->client_secret = result.client_secret;
          p->failure_code.reset();
          p->failure_reason.reset();
          break;
        case Kind::Declined:
        case Kind::Invalid: {
          p->status = Status::Failed;
          p->failure_code = result.failure_code;
          p->failure_reason = result.failure_reason;
          // A decline is the order's PaymentFailed; a payment method the provider does not know
          // is the request's mistake: the order only gets its lease back.
          const std::string kind = result.kind == Kind::Declined ? "failed" : "unlease";
          task = Task{kind, p->id, enqueue(tx, kind, p->id)};
          break;
        }
      }
      save(tx, *p, now);
    }
    if (p->status != Status::Failed) in_commit(tx, *p);
    return std::move(*p);
  });
  count(out.status == Status::Failed ? (result.kind == Kind::Invalid ? "invalid" : "declined")
                                     : domain::status_name(out.status));
  return {std::move(out), std::move(task)};
}

// ---- reads -----------------------------------------------------------------------------------

Payment Payments::get(const std::string& payment_id) {
  auto p = db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find(tx, payment_id); });
  if (!p) throw payment_not_found();
  return std::move(*p);
}

std::vector<Refund> Payments::refunds_of(const std::string& payment_id) {
  return db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::list_refunds(tx, payment_id); });
}

std::vector<Payment> Payments::for_order(const Caller& caller, const std::string& order_id,
                                         const upstream::CallContext& context) {
  const auto order = orders_->get(order_id, context);
  if (!order) throw not_found("Order not found");
  if (!caller.admin && order->user_id != caller.user_id) {
    throw forbidden("You can only read the payments of your own orders");
  }
  return db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::list_for_order(tx, order_id); });
}

// ---- webhooks --------------------------------------------------------------------------------

void Payments::handle_event(const Json& event) {
  const std::string event_id = member(event, "id");
  const std::string type = member(event, "type");
  if (event_id.empty() || type.empty()) throw bad_request("The event has no id or type");
  const Json object = event.contains("data") && event["data"].is_object()
                          ? event["data"].value("object", Json::object())
                          : Json::object();
  if (!object.is_object()) throw bad_request("The event's data.object must be an object");
  std::optional<Task> task;
  db_.transact(TxKind::Write, [&](Tx& tx) {
    task.reset();
    if (!store::record_event(tx, event_id, type, clock_())) return;  // a redelivery
    std::string intent_id = member(object, "id");
    if (type.rfind("charge.", 0) == 0) intent_id = member(object, "payment_intent");
    std::optional<Payment> p;
    if (!intent_id.empty()) p = store::find_by_provider_id(tx, intent_id);
    if (!p && object.contains("metadata")) {
      const std::string payment_id = member(object["metadata"], "paymentId");
      if (!payment_id.empty()) p = store::find(tx, payment_id);
    }
    if (!p) return;  // not ours (another integration on the same account)
    const std::int64_t now = clock_();
    if (type == "payment_intent.succeeded" && domain::accepts_outcome(p->status)) {
      p->status = Status::Succeeded;
      p->provider_payment_id = intent_id;
      p->paid_at_ms = now;
      p->client_secret.reset();
      p->failure_code.reset();
      p->failure_reason.reset();
      task = Task{"settle", p->id, enqueue(tx, "settle", p->id)};
      save(tx, *p, now);
    } else if (type == "payment_intent.payment_failed" && domain::accepts_outcome(p->status)) {
      const Json error = object.value("last_payment_error", Json::object());
      p->status = Status::Failed;
      p->provider_payment_id = intent_id;
      p->failure_code = member(error, "code").empty() ? "payment_failed" : member(error, "code");
      const std::string decline = member(error, "decline_code");
      p->failure_reason = decline.empty() ? member(error, "message") : decline;
      task = Task{"failed", p->id, enqueue(tx, "failed", p->id)};
      save(tx, *p, now);
    } else if (type == "charge.refunded") {
      const auto refunded = object.find("amount_refunded");
      if (refunded != object.end() && refunded->is_number_integer()) {
        const std::int64_t total = std::min(p->amount, refunded->get<std::int64_t>());
        if (total > p->refunded) {
          const std::int64_t added = total - p->refunded;
          p->refunded = total;  // refunds made outside the API (the dashboard)
          if (p->refunded == p->amount && p->status == Status::Succeeded) {
            p->status = Status::Refunded;
          }
          save(tx, *p, now);
          this->refunded(
              tx, *p,
              Refund{"external-" + p->id + "-" + std::to_string(total), p->id, added, "succeeded",
                     std::nullopt, std::string("refunded at the provider"), now});
        }
      }
    }
  });
  try_now(task);
}

// ---- refunds ---------------------------------------------------------------------------------

Refund Payments::refund(const std::string& payment_id, std::optional<std::int64_t> amount,
                        const std::string& refund_id, const InRefundCommit& in_commit) {
  // Reserve the amount on the payment first, so concurrent refunds can never exceed the charge.
  const auto [reserved, provider_id] = db_.with_tx(TxKind::Write, [&](Tx& tx) {
    auto p = store::find(tx, payment_id);
    if (!p) throw payment_not_found();
    if (auto existing = store::find_refund(tx, refund_id)) {  // a takeover continues it
      return std::make_pair(*existing, p->provider_payment_id.value_or(""));
    }
    const std::int64_t left = domain::refundable(*p);
    const std::int64_t wanted = amount.value_or(left);
    if (left == 0 || wanted > left) {
      HttpError error = conflict(
          "A refund of " + std::to_string(wanted) +
              " exceeds what is left of the charge: " + std::to_string(left) + " (minor units)",
          "refund_exceeds_charge");
      error.with_extra("refundable", left);
      throw error;
    }
    const std::int64_t now = clock_();
    Refund r{refund_id, p->id, wanted, "pending", std::nullopt, std::nullopt, now};
    store::insert_refund(tx, r);
    p->refunded += wanted;
    if (p->refunded == p->amount) p->status = Status::Refunded;
    save(tx, *p, now);
    return std::make_pair(r, p->provider_payment_id.value_or(""));
  });
  if (reserved.status == "failed") {
    throw conflict("The provider refused the refund: " + reserved.reason.value_or("refused"),
                   "refund_refused");
  }
  if (reserved.status != "pending") {
    db_.transact(TxKind::Write, [&](Tx& tx) { in_commit(tx, reserved); });
    return reserved;
  }
  provider::RefundResult result;
  try {
    result = provider_->refund(provider_id, reserved.amount, refund_key(reserved.id));
  } catch (const http::ProviderError&) {
    // Pending: a worker asks again with the same key until the provider answers.
    db_.transact(TxKind::Write, [&](Tx& tx) { enqueue(tx, "refund", reserved.id); });
    throw;
  }
  // The provider's answer is recorded either way; a refusal gives the reserved amount back and
  // is answered 409 after the commit (thrown inside, it would roll the record back).
  Refund done = db_.with_tx(TxKind::Write, [&](Tx& tx) {
    auto r = *store::find_refund(tx, reserved.id);
    auto p = *store::find(tx, payment_id);
    const std::int64_t now = clock_();
    if (r.status != "pending") return r;  // a concurrent call with this id recorded it first
    if (result.succeeded) {
      r.status = "succeeded";
      r.provider_refund_id = result.provider_refund_id;
      store::update_refund(tx, r, now);
      refunded(tx, p, r);
      in_commit(tx, r);
      return r;
    }
    r.status = "failed";
    r.reason = result.failure_reason;
    store::update_refund(tx, r, now);
    p.refunded -= r.amount;
    if (p.status == Status::Refunded) p.status = Status::Succeeded;
    save(tx, p, now);
    return r;
  });
  if (done.status == "failed") {
    throw conflict("The provider refused the refund: " + result.failure_reason, "refund_refused");
  }
  return done;
}

std::optional<Refund> Payments::refund_order(const std::string& order_id) {
  const auto paid =
      db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_success(tx, order_id); });
  if (!paid) return std::nullopt;
  const std::string refund_id = "cancel-" + order_id;
  const auto existing =
      db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_refund(tx, refund_id); });
  if (!existing && domain::refundable(*paid) == 0) {
    return Refund{refund_id, paid->id, 0, "succeeded", std::nullopt, "nothing left", clock_()};
  }
  return refund(paid->id, std::nullopt, refund_id, [](Tx&, const Refund&) {});
}

// ---- tasks -----------------------------------------------------------------------------------

std::int64_t Payments::enqueue(Tx& tx, const std::string& kind, const std::string& id) {
  const auto item = queue_.enqueue(
      tx, dump_json(Json{{"task", kind}, {"id", id}}),
      {.max_attempts = 50, .run_after_ms = clock_() + 15'000, .dedupe_key = kind + ":" + id});
  return item.value_or(0);
}

void Payments::try_now(const std::optional<Task>& task) {
  if (!task) return;
  const auto outcome = queue::run_follow_up(db_, queue_, task->item_id,
                                            [&] { return perform(task->kind, task->id); });
  if (outcome.kind != queue::Outcome::Kind::Done && log_ != nullptr) {
    log_->info("payment follow-up left to the worker",
               {{"task", task->kind}, {"id", task->id}, {"error", outcome.error}});
  }
}

queue::Outcome Payments::perform(const std::string& kind, const std::string& id) {
  try {
    if (kind == "settle") return settle(id);
    if (kind == "failed") return report_failure(id);
    if (kind == "unlease") {
      auto p = db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find(tx, id); });
      if (p) orders_->drop_lease(p->order_id, p->id, {});
      return queue::Outcome::done();
    }
    if (kind == "refund") return finish_refund(id);
  } catch (const HttpError& e) {
    return queue::Outcome::retry(e.detail());
  } catch (const db::Unavailable& e) {
    return queue::Outcome::retry(e.what());
  }
  return queue::Outcome::fail("unknown task " + kind);
}

queue::Outcome Payments::settle(const std::string& payment_id) {
  auto p = db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find(tx, payment_id); });
  if (!p || p->order_settled) return queue::Outcome::done();
  const auto refusal = orders_->mark_paid(p->order_id, p->id, {});
  std::optional<std::string> refund_reason;
  if (refusal) {
    // The order cannot take this money (expired, cancelled, paid by another payment): give it
    // back, with a key of its own so that a repeat refunds once.
    refund_reason = "order " + (refusal->status.empty() ? refusal->code : refusal->status);
    const std::int64_t left = domain::refundable(*p);
    if (left > 0 && p->provider_payment_id) {
      const auto result =
          provider_->refund(*p->provider_payment_id, left, "emporium:auto-refund:" + p->id);
      if (!result.succeeded && result.failure_reason != "charge_already_refunded") {
        return queue::Outcome::retry("automatic refund refused: " + result.failure_reason);
      }
      db_.transact(TxKind::Write, [&](Tx& tx) {
        auto current = *store::find(tx, payment_id);
        const std::int64_t now = clock_();
        const std::int64_t still = domain::refundable(current);
        std::optional<Refund> made;
        if (still > 0) {
          made = Refund{"auto-" + current.id,      current.id,    still, "succeeded",
                        result.provider_refund_id, refund_reason, now};
          store::insert_refund(tx, *made);
          current.refunded += still;
        }
        current.status = Status::Refunded;
        current.order_settled = true;
        save(tx, current, now);
        if (made) refunded(tx, current, *made);
      });
      if (log_ != nullptr) {
        log_->warn("a payment the order refused was refunded",
                   {{"paymentId", p->id}, {"orderId", p->order_id}, {"reason", *refund_reason}});
      }
      return queue::Outcome::done();
    }
  }
  db_.transact(TxKind::Write, [&](Tx& tx) {
    auto current = *store::find(tx, payment_id);
    current.order_settled = true;
    save(tx, current, clock_());
  });
  return queue::Outcome::done();
}

queue::Outcome Payments::report_failure(const std::string& payment_id) {
  auto p = db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find(tx, payment_id); });
  if (!p) return queue::Outcome::done();
  orders_->mark_failed(p->order_id, p->id, p->failure_reason.value_or("declined"), {});
  orders_->drop_lease(p->order_id, p->id, {});
  return queue::Outcome::done();
}

queue::Outcome Payments::finish_refund(const std::string& refund_id) {
  auto found = db_.with_tx(TxKind::Read, [&](Tx& tx) -> std::optional<std::pair<Refund, Payment>> {
    auto r = store::find_refund(tx, refund_id);
    if (!r || r->status != "pending") return std::nullopt;
    return std::make_pair(*r, *store::find(tx, r->payment_id));
  });
  if (!found) return queue::Outcome::done();
  const auto& [r, p] = *found;
  const auto result =
      provider_->refund(p.provider_payment_id.value_or(""), r.amount, refund_key(r.id));
  db_.transact(TxKind::Write, [&](Tx& tx) {
    auto refund = *store::find_refund(tx, refund_id);
    if (refund.status != "pending") return;
    const std::int64_t now = clock_();
    refund.status = result.succeeded ? "succeeded" : "failed";
    refund.provider_refund_id = result.provider_refund_id;
    store::update_refund(tx, refund, now);
    auto payment = *store::find(tx, refund.payment_id);
    if (result.succeeded) {
      refunded(tx, payment, refund);
    } else {
      payment.refunded -= refund.amount;
      if (payment.status == Status::Refunded) payment.status = Status::Succeeded;
      save(tx, payment, now);
    }
  });
  return queue::Outcome::done();
}

queue::Outcome Payments::run_task(const queue::Item& item) {
  try {
    const Json payload = Json::parse(item.payload);
    return perform(payload.at("task").get<std::string>(), payload.at("id").get<std::string>());
  } catch (const std::exception& e) {
    return queue::Outcome::fail(std::string("malformed task: ") + e.what());
  }
}

void Payments::attach(App& app) {
  queue::WorkerOptions options;
  options.batch = 10;
  options.poll_interval_ms = worker_poll_ms_;
  options.backoff = {.base_ms = 1000, .cap_ms = 60'000};
  // Kept by this object: the worker's threads use it until the App stops them.
  worker_ = std::make_shared<queue::Worker>(
      db_, kTaskQueue, options, [this](const queue::Item& item) { return run_task(item); },
      metrics_, log_, clock_);
  worker_->attach(app);
}

}  // namespace emporium::payment
