// CartConfig::from_env: defaults, the product-service instance list (URLS, or the seed's URI) and
// the variables that stop start-up when malformed.
#include "config.hpp"

#include <gtest/gtest.h>

namespace emporium::cart {
namespace {

std::map<std::string, std::string> base_env() {
  return {{"INTERNAL_TOKEN", "0123456789abcdef0123"}};
}

TEST(CartConfig, Defaults) {
  const CartConfig config = CartConfig::from_env(Env::from_map(base_env()));
  EXPECT_EQ(config.common.service, "shopping-cart-service");
  EXPECT_EQ(config.common.port, 5002);
  EXPECT_EQ(config.common.database_url, "sqlite:var/shopping-cart-service.db");
  EXPECT_EQ(config.currency.code, "usd");
  EXPECT_EQ(config.currency.exponent, 2);
  ASSERT_EQ(config.products.base_urls.size(), 1U);
  EXPECT_EQ(config.products.base_urls[0], "http://127.0.0.1:5001");
  // The cart calls as "cart", with the token derived from the shared one.
  EXPECT_EQ(config.products.options.internal_token,
            auth::derive_caller_token("0123456789abcdef0123", "cart"));
  EXPECT_EQ(config.products.options.timeout_ms, 2000);
  EXPECT_EQ(config.products.options.circuit_open_ms, 5000);
}

TEST(CartConfig, ProductInstancesAndTimeouts) {
  auto env = base_env();
  env["PRODUCT_SERVICE_URLS"] = "http://127.0.0.1:5001, http://127.0.0.1:5101";
  env["PRODUCT_SERVICE_TIMEOUT_MS"] = "300";
  env["CIRCUIT_OPEN_MS"] = "700";
  env["PORT"] = "6002";
  env["CURRENCY"] = "JPY";
  const CartConfig config = CartConfig::from_env(Env::from_map(env));
  EXPECT_EQ(config.products.base_urls,
            (std::vector<std::string>{"http://127.0.0.1:5001", "http://127.0.0.1:5101"}));
  EXPECT_EQ(config.products.options.timeout_ms, 300);
  EXPECT_EQ(config.products.options.circuit_open_ms, 700);
  EXPECT_EQ(config.common.port, 6002);
  EXPECT_EQ(config.currency.code, "jpy");
  EXPECT_EQ(config.currency.exponent, 0);
}

TEST(CartConfig, TheSeedsSingleUriIsAOneInstanceList) {
  auto env = base_env();
  env["PRODUCT_SERVICE_URI"] = "http://product-service:5001";
  const CartConfig config = CartConfig::from_env(Env::from_map(env));
  EXPECT_EQ(config.products.base_urls, std::vector<std::string>{"http://product-service:5001"});
}

void expect_config_error(std::map<std::string, std::string> env, const std::string& variable) {
  try {
    CartConfig::from_env(Env::from_map(std::move(env)));
    ADD_FAILURE() << "no ConfigError for " << variable;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(variable), std::string::npos) << e.what();
  }
}

TEST(CartConfig, MalformedValuesNameTheirVariable) {
  expect_config_error({}, "INTERNAL_TOKEN");
  for (const char* bad : {"kwd", "us", "dollar", "u$d"}) {
    auto env = base_env();
    env["CURRENCY"] = bad;
    expect_config_error(env, "CURRENCY");
  }
  auto env = base_env();
  env["PRODUCT_SERVICE_TIMEOUT_MS"] = "soon";
  expect_config_error(env, "PRODUCT_SERVICE_TIMEOUT_MS");
  env = base_env();
  env["PRODUCT_SERVICE_URLS"] = "ftp://example.com";
  expect_config_error(env, "PRODUCT_SERVICE_URLS");
}

}  // namespace
}  // namespace emporium::cart
