// order-service configuration: the common ServiceConfig, where product-service and
// shopping-cart-service live, the store currency, and the times of an order's life. Filled once at
// start-up; anything malformed throws ConfigError naming the variable.
#pragma once

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>
#include <emporium/events/events.hpp>
#include <emporium/http/client.hpp>
#include <emporium/money/currency.hpp>

#include <cstdint>
#include <optional>

namespace emporium::order {

struct OrderConfig {
  ServiceConfig common;
  events::EventsConfig events;  // NATS_URL, EVENTS_* (events/events.hpp)
  // PRODUCT_SERVICE_URLS (or PRODUCT_SERVICE_URI; default http://127.0.0.1:5001) and
  // CART_SERVICE_URLS (or CART_SERVICE_URI; default http://127.0.0.1:5002), with their
  // *_TIMEOUT_MS; calls carry this service's own token (caller `order`).
  http::UpstreamConfig products;
  http::UpstreamConfig carts;
  // PAYMENT_SERVICE_URLS (or PAYMENT_SERVICE_URI), optional: where an admin's cancel of a paid
  // order asks for the refund. Unset: that cancel is 409 naming the missing refund path.
  std::optional<http::UpstreamConfig> payments;
  // USER_SERVICE_URLS (or USER_SERVICE_URI), optional: where the customer's contact for the
  // order's events comes from (GET /api/users/:id as caller `order`).
  std::optional<http::UpstreamConfig> users;
  // CURRENCY: the store's one currency, the same as product-service's.
  Currency currency;
  // ORDER_TTL (seconds, default 1800): an unpaid order expires this long after it was placed.
  // Keep it below product-service's RESERVATION_TTL (2700), so the order, not the reservation's
  // sweeper, releases the stock.
  std::int64_t order_ttl_ms = 1'800'000;
  // PAYMENT_LEASE_MAX (seconds, default 300): the longest payment lease payment-service may take;
  // an order whose payment is in flight does not expire until the lease ends.
  std::int64_t payment_lease_max_ms = 300'000;
  // ORDER_WORKER_POLL_MS (default 1000): how often an idle instance looks for due work (expiries,
  // stock releases and commits, cart removals that could not be done at once).
  int worker_poll_ms = 1000;

  static OrderConfig from_env(const Env& env);
};

}  // namespace emporium::order
