#include "config.hpp"
#include "product_service.hpp"

#include <emporium/testing/database.hpp>

#include <gtest/gtest.h>

#include <map>

namespace emporium::product {
namespace {

std::map<std::string, std::string> base() {
  return {{"INTERNAL_TOKEN", "0123456789abcdef0123"}};
}

std::string error_of(std::map<std::string, std::string> values) {
  try {
    ProductConfig::from_env(Env::from_map(std::move(values)));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, Defaults) {
  const ProductConfig config = ProductConfig::from_env(Env::from_map(base()));
  EXPECT_EQ(config.common.service, "product-service");
  EXPECT_EQ(config.common.port, 5001);
  EXPECT_EQ(config.currency.code, "usd");
  EXPECT_EQ(config.currency.exponent, 2);
  EXPECT_EQ(config.reservation_ttl_s, 2700);
  EXPECT_EQ(config.reservation_sweep_ms, 5000);
}

TEST(ConfigTest, ReadsValues) {
  auto values = base();
  values["CURRENCY"] = "JPY";
  values["RESERVATION_TTL"] = "5";
  values["RESERVATION_SWEEP_MS"] = "100";
  const ProductConfig config = ProductConfig::from_env(Env::from_map(values));
  EXPECT_EQ(config.currency.code, "jpy");
  EXPECT_EQ(config.currency.exponent, 0);
  EXPECT_EQ(config.reservation_ttl_s, 5);
  EXPECT_EQ(config.reservation_sweep_ms, 100);
}

TEST(ConfigTest, BadValuesNameTheVariable) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"CURRENCY", "dollars"},
                                                        {"CURRENCY", "kwd"},
                                                        {"RESERVATION_TTL", "0"},
                                                        {"RESERVATION_TTL", "x"},
                                                        {"RESERVATION_SWEEP_MS", "-5"}}) {
    auto values = base();
    values[name] = value;
    EXPECT_NE(error_of(values).find(name), std::string::npos) << name << "=" << value;
  }
}

TEST(ConfigTest, WithoutTheOrderTokenTheReservationRoutesDoNotStart) {
  // No token is needed to load the configuration, but the reservation routes accept order-service
  // and cannot without its token: start-up stops naming the variable.
  testing::TempSqliteFile file("product-config");
  const auto config = ProductConfig::from_env(Env::from_map({{"DATABASE_URL", file.url()}}));
  App app(config.common);
  app.open_database(migrations());
  try {
    register_product_service(app, config);
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("INTERNAL_TOKEN_SHA256_ORDER"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace emporium::product
