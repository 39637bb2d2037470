#include "config.hpp"

#include "domain/validation.hpp"

#include <fstream>
#include <sstream>
#include <thread>

namespace emporium::user {
namespace {

constexpr std::int64_t kMaxTtl = 10LL * 365 * 24 * 3600;

std::string read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    throw ConfigError("JWT_PRIVATE_KEY_FILE: cannot read '" + path + "'");
  }
  return contents.str();
}

std::optional<FirstAdmin> read_first_admin(const Env& env) {
  const auto email = env.get("ADMIN_EMAIL");
  const auto password = env.get("ADMIN_PASSWORD");
  const bool has_email = email && !email->empty();
  const bool has_password = password && !password->empty();
  if (!has_email && !has_password) return std::nullopt;
  if (!has_email) throw ConfigError("ADMIN_EMAIL: required when ADMIN_PASSWORD is set");
  if (!has_password) throw ConfigError("ADMIN_PASSWORD: required when ADMIN_EMAIL is set");
  const std::string lowered = domain::lower_ascii(*email);
  if (!domain::is_valid_email(lowered)) throw ConfigError("ADMIN_EMAIL: not a valid email address");
  if (auto problem = domain::check_password(*password)) {
    throw ConfigError("ADMIN_PASSWORD: " + problem->substr(problem->find(' ') + 1));
  }
  return FirstAdmin{lowered, *password};
}

domain::Limit read_limit(const Env& env, const char* max_name, std::int64_t max_default,
                         const char* window_name, std::int64_t window_default) {
  return {env.integer(max_name, max_default, 0, 1'000'000'000),
          env.integer(window_name, window_default, 1, kMaxTtl)};
}

}  // namespace

UserConfig UserConfig::from_env(const Env& env) {
  UserConfig config;
  config.common = ServiceConfig::from_env(env, "user-service", 5000);
  config.events = events::EventsConfig::from_env(env);
  config.common.problem_error_member =
      true;  // problems repeat `detail` as `error`, as the seed did

  config.jwt_private_key_file = env.required("JWT_PRIVATE_KEY_FILE");
  config.jwt_private_key_pem = read_key_file(config.jwt_private_key_file);
  config.access_token_ttl_s = env.integer("ACCESS_TOKEN_TTL", 900, 1, kMaxTtl);
  config.refresh_token_ttl_s = env.integer("REFRESH_TOKEN_TTL", 2592000, 1, kMaxTtl);
  config.refresh_reuse_grace_s = env.integer("REFRESH_REUSE_GRACE_S", 10, 0, 3600);

  config.first_admin = read_first_admin(env);

  config.argon2.t_cost = static_cast<std::uint32_t>(env.integer("ARGON2_T", 2, 1, 100));
  config.argon2.m_cost_kib =
      static_cast<std::uint32_t>(env.integer("ARGON2_M_KIB", 19456, 8, 4LL * 1024 * 1024));
  config.argon2.parallelism = static_cast<std::uint32_t>(env.integer("ARGON2_P", 1, 1, 64));
  if (config.argon2.m_cost_kib < 8 * config.argon2.parallelism) {
    throw ConfigError("ARGON2_M_KIB: must be at least 8 × ARGON2_P");
  }
  const std::int64_t cores = std::max(1U, std::thread::hardware_concurrency());
  config.argon2_max_concurrent =
      static_cast<int>(env.integer("ARGON2_MAX_CONCURRENT", cores, 1, 1024));
  config.argon2_max_waiting = static_cast<int>(env.integer("ARGON2_MAX_WAITING", 64, 0, 100000));

  config.login_per_email =
      read_limit(env, "LOGIN_MAX_FAILURES_PER_EMAIL", 10, "LOGIN_EMAIL_WINDOW_S", 900);
  config.login_per_addr =
      read_limit(env, "LOGIN_MAX_FAILURES_PER_ADDR", 100, "LOGIN_ADDR_WINDOW_S", 60);
  config.register_per_addr =
      read_limit(env, "REGISTER_MAX_PER_ADDR", 20, "REGISTER_WINDOW_S", 3600);
  config.password_per_user =
      read_limit(env, "PASSWORD_MAX_FAILURES_PER_USER", 10, "PASSWORD_FAILURE_WINDOW_S", 900);
  return config;
}

}  // namespace emporium::user
