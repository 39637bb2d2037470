// The payment use cases (DESIGN §12): pay an order through the provider exactly once, follow the
// provider's webhooks, refund. store/ runs the SQL, domain/ decides, provider/ charges,
// upstream/ tells order-service.
//
// Exactly once, under retries, races, redeliveries and crashes:
//   - one open payment per order (a unique index): a second request meanwhile is 409
//     `payment_in_flight`, and a new one after a crash or an unanswered provider call first
//     resolves the open one by asking the provider again with the same idempotency key;
//   - the provider's idempotency key is derived from the payment id, which an Idempotency-Key
//     claim keeps across a takeover, so a repeated charge is the provider's replay, not a charge;
//   - the outcome is applied once: only an open payment takes succeeded or failed, whether the
//     synchronous answer or the webhook comes first; the event id is recorded in the same
//     transaction as its effect;
//   - telling order-service (`Paid`, `PaymentFailed`) is a task of the `payment-tasks` queue
//     enqueued with the outcome, tried at once, retried by a worker when order-service is down;
//     an order that refuses a succeeded payment (expired, cancelled, paid by another) gets it
//     refunded automatically.
#pragma once

#include "config.hpp"
#include "domain/payment.hpp"
#include "provider/provider.hpp"
#include "upstream/orders_client.hpp"

#include <emporium/app/app.hpp>
#include <emporium/db/database.hpp>
#include <emporium/json/json.hpp>
#include <emporium/obs/log.hpp>
#include <emporium/obs/metrics.hpp>
#include <emporium/queue/work_queue.hpp>
#include <emporium/queue/worker.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace emporium::payment {

inline constexpr const char* kTaskQueue = "payment-tasks";
// Payments by outcome: succeeded, requires_action, declined, invalid, provider_error.
inline constexpr const char* kPaymentsMetric = "payments_total";

class Payments {
 public:
  using Clock = std::function<std::int64_t()>;

  // Status changes emit events through `events` (null: none), which this object keeps alive (the
  // routes hold it past app.run(), as Events::attach requires). Set before serving.
  void use_events(std::shared_ptr<events::Events> events) { events_ = std::move(events); }

  Payments(db::Database& db, std::shared_ptr<provider::Provider> provider,
           std::shared_ptr<upstream::OrdersClient> orders, const PaymentConfig& config,
           obs::Logger* log = nullptr, obs::Metrics* metrics = nullptr, Clock clock = {});

  struct Caller {
    std::string user_id;
    bool admin = false;
  };
  struct PayInput {
    std::string order_id;
    std::string payment_method;
    std::optional<std::int64_t> amount;  // the client's figure, only compared
  };
  using InCommit = std::function<void(db::Tx&, const domain::Payment&)>;

  // Charges the order's amount. Returns the payment `succeeded` (the order is told) or
  // `requires_action`; `in_commit` runs in the transaction that records that outcome. Throws:
  // 404 order, 403 not the owner, 409 amount_mismatch / already_paid / order_not_payable /
  // payment_in_flight, 402 declined (recorded as failed with the reason, the order told), 400 a
  // payment method the provider does not know, 502/504 the provider did not answer (the payment
  // stays open; the next attempt resolves it first).
  domain::Payment pay(const Caller& caller, const std::string& payment_id, const PayInput& input,
                      const upstream::CallContext& context, const InCommit& in_commit);

  // 404 `Payment not found`.
  domain::Payment get(const std::string& payment_id);
  std::vector<domain::Refund> refunds_of(const std::string& payment_id);
  // The order's payments, oldest first; 404 when order-service does not know the order, 403
  // when it is not the caller's.
  std::vector<domain::Payment> for_order(const Caller& caller, const std::string& order_id,
                                         const upstream::CallContext& context);

  // A verified provider event (Stripe Event JSON). Redelivered ids change nothing.
  void handle_event(const Json& event);

  // Refunds `amount` (default: what is left) of a succeeded payment, at most what is left: 409
  // refund_exceeds_charge. `refund_id` is stable across a retry's takeover. 502 when the provider
  // did not answer (the refund stays pending; a worker finishes it).
  using InRefundCommit = std::function<void(db::Tx&, const domain::Refund&)>;
  domain::Refund refund(const std::string& payment_id, std::optional<std::int64_t> amount,
                        const std::string& refund_id, const InRefundCommit& in_commit);

  // order-service cancelling a paid order: refunds what is left of the order's successful
  // payment, once per order (the refund id is derived from the order id, so a repeat replays).
  // nullopt when the order has no successful payment (paid offline: nothing to refund here).
  std::optional<domain::Refund> refund_order(const std::string& order_id);

  void attach(App& app);
  queue::Outcome run_task(const queue::Item& item);

 private:
  struct Task {
    std::string kind;  // settle, failed, unlease, refund
    std::string id;    // payment id (refund id for `refund`)
    std::int64_t item_id = 0;
  };

  domain::Payment charge(domain::Payment payment, const upstream::CallContext& context,
                         const InCommit& in_commit, bool fresh);
  // Records `result` for an open payment (no-op when it is final already); returns the payment
  // as it now is and the follow-up task, if any.
  std::pair<domain::Payment, std::optional<Task>> apply(const std::string& payment_id,
                                                        const provider::ChargeResult& result,
                                                        const InCommit& in_commit);
  std::int64_t enqueue(db::Tx& tx, const std::string& kind, const std::string& id);
  void try_now(const std::optional<Task>& task);
  queue::Outcome perform(const std::string& kind, const std::string& id);
  queue::Outcome settle(const std::string& payment_id);
  queue::Outcome report_failure(const std::string& payment_id);
  queue::Outcome finish_refund(const std::string& refund_id);
  void count(std::string_view result);
  // store::update, plus the payment's event when its status changed to succeeded or failed
  // (payment.succeeded, payment.failed; docs/events.md), in the same transaction. Returns
  // store::update's answer.
  bool save(db::Tx& tx, domain::Payment& payment, std::int64_t now);
  // payment.refunded for `refund`, which the provider confirmed (in the transaction recording it).
  void refunded(db::Tx& tx, const domain::Payment& payment, const domain::Refund& refund);

  db::Database& db_;
  std::shared_ptr<provider::Provider> provider_;
  std::shared_ptr<upstream::OrdersClient> orders_;
  std::int64_t lease_ttl_s_;
  int worker_poll_ms_;
  obs::Logger* log_;
  obs::Metrics* metrics_;
  Clock clock_;
  queue::WorkQueue queue_;
  std::shared_ptr<events::Events> events_;
  std::shared_ptr<queue::Worker> worker_;
};

}  // namespace emporium::payment
