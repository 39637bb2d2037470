#include "config.hpp"

namespace emporium::cart {
namespace {

constexpr const char* kDefaultProductServiceUrl = "http://127.0.0.1:5001";

}  // namespace

CartConfig CartConfig::from_env(const Env& env) {
  CartConfig config;
  config.common = ServiceConfig::from_env(env, "shopping-cart-service", 5002);
  config.products = http::upstream_from_env(
      env, "PRODUCT_SERVICE", config.common.own_internal_token(), kDefaultProductServiceUrl);
  const auto currency = currency_from_code(env.string("CURRENCY", "usd"));
  if (!currency) {
    throw ConfigError("CURRENCY: must be an ISO 4217 code with 0 or 2 decimals, such as usd");
  }
  config.currency = *currency;
  return config;
}

}  // namespace emporium::cart
