#include "order_service.hpp"

#include "handlers/order_handlers.hpp"
#include "orders.hpp"
#include "upstream/upstreams.hpp"

#include <emporium/idempotency/idempotency.hpp>

#include <memory>
#include <utility>

namespace emporium::order {

void register_order_service(App& app, const OrderConfig& config) {
  http::HttpClient products("product-service", config.products.base_urls, config.products.options);
  http::HttpClient carts("shopping-cart-service", config.carts.base_urls, config.carts.options);
  // The clients' calls, retries, failures and breaker openings on /metrics.
  app.metrics().add_counter_source(products.counter_source());
  app.metrics().add_counter_source(carts.counter_source());
  std::optional<http::HttpClient> payments;
  if (config.payments) {
    payments.emplace("payment-service", config.payments->base_urls, config.payments->options);
    app.metrics().add_counter_source(payments->counter_source());
  }
  auto upstreams = std::make_shared<upstream::Upstreams>(std::move(products), std::move(carts),
                                                         config.currency, std::move(payments));
  auto orders =
      std::make_shared<Orders>(app.db(), std::move(upstreams), config, &app.log(), &app.metrics());
  orders->attach(app);
  auto idempotency = std::make_shared<idempotency::Idempotency>(app.db(), &app.metrics());
  idempotency->schedule_sweep(app);
  register_order_handlers(app, orders, idempotency, config.currency);
}

}  // namespace emporium::order
