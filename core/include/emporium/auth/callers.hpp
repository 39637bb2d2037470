// Service identity for internal calls (DESIGN §12 "Service identity"): every service that calls
// another presents its own token in `X-Internal-Token`; the receiving route knows from the token
// which service called and accepts only the callers it lists (RouteOptions::callers), so one
// service's credential cannot do another's work.
//
// Tokens come from the environment: `INTERNAL_TOKEN_<CALLER>` (INTERNAL_TOKEN_ORDER, …) for a
// caller; where that is unset and the shared `INTERNAL_TOKEN` is set, the caller's token is
// derived from it (HMAC-SHA256(INTERNAL_TOKEN, "emporium-caller:<caller>"), hex), which is what a
// local run uses. In production give every service only its own token and the tokens of the
// callers it accepts, and no INTERNAL_TOKEN: a service that knows the shared one can derive all.
#pragma once

#include "emporium/config/env.hpp"

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::auth {

// Every service that may call another, by the name routes list.
inline constexpr std::array<std::string_view, 6> kCallers = {"user",  "product", "cart",
                                                             "order", "payment", "notification"};

bool is_known_caller(std::string_view caller);
// "INTERNAL_TOKEN_ORDER" for "order".
std::string caller_token_variable(std::string_view caller);
// The token of `caller` derived from the shared INTERNAL_TOKEN.
std::string derive_caller_token(std::string_view shared_token, std::string_view caller);
// The caller name of a service: "order-service" → "order", "shopping-cart-service" → "cart".
std::string caller_name_of(std::string_view service);

class CallerTokens {
 public:
  CallerTokens() = default;
  // `shared` may be empty; `explicit_tokens` by caller name.
  CallerTokens(const std::string& shared,
               const std::map<std::string, std::string>& explicit_tokens);

  // INTERNAL_TOKEN_<CALLER> of every known caller that has one, by caller name. ConfigError when
  // a token is shorter than 16 characters or two callers were given the same token.
  static std::map<std::string, std::string> explicit_from_env(const Env& env);

  // The caller's token: its own variable, else derived from the shared one, else nullopt.
  std::optional<std::string> token_of(std::string_view caller) const;
  // token_of, or ConfigError naming the variables to set.
  std::string require(std::string_view caller) const;
  // The caller whose token `presented` is, or nullopt. Compares in constant time with every
  // known caller's token.
  std::optional<std::string> identify(std::string_view presented) const;

 private:
  std::map<std::string, std::string> tokens_;  // every caller with a token
};

}  // namespace emporium::auth
