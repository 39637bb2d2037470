// order-service as payment-service calls it (its internal routes, caller `payment`; DESIGN §12):
// read an order's owner and amount, take and drop the payment lease, mark it Paid or
// PaymentFailed by payment id (idempotent there).
//
// What an answer means: 200 done; 404 no such order; 409 the order refuses (already paid,
// cancelled, expired, another payment's lease) with its code and the order's status; anything
// else, or no answer, throws service_unavailable (503 with Retry-After).
#pragma once

#include <emporium/http/client.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace emporium::payment::upstream {

struct CallContext {
  std::string request_id;
  std::string traceparent;
};

struct OrderView {
  std::string id;
  std::string user_id;
  std::int64_t amount = 0;  // minor units
  std::string currency;
  std::string status;  // Pending, Paid, …
  // {"order": the order without the internal members, "customer": contact or null}: what the
  // payment's events carry (docs/events.md).
  Json snapshot = Json::object();
};

// An order-service refusal (409): its problem code and the order's status.
struct Refusal {
  std::string code;    // already_paid, order_not_payable, order_expired, payment_in_flight, …
  std::string status;  // the order's status when order-service names it
  std::string detail;
  std::string retry_after;  // payment_in_flight
};

class OrdersClient {
 public:
  explicit OrdersClient(http::HttpClient client);

  std::optional<OrderView> get(const std::string& order_id, const CallContext& context) const;
  // nullopt: taken (or renewed) for `ttl_s` seconds.
  std::optional<Refusal> take_lease(const std::string& order_id, const std::string& payment_id,
                                    std::int64_t ttl_s, const CallContext& context) const;
  void drop_lease(const std::string& order_id, const std::string& payment_id,
                  const CallContext& context) const;
  // nullopt: the order is Paid by this payment (now or before).
  std::optional<Refusal> mark_paid(const std::string& order_id, const std::string& payment_id,
                                   const CallContext& context) const;
  std::optional<Refusal> mark_failed(const std::string& order_id, const std::string& payment_id,
                                     const std::string& reason, const CallContext& context) const;

  const http::HttpClient& client() const { return client_; }

 private:
  http::ClientResponse call(http::Method method, std::string path, std::string body,
                            const CallContext& context) const;
  std::optional<Refusal> outcome(const http::ClientResponse& response) const;

  http::HttpClient client_;
};

}  // namespace emporium::payment::upstream
