// user-service configuration: the common ServiceConfig plus the signing key, token lifetimes, the
// first admin, argon2 parameters and the login/registration limits. Filled once at start-up;
// anything missing or malformed throws ConfigError naming the variable.
#pragma once

#include "domain/rate_limit.hpp"

#include <emporium/app/app.hpp>
#include <emporium/auth/password.hpp>
#include <emporium/config/env.hpp>
#include <emporium/events/events.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace emporium::user {

struct FirstAdmin {
  std::string email;  // ASCII lower-cased
  std::string password;
};

struct UserConfig {
  ServiceConfig common;
  events::EventsConfig events;  // NATS_URL, EVENTS_* (events/events.hpp)

  std::string jwt_private_key_file;
  std::string jwt_private_key_pem;  // the file's contents
  std::int64_t access_token_ttl_s = 900;
  std::int64_t refresh_token_ttl_s = 2592000;
  std::int64_t refresh_reuse_grace_s = 10;

  std::optional<FirstAdmin> first_admin;

  auth::Argon2Params argon2;
  int argon2_max_concurrent = 1;
  int argon2_max_waiting = 64;

  domain::Limit login_per_email{10, 900};
  domain::Limit login_per_addr{100, 60};
  domain::Limit register_per_addr{20, 3600};
  domain::Limit password_per_user{10, 900};  // wrong currentPassword answers per user

  static UserConfig from_env(const Env& env);
};

}  // namespace emporium::user
