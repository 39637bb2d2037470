// Service identity for internal calls (DESIGN §12 "Service identity"): every service that calls
// another presents its own token in `X-Internal-Token`; the receiving route knows from the token
// which service called and accepts only the callers it lists (RouteOptions::callers), so one
// service's credential cannot do another's work.
//
// A service presents its own token, `INTERNAL_TOKEN_<SELF>` (INTERNAL_TOKEN_ORDER, …). A receiver
// recognises a caller by the SHA-256 of its token, `INTERNAL_TOKEN_SHA256_<CALLER>`, so it holds
// nothing it could present as that caller. Where those are unset and the shared `INTERNAL_TOKEN`
// is set, every token is derived from it (HMAC-SHA256(INTERNAL_TOKEN, "emporium-caller:<caller>"),
// hex), which is what a local run uses. In production give every service its own token and the
// hashes of its callers' tokens, and no INTERNAL_TOKEN (whoever knows it can derive every token).
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
// "INTERNAL_TOKEN_SHA256_ORDER" for "order".
std::string caller_hash_variable(std::string_view caller);
// The token of `caller` derived from the shared INTERNAL_TOKEN.
std::string derive_caller_token(std::string_view shared_token, std::string_view caller);
// The caller name of a service: "order-service" → "order", "shopping-cart-service" → "cart".
std::string caller_name_of(std::string_view service);

class CallerTokens {
 public:
  CallerTokens() = default;
  // `shared` may be empty; `explicit_tokens` by caller name.
  // `explicit_hashes`: SHA-256 (hex) of callers' tokens, by caller name.
  CallerTokens(const std::string& shared, const std::map<std::string, std::string>& explicit_tokens,
               const std::map<std::string, std::string>& explicit_hashes = {});

  // INTERNAL_TOKEN_<CALLER> of every known caller that has one, by caller name. ConfigError when
  // a token is shorter than 16 characters or two callers were given the same token.
  static std::map<std::string, std::string> explicit_from_env(const Env& env);

  // INTERNAL_TOKEN_SHA256_<CALLER> of every known caller that has one. ConfigError unless 64
  // lower-case hex characters.
  static std::map<std::string, std::string> hashes_from_env(const Env& env);

  // Whether a token of `caller` can be recognised (its hash, or its token, is known).
  bool can_verify(std::string_view caller) const;
  // The caller's token: its own variable, else derived from the shared one, else nullopt.
  std::optional<std::string> token_of(std::string_view caller) const;
  // token_of, or ConfigError naming the variables to set.
  std::string require(std::string_view caller) const;
  // The caller whose token `presented` is, or nullopt. Compares its SHA-256 in constant time with
  // every recognised caller's.
  std::optional<std::string> identify(std::string_view presented) const;

 private:
  std::map<std::string, std::string> tokens_;     // callers whose token is known
  std::map<std::string, std::string> verifiers_;  // SHA-256 (hex) of every recognised caller's
};

}  // namespace emporium::auth
