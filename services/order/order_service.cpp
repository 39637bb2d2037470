#include "order_service.hpp"

#include "handlers/dto.hpp"
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
  std::optional<http::HttpClient> users;
  if (config.users) {
    users.emplace("user-service", config.users->base_urls, config.users->options);
    app.metrics().add_counter_source(users->counter_source());
  }
  auto upstreams =
      std::make_shared<upstream::Upstreams>(std::move(products), std::move(carts), config.currency,
                                            std::move(payments), std::move(users));
  auto orders =
      std::make_shared<Orders>(app.db(), std::move(upstreams), config, &app.log(), &app.metrics());
  // The order's events (docs/events.md): the order as clients see it, and the customer's contact.
  auto events = std::make_shared<events::Events>(app, config.events);
  orders->on_change([events, currency = config.currency](db::Tx& tx, const domain::Order& order,
                                                         std::optional<domain::Status> from) {
    Json data{{"order", dto::order_json(order, currency, false)},
              {"customer", order.customer ? Json::parse(*order.customer) : Json(nullptr)}};
    if (!from) {
      events->emit(tx, "order.placed", std::move(data));
      return;
    }
    data["from"] = std::string(domain::status_name(*from));
    data["to"] = std::string(domain::status_name(order.status));
    if (order.paid_payment_id) data["paymentId"] = *order.paid_payment_id;
    events->emit(tx, "order.status_changed", std::move(data));
  });
  // payment.succeeded drives Paid too (the synchronous call may not have reached this service).
  // Only payment-service's events, and only for the order's own amount and currency; the broker's
  // publish permissions (docs/events.md, "Securing the broker") keep other publishers out.
  events->on("payment.succeeded", [orders = orders.get()](db::Tx& tx, const events::Event& event) {
    if (event.source != "payment-service") {
      throw events::Poison("payment.succeeded from " + event.source + ", not payment-service");
    }
    const Json& d = event.data;
    const auto text = [&](const char* name) {
      const auto it = d.find(name);
      if (it == d.end() || !it->is_string()) {
        throw events::Poison(std::string("data.") + name + " must be a string");
      }
      return it->get<std::string>();
    };
    const auto amount = d.find("amount");
    if (amount == d.end() || !amount->is_number_integer()) {
      throw events::Poison("data.amount must be an integer (minor units)");
    }
    orders->paid_by_event(tx, text("orderId"), text("paymentId"), amount->get<std::int64_t>(),
                          text("currency"));
  });
  events->mount_dead_letter_routes(app, "/api/orders/events");
  orders->attach(app);
  // Kept alive past app.run() by `orders` (its hook holds it), which the routes hold.
  events->attach(app);
  auto idempotency = std::make_shared<idempotency::Idempotency>(app.db(), &app.metrics());
  idempotency->schedule_sweep(app);
  register_order_handlers(app, orders, idempotency, config.currency);
}

}  // namespace emporium::order
