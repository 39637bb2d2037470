#include "config.hpp"

#include "provider/stripe_provider.hpp"

namespace emporium::payment {

PaymentConfig PaymentConfig::from_env(const Env& env) {
  PaymentConfig config;
  config.common = ServiceConfig::from_env(env, "payment-service", 5004);
  config.events = events::EventsConfig::from_env(env);
  config.orders = http::upstream_from_env(env, "ORDER_SERVICE", config.common.own_internal_token(),
                                          "http://127.0.0.1:5003");
  const auto currency = currency_from_code(env.string("CURRENCY", "usd"));
  if (!currency) {
    throw ConfigError("CURRENCY: must be an ISO 4217 code with 0 or 2 decimals, such as usd");
  }
  config.currency = *currency;
  config.stripe_secret_key = env.string("STRIPE_SECRET_KEY", "");
  config.stripe = http::provider_from_env(env, "STRIPE", "https://api.stripe.com");
  config.stripe_api_version = env.string("STRIPE_API_VERSION", provider::kStripeVersion);
  config.webhook_secret = env.string("STRIPE_WEBHOOK_SECRET", "");
  config.webhook_tolerance_s = env.integer("STRIPE_WEBHOOK_TOLERANCE_S", 300, 1, 3600);
  config.lease_ttl_s = env.integer("PAYMENT_LEASE_TTL", 120, 5, 3600);
  config.worker_poll_ms = static_cast<int>(env.integer("PAYMENT_WORKER_POLL_MS", 1000, 10, 60'000));
  config.idempotency_lease_ms = env.integer("IDEMPOTENCY_LEASE_MS", 20'000, 1000, 3'600'000);
  return config;
}

}  // namespace emporium::payment
