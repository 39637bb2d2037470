#include "config.hpp"

namespace emporium::order {
namespace {

constexpr const char* kDefaultProductServiceUrl = "http://127.0.0.1:5001";
constexpr const char* kDefaultCartServiceUrl = "http://127.0.0.1:5002";

}  // namespace

OrderConfig OrderConfig::from_env(const Env& env) {
  OrderConfig config;
  config.common = ServiceConfig::from_env(env, "order-service", 5003);
  config.events = events::EventsConfig::from_env(env);
  const std::string token = config.common.own_internal_token();
  config.products =
      http::upstream_from_env(env, "PRODUCT_SERVICE", token, kDefaultProductServiceUrl);
  config.carts = http::upstream_from_env(env, "CART_SERVICE", token, kDefaultCartServiceUrl);
  if (!env.string("PAYMENT_SERVICE_URLS", "").empty() ||
      !env.string("PAYMENT_SERVICE_URI", "").empty()) {
    config.payments = http::upstream_from_env(env, "PAYMENT_SERVICE", token);
  }
  if (!env.string("USER_SERVICE_URLS", "").empty() || !env.string("USER_SERVICE_URI", "").empty()) {
    config.users = http::upstream_from_env(env, "USER_SERVICE", token);
  }
  const auto currency = currency_from_code(env.string("CURRENCY", "usd"));
  if (!currency) {
    throw ConfigError("CURRENCY: must be an ISO 4217 code with 0 or 2 decimals, such as usd");
  }
  config.currency = *currency;
  config.order_ttl_ms = env.integer("ORDER_TTL", 1800, 1, 30LL * 24 * 3600) * 1000;
  config.payment_lease_max_ms = env.integer("PAYMENT_LEASE_MAX", 300, 1, 3600) * 1000;
  config.worker_poll_ms = static_cast<int>(env.integer("ORDER_WORKER_POLL_MS", 1000, 10, 60'000));
  return config;
}

}  // namespace emporium::order
