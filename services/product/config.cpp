#include "config.hpp"

namespace emporium::product {

ProductConfig ProductConfig::from_env(const Env& env) {
  ProductConfig config;
  config.common = ServiceConfig::from_env(env, "product-service", 5001);
  const std::string code = env.string("CURRENCY", "usd");
  const auto currency = currency_from_code(code);
  if (!currency) {
    throw ConfigError("CURRENCY: '" + code +
                      "' is not a supported ISO 4217 code (three letters, at most two decimals)");
  }
  config.currency = *currency;
  config.reservation_ttl_s = env.integer("RESERVATION_TTL", 2700, 1, 30LL * 24 * 3600);
  config.reservation_sweep_ms =
      static_cast<int>(env.integer("RESERVATION_SWEEP_MS", 5000, 10, 3'600'000));
  config.cache_mb = env.integer("PRODUCT_CACHE_MB", 64, 0, 64 * 1024);
  config.cache_sync_timeout_ms =
      static_cast<int>(env.integer("PRODUCT_CACHE_SYNC_TIMEOUT_MS", 2000, 10, 60'000));
  return config;
}

}  // namespace emporium::product
