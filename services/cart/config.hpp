// shopping-cart-service configuration: the common ServiceConfig, where product-service lives and
// how to call it, and the store currency. Filled once at start-up; anything malformed throws
// ConfigError naming the variable.
#pragma once

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>
#include <emporium/http/client.hpp>
#include <emporium/money/currency.hpp>

#include <string>

namespace emporium::cart {

struct CartConfig {
  ServiceConfig common;
  // PRODUCT_SERVICE_URLS (or the seed's PRODUCT_SERVICE_URI; default http://127.0.0.1:5001),
  // PRODUCT_SERVICE_TIMEOUT_MS, CIRCUIT_OPEN_MS; calls carry INTERNAL_TOKEN.
  http::UpstreamConfig products;
  // CURRENCY: the store's one currency, ISO 4217 (default usd), the same as product-service's.
  // Prices are integer minor units of it.
  Currency currency;

  static CartConfig from_env(const Env& env);
};

}  // namespace emporium::cart
