// The order use cases (DESIGN §12). Each opens the transactions it needs; store/ runs the SQL,
// domain/ decides what may happen, upstream/ calls product-service and shopping-cart-service.
//
// Work that must happen after a commit (a reservation released or committed, ordered quantities
// taken off the cart, an unpaid order expired) is enqueued as a task of the `order-tasks` queue
// (core/queue) in the transaction that makes it necessary, then tried at once; when that works the
// task is discarded, otherwise an instance's worker runs it later with back-off. Every task is
// idempotent downstream (the reservation id is the order id; the cart removes once per order), so
// a task run twice changes nothing the second time.
#pragma once

#include "config.hpp"
#include "domain/order.hpp"
#include "store/order_store.hpp"
#include "upstream/upstreams.hpp"

#include <emporium/app/app.hpp>
#include <emporium/db/database.hpp>
#include <emporium/json/item_lines.hpp>
#include <emporium/money/currency.hpp>
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

namespace emporium::order {

inline constexpr const char* kTaskQueue = "order-tasks";
// Orders by outcome of placing: placed, short, total_mismatch, failed.
inline constexpr const char* kOrdersPlacedMetric = "orders_place_total";
// Status changes by target status.
inline constexpr const char* kTransitionsMetric = "orders_transitions_total";

class Orders {
 public:
  using Clock = std::function<std::int64_t()>;

  // `log` and `metrics` may be null (tests); `clock` defaults to now_ms.
  Orders(db::Database& db, std::shared_ptr<upstream::Upstreams> upstreams,
         const OrderConfig& config, obs::Logger* log = nullptr, obs::Metrics* metrics = nullptr,
         Clock clock = {});

  struct PlaceInput {
    std::optional<std::vector<ItemLine>> items;   // nullopt: the user's cart
    std::optional<std::int64_t> total;            // the client's figure, only compared
    std::optional<std::string> shipping_address;  // JSON text
  };
  // Runs in the transaction that inserts the order (the idempotency key's answer is stored there).
  using InCommit = std::function<void(db::Tx&, const domain::Order&)>;

  // Holds the stock (one reservation whose id is `order_id`), prices the lines as held, compares
  // the client's total, then inserts the order `Pending` with its expiry; takes the ordered
  // quantities off the cart when the order came from it. 400 empty cart; 409 `out_of_stock` with
  // `shortLines`, `total_mismatch`; 503 when a service it needs cannot answer.
  domain::Order place(const std::string& user_id, const std::string& order_id,
                      const PlaceInput& input, const upstream::CallContext& context,
                      const InCommit& in_commit);

  // 404 `Order not found`.
  domain::Order get(const std::string& order_id);
  store::OrderPage list(const store::ListFilter& filter, std::int64_t offset, std::int64_t limit);

  // Cancels: an owner while the order is unpaid (the held stock goes back); an admin also when it
  // is Paid: payment-service refunds it (a follow-up task; 409 naming the missing refund path
  // when PAYMENT_SERVICE_URLS is unset). The stock of a paid order was committed: it is not put
  // back on sale by the cancel (an admin adjusts stock when the goods return).
  // `if_match`: the client's If-Match header (412 unless it names the current ETag, or is `*`).
  domain::Order cancel(const std::string& order_id, bool by_admin,
                       const upstream::CallContext& context,
                       const std::optional<std::string>& if_match = std::nullopt);
  // An admin's status change along the table; `Expired` only comes from the expiry. 409 when the
  // table refuses.
  domain::Order set_status(const std::string& order_id, domain::Status to,
                           const upstream::CallContext& context,
                           const std::optional<std::string>& if_match = std::nullopt);

  // ---- payment-service (internal routes) ----
  // Takes (or renews) the payment lease for `payment_id` for `ttl_ms` (capped by
  // PAYMENT_LEASE_MAX): the order will not expire while it lasts. A PaymentFailed order goes back
  // to Pending (a new attempt). 409 `order_not_payable` (paid, cancelled, expired, or past its
  // expiry), `payment_in_flight` (another payment holds the lease; Retry-After).
  domain::Order take_lease(const std::string& order_id, const std::string& payment_id,
                           std::int64_t ttl_ms);
  // Drops the lease when `payment_id` holds it; otherwise nothing.
  domain::Order drop_lease(const std::string& order_id, const std::string& payment_id);
  // Paid by `payment_id`, exactly once: the same payment again answers the order as it is;
  // another payment of a paid order, or a payment of a cancelled or expired order, is 409 (the
  // payer refunds). The held stock is committed. An empty payment id: an admin recording an
  // offline payment.
  domain::Order mark_paid(const std::string& order_id, const std::string& payment_id,
                          const upstream::CallContext& context,
                          const std::optional<std::string>& if_match = std::nullopt);
  // The same as mark_paid for a `payment.succeeded` event, in the consumer's transaction (DESIGN
  // §12: Paid is driven by the synchronous call and by the event, whichever comes first; the other
  // finds it done). An order that cannot take the payment is left as it is: payment-service's
  // settle task meets the same refusal and refunds. The stock commit is left to the task worker.
  // A payment of another amount or currency than the order's is refused (events::Poison: it goes
  // to the dead letters for an admin to see).
  void paid_by_event(db::Tx& tx, const std::string& order_id, const std::string& payment_id,
                     std::int64_t amount, const std::string& currency);
  domain::Order mark_payment_failed(const std::string& order_id, const std::string& payment_id,
                                    const std::optional<std::string>& reason);

  // Called in the transaction of every placed order (`from` nullopt: `order.placed`) and of every
  // status change (`order.status_changed` from `from`), with the order as it now is: the events'
  // outbox (order_service.cpp). Set before serving.
  using OnChange =
      std::function<void(db::Tx&, const domain::Order&, std::optional<domain::Status>)>;
  void on_change(OnChange hook) { on_change_ = std::move(hook); }

  // Creates the task worker and runs it on the App's background threads.
  void attach(App& app);
  // One task (the worker's handler; tests call it directly).
  queue::Outcome run_task(const queue::Item& item);

 private:
  struct Task {
    std::string kind;  // expire, release, commit, cart, refund
    std::string order_id;
    std::string user_id;          // cart
    std::vector<ItemLine> lines;  // cart
  };
  struct FollowUp {
    Task task;
    std::int64_t item_id = 0;
  };
  struct Changed {
    domain::Order order;
    std::optional<FollowUp> follow_up;
  };
  using Decide = std::function<Changed(db::Tx&, const domain::Order&, std::int64_t now)>;

  Changed change(const std::string& order_id, const Decide& decide);
  // Moves `order` to `to` in `tx` (the table checked), with the follow-up the target needs.
  Changed apply(db::Tx& tx, const domain::Order& order, domain::Status to,
                store::StatusChange change);
  std::int64_t enqueue(db::Tx& tx, const Task& task, std::int64_t run_after_ms,
                       std::optional<std::string> dedupe_key = std::nullopt, int max_attempts = 20);
  // Runs a follow-up now; discards its task when that worked, else leaves it to the worker.
  void try_now(const FollowUp& follow_up, const upstream::CallContext& context);
  // Best effort, for a reservation of an order that will not be placed.
  void release_unordered(const std::string& order_id, const upstream::CallContext& context);
  queue::Outcome perform(const Task& task, const upstream::CallContext& context);
  queue::Outcome expire(const std::string& order_id);
  void count(const char* metric, const char* help, const char* label, std::string_view value);

  db::Database& db_;
  std::shared_ptr<upstream::Upstreams> upstreams_;
  std::int64_t order_ttl_ms_;
  std::int64_t lease_max_ms_;
  int worker_poll_ms_;
  Currency currency_;
  obs::Logger* log_;
  obs::Metrics* metrics_;
  Clock clock_;
  queue::WorkQueue queue_;
  std::shared_ptr<queue::Worker> worker_;
  OnChange on_change_;
};

}  // namespace emporium::order
