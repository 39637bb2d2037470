// The two services order-service calls, as the calls it needs (DESIGN §12): product-service holds,
// commits and releases the stock of an order (one reservation whose id is the order id), and
// shopping-cart-service gives the lines of a cart and takes ordered quantities off it. Each call
// names its caller `order` (its own INTERNAL_TOKEN_ORDER) and carries the request's id and trace.
//
// What an answer means (STYLE: every outbound call states it):
//   - reserve: 201 the lines held with their name and price; 409 not enough stock → 409
//     `out_of_stock` with product-service's `shortLines`; anything else → 503 (the order is not
//     placed; a retry with the same key reuses the order id, so the reservation de-duplicates).
//   - release / commit: 200 done; release of an unknown reservation is done too (never held);
//     commit refused (404, 409: released meanwhile) → Refused, a fact no retry changes.
//   - cart lines: 200 the lines; 404 no cart → nullopt.
//   - cart removal: 200 done, 404 no cart → done (nothing to take off).
//   - refund of a paid order (payment-service, optional): 200 done (refunded, or nothing to
//     refund); 409 the provider refused → Refused.
// A call that gets no answer throws service_unavailable (503 with Retry-After), which the use
// cases turn into a retry later where the order already exists.
#pragma once

#include "domain/order.hpp"

#include <emporium/http/client.hpp>
#include <emporium/json/item_lines.hpp>
#include <emporium/money/currency.hpp>

#include <optional>
#include <string>
#include <vector>

namespace emporium::order::upstream {

struct CallContext {
  std::string request_id;
  std::string traceparent;
};

enum class Settled { Done, Refused };

class Upstreams {
 public:
  // `payments`: payment-service, when configured (refunds of cancelled paid orders).
  Upstreams(http::HttpClient products, http::HttpClient carts, Currency currency,
            std::optional<http::HttpClient> payments = std::nullopt,
            std::optional<http::HttpClient> users = std::nullopt);

  // The held lines (name, price as held), in the order product-service answered them.
  std::vector<domain::Line> reserve(const std::string& order_id, const std::vector<ItemLine>& lines,
                                    const CallContext& context) const;
  Settled release(const std::string& order_id, const CallContext& context) const;
  Settled commit(const std::string& order_id, const CallContext& context) const;

  std::optional<std::vector<ItemLine>> cart_lines(const std::string& user_id,
                                                  const CallContext& context) const;
  void remove_from_cart(const std::string& user_id, const std::string& order_id,
                        const std::vector<ItemLine>& lines, const CallContext& context) const;

  bool can_refund() const { return payments_.has_value(); }

  // The customer's contact from user-service (`GET /api/users/:id`, caller `order`) as
  // {"userId","name","email","phone"}; nullopt when user-service is not configured, does not know
  // the user or cannot answer (never throws: placing an order does not depend on it).
  std::optional<Json> customer(const std::string& user_id, const CallContext& context) const;
  Settled refund_order(const std::string& order_id, const CallContext& context) const;

  const http::HttpClient& products() const { return products_; }
  const http::HttpClient& carts() const { return carts_; }

 private:
  http::ClientResponse call(const http::HttpClient& client, http::Method method, std::string path,
                            std::string body, const CallContext& context,
                            std::optional<bool> idempotent = std::nullopt) const;

  http::HttpClient products_;
  http::HttpClient carts_;
  Currency currency_;
  std::optional<http::HttpClient> payments_;
  std::optional<http::HttpClient> users_;
};

}  // namespace emporium::order::upstream
