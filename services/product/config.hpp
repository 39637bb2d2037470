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
  // PRODUCT_CACHE_MB: product documents kept in memory (0: no cache, every read goes to the
  // database).
  std::int64_t cache_mb = 64;
  // PRODUCT_CACHE_SYNC_TIMEOUT_MS: PostgreSQL, how long a cache sync (a NOTIFY barrier) may take
  // before the feed's session is dropped and made again (reads go to the database meanwhile).
  int cache_sync_timeout_ms = 2000;

  static ProductConfig from_env(const Env& env);
};

}  // namespace emporium::product
