// payment-service configuration: the common ServiceConfig, where order-service lives, the
// provider (Stripe when STRIPE_SECRET_KEY is set, else the simulated one) and the webhook secret.
// Filled once at start-up; anything malformed throws ConfigError naming the variable.
#pragma once

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>
#include <emporium/events/events.hpp>
#include <emporium/http/client.hpp>
#include <emporium/http/external_client.hpp>
#include <emporium/money/currency.hpp>

#include <cstdint>
#include <string>

namespace emporium::payment {

struct PaymentConfig {
  ServiceConfig common;
  events::EventsConfig events;  // NATS_URL, EVENTS_* (events/events.hpp)
  // ORDER_SERVICE_URLS (or ORDER_SERVICE_URI; default http://127.0.0.1:5003), with
  // ORDER_SERVICE_TIMEOUT_MS; calls carry this service's own token (caller `payment`).
  http::UpstreamConfig orders;
  Currency currency;  // CURRENCY, the store's (default usd)
  // STRIPE_SECRET_KEY (sk_…): unset selects the simulated provider. STRIPE_API_BASE (default
  // https://api.stripe.com), STRIPE_TIMEOUT_MS, STRIPE_API_VERSION (pinned default).
  std::string stripe_secret_key;
  http::ProviderConfig stripe;
  std::string stripe_api_version;
  // STRIPE_WEBHOOK_SECRET (whsec_…): unset refuses every webhook (400 naming it).
  std::string webhook_secret;
  std::int64_t webhook_tolerance_s = 300;  // STRIPE_WEBHOOK_TOLERANCE_S
  // PAYMENT_LEASE_TTL (seconds, default 120): the order-service lease taken before charging; the
  // order does not expire while it lasts. Longer than a charge with its retries can take.
  std::int64_t lease_ttl_s = 120;
  int worker_poll_ms = 1000;  // PAYMENT_WORKER_POLL_MS
  // IDEMPOTENCY_LEASE_MS (default 20000): how long a keyed payment's claim keeps a retry out
  // before the retry may take it over (its holder died). A takeover while the holder still runs
  // is harmless: both ask the provider with the same key (its replay, or 409 → 503 retry) and
  // only an open payment takes the outcome; the late holder's completion is refused.
  std::int64_t idempotency_lease_ms = 20'000;

  static PaymentConfig from_env(const Env& env);
};

}  // namespace emporium::payment
