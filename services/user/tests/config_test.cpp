#include "config.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

namespace emporium::user {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_file_ = testing::write_temp_file(testing::generate_ec_private_key_pem(), ".pem");
  }
  void TearDown() override { std::filesystem::remove(key_file_); }

  std::map<std::string, std::string> base() const {
    return {{"INTERNAL_TOKEN", "0123456789abcdef0123"},
            {"DATABASE_URL", "sqlite:///tmp/user-config-test.db"},
            {"JWT_PRIVATE_KEY_FILE", key_file_}};
  }

  // The ConfigError message of from_env, or "" when it succeeds.
  static std::string error_of(std::map<std::string, std::string> values) {
    try {
      UserConfig::from_env(Env::from_map(std::move(values)));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  std::string key_file_;
};

TEST_F(ConfigTest, Defaults) {
  const UserConfig config = UserConfig::from_env(Env::from_map(base()));
  EXPECT_EQ(config.common.service, "user-service");
  EXPECT_EQ(config.common.port, 5000);
  EXPECT_TRUE(config.common.problem_error_member);
  EXPECT_NE(config.jwt_private_key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(config.access_token_ttl_s, 900);
  EXPECT_EQ(config.refresh_token_ttl_s, 2592000);
  EXPECT_EQ(config.refresh_reuse_grace_s, 10);
  EXPECT_FALSE(config.first_admin);
  EXPECT_EQ(config.argon2.t_cost, 2U);
  EXPECT_EQ(config.argon2.m_cost_kib, 19456U);
  EXPECT_EQ(config.argon2.parallelism, 1U);
  EXPECT_GE(config.argon2_max_concurrent, 1);
  EXPECT_EQ(config.argon2_max_waiting, 64);
  EXPECT_EQ(config.login_per_email.max, 10);
  EXPECT_EQ(config.login_per_email.window_s, 900);
  EXPECT_EQ(config.login_per_addr.max, 100);
  EXPECT_EQ(config.login_per_addr.window_s, 60);
  EXPECT_EQ(config.register_per_addr.max, 20);
  EXPECT_EQ(config.register_per_addr.window_s, 3600);
  EXPECT_EQ(config.password_per_user.max, 10);
  EXPECT_EQ(config.password_per_user.window_s, 900);
}

TEST_F(ConfigTest, ReadsEveryVariable) {
  auto values = base();
  values["ACCESS_TOKEN_TTL"] = "60";
  values["REFRESH_TOKEN_TTL"] = "120";
  values["REFRESH_REUSE_GRACE_S"] = "0";
  values["ADMIN_EMAIL"] = "Root@Example.com";
  values["ADMIN_PASSWORD"] = "long enough";
  values["ARGON2_T"] = "3";
  values["ARGON2_M_KIB"] = "65536";
  values["ARGON2_P"] = "4";
  values["ARGON2_MAX_CONCURRENT"] = "2";
  values["ARGON2_MAX_WAITING"] = "5";
  values["LOGIN_MAX_FAILURES_PER_EMAIL"] = "3";
  values["LOGIN_EMAIL_WINDOW_S"] = "30";
  values["LOGIN_MAX_FAILURES_PER_ADDR"] = "7";
  values["LOGIN_ADDR_WINDOW_S"] = "8";
  values["REGISTER_MAX_PER_ADDR"] = "9";
  values["REGISTER_WINDOW_S"] = "10";
  values["PASSWORD_MAX_FAILURES_PER_USER"] = "11";
  values["PASSWORD_FAILURE_WINDOW_S"] = "12";
  values["PORT"] = "5100";
  const UserConfig config = UserConfig::from_env(Env::from_map(values));
  EXPECT_EQ(config.common.port, 5100);
  EXPECT_EQ(config.access_token_ttl_s, 60);
  EXPECT_EQ(config.refresh_token_ttl_s, 120);
  EXPECT_EQ(config.refresh_reuse_grace_s, 0);
  ASSERT_TRUE(config.first_admin);
  EXPECT_EQ(config.first_admin->email, "root@example.com");
  EXPECT_EQ(config.first_admin->password, "long enough");
  EXPECT_EQ(config.argon2.t_cost, 3U);
  EXPECT_EQ(config.argon2.m_cost_kib, 65536U);
  EXPECT_EQ(config.argon2.parallelism, 4U);
  EXPECT_EQ(config.argon2_max_concurrent, 2);
  EXPECT_EQ(config.argon2_max_waiting, 5);
  EXPECT_EQ(config.login_per_email.max, 3);
  EXPECT_EQ(config.login_per_email.window_s, 30);
  EXPECT_EQ(config.login_per_addr.max, 7);
  EXPECT_EQ(config.login_per_addr.window_s, 8);
  EXPECT_EQ(config.register_per_addr.max, 9);
  EXPECT_EQ(config.register_per_addr.window_s, 10);
  EXPECT_EQ(config.password_per_user.max, 11);
  EXPECT_EQ(config.password_per_user.window_s, 12);
}

TEST_F(ConfigTest, ErrorsNameTheVariable) {
  auto without_key = base();
  without_key.erase("JWT_PRIVATE_KEY_FILE");
  EXPECT_NE(error_of(without_key).find("JWT_PRIVATE_KEY_FILE"), std::string::npos);

  auto unreadable = base();
  unreadable["JWT_PRIVATE_KEY_FILE"] = "/nonexistent/key.pem";
  EXPECT_NE(error_of(unreadable).find("JWT_PRIVATE_KEY_FILE"), std::string::npos);

  auto only_email = base();
  only_email["ADMIN_EMAIL"] = "root@example.com";
  EXPECT_NE(error_of(only_email).find("ADMIN_PASSWORD"), std::string::npos);

  auto only_password = base();
  only_password["ADMIN_PASSWORD"] = "long enough";
  EXPECT_NE(error_of(only_password).find("ADMIN_EMAIL"), std::string::npos);

  auto short_password = base();
  short_password["ADMIN_EMAIL"] = "root@example.com";
  short_password["ADMIN_PASSWORD"] = "short";
  EXPECT_NE(error_of(short_password).find("ADMIN_PASSWORD"), std::string::npos);

  auto bad_email = base();
  bad_email["ADMIN_EMAIL"] = "root";
  bad_email["ADMIN_PASSWORD"] = "long enough";
  EXPECT_NE(error_of(bad_email).find("ADMIN_EMAIL"), std::string::npos);

  for (const char* name :
       {"ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "ARGON2_T", "ARGON2_M_KIB", "ARGON2_P",
        "ARGON2_MAX_CONCURRENT", "LOGIN_MAX_FAILURES_PER_EMAIL", "LOGIN_EMAIL_WINDOW_S",
        "REGISTER_WINDOW_S", "PASSWORD_MAX_FAILURES_PER_USER", "PASSWORD_FAILURE_WINDOW_S"}) {
    auto values = base();
    values[name] = "abc";
    EXPECT_NE(error_of(values).find(name), std::string::npos) << name;
  }
  auto zero_ttl = base();
  zero_ttl["ACCESS_TOKEN_TTL"] = "0";
  EXPECT_NE(error_of(zero_ttl).find("ACCESS_TOKEN_TTL"), std::string::npos);
}

}  // namespace
}  // namespace emporium::user
