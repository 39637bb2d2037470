// product-service configuration: the common ServiceConfig plus the store currency and the
// reservation timings. Filled once at start-up; anything malformed throws ConfigError naming the
// variable.
#pragma once

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>
#include <emporium/money/currency.hpp>

#include <cstdint>

namespace emporium::product {

struct ProductConfig {
  ServiceConfig common;
  Currency currency;                      // CURRENCY, default usd
  std::int64_t reservation_ttl_s = 2700;  // RESERVATION_TTL: 45 min, longer than ORDER_TTL
  int reservation_sweep_ms = 5000;        // RESERVATION_SWEEP_MS

  static ProductConfig from_env(const Env& env);
};

}  // namespace emporium::product
