#include "payment_service.hpp"

#include "handlers/payment_handlers.hpp"
#include "payments.hpp"
#include "provider/simulated_provider.hpp"
#include "provider/stripe_provider.hpp"
#include "upstream/orders_client.hpp"

#include <emporium/idempotency/idempotency.hpp>

#include <memory>
#include <utility>

namespace emporium::payment {

void register_payment_service(App& app, const PaymentConfig& config) {
  http::HttpClient orders_http("order-service", config.orders.base_urls, config.orders.options);
  app.metrics().add_counter_source(orders_http.counter_source());
  auto orders = std::make_shared<upstream::OrdersClient>(std::move(orders_http));

  std::shared_ptr<provider::Provider> provider;
  if (config.stripe_secret_key.empty()) {
    provider = std::make_shared<provider::SimulatedProvider>();
    app.log().info("payments use the simulated provider (STRIPE_SECRET_KEY is unset)");
  } else {
    http::ExternalOptions options = config.stripe.options;
    options.auth = http::BearerAuth{config.stripe_secret_key};
    options.default_headers.push_back({"Stripe-Version", config.stripe_api_version});
    http::ExternalClient client("stripe", config.stripe.base_url, std::move(options));
    app.metrics().add_counter_source(client.counter_source());
    provider = std::make_shared<provider::StripeProvider>(std::move(client));
  }
  auto payments = std::make_shared<Payments>(app.db(), std::move(provider), std::move(orders),
                                             config, &app.log(), &app.metrics());
  // The payment's events (docs/events.md).
  auto events = std::make_shared<events::Events>(app, config.events);
  payments->use_events(events);
  payments->attach(app);
  events->attach(app);
  idempotency::Options keys;
  keys.lease_ms = config.idempotency_lease_ms;
  auto idempotency = std::make_shared<idempotency::Idempotency>(app.db(), &app.metrics(), keys);
  idempotency->schedule_sweep(app);
  register_payment_handlers(app, payments, idempotency, config);
}

}  // namespace emporium::payment
