// Caller tokens for internal calls: see callers.hpp.
#include "emporium/auth/callers.hpp"

#include "emporium/util/crypto.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace emporium::auth {

namespace {
constexpr std::size_t kMinTokenLength = 16;
}

bool is_known_caller(std::string_view caller) {
  return std::find(kCallers.begin(), kCallers.end(), caller) != kCallers.end();
}

std::string caller_token_variable(std::string_view caller) {
  std::string name = "INTERNAL_TOKEN_";
  for (char c : caller) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::string caller_hash_variable(std::string_view caller) {
  std::string name = "INTERNAL_TOKEN_SHA256_";
  for (char c : caller) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::string derive_caller_token(std::string_view shared_token, std::string_view caller) {
  return hmac_sha256_hex(shared_token, "emporium-caller:" + std::string(caller));
}

std::string caller_name_of(std::string_view service) {
  constexpr std::string_view kSuffix = "-service";
  if (service.ends_with(kSuffix)) service.remove_suffix(kSuffix.size());
  // "shopping-cart" is the cart.
  if (auto dash = service.rfind('-'); dash != std::string_view::npos) {
    service.remove_prefix(dash + 1);
  }
  return std::string(service);
}

CallerTokens::CallerTokens(const std::string& shared,
                           const std::map<std::string, std::string>& explicit_tokens,
                           const std::map<std::string, std::string>& explicit_hashes) {
  // Derived once here: identify() runs on every internal request.
  for (auto caller : kCallers) {
    const std::string name(caller);
    if (auto it = explicit_tokens.find(name); it != explicit_tokens.end()) {
      tokens_.emplace(name, it->second);
    } else if (!shared.empty()) {
      tokens_.emplace(name, derive_caller_token(shared, caller));
    }
    if (auto it = explicit_hashes.find(name); it != explicit_hashes.end()) {
      verifiers_.emplace(name, it->second);
    } else if (auto token = tokens_.find(name); token != tokens_.end()) {
      verifiers_.emplace(name, sha256_hex(token->second));
    }
  }
}

std::map<std::string, std::string> CallerTokens::explicit_from_env(const Env& env) {
  std::map<std::string, std::string> tokens;
  std::set<std::string> seen;
  for (auto caller : kCallers) {
    const std::string variable = caller_token_variable(caller);
    std::string token = env.string(variable, "");
    if (token.empty()) continue;
    if (token.size() < kMinTokenLength) {
      throw ConfigError(variable + " must be at least 16 characters");
    }
    if (!seen.insert(token).second) {
      throw ConfigError(variable + " is the token of another caller: give every service its own");
    }
    tokens.emplace(caller, std::move(token));
  }
  return tokens;
}

std::map<std::string, std::string> CallerTokens::hashes_from_env(const Env& env) {
  std::map<std::string, std::string> hashes;
  for (auto caller : kCallers) {
    const std::string variable = caller_hash_variable(caller);
    std::string hash = env.string(variable, "");
    if (hash.empty()) continue;
    const bool hex = hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    if (!hex) {
      throw ConfigError(variable +
                        " must be the SHA-256 of the caller's token: 64 lower-case hex characters");
    }
    hashes.emplace(caller, std::move(hash));
  }
  return hashes;
}

bool CallerTokens::can_verify(std::string_view caller) const {
  return verifiers_.count(std::string(caller)) != 0;
}

std::optional<std::string> CallerTokens::token_of(std::string_view caller) const {
  if (auto it = tokens_.find(std::string(caller)); it != tokens_.end()) return it->second;
  return std::nullopt;
}

std::string CallerTokens::require(std::string_view caller) const {
  if (auto token = token_of(caller)) return *token;
  throw ConfigError("no token for internal caller '" + std::string(caller) + "': set " +
                    caller_token_variable(caller) + " (or INTERNAL_TOKEN)");
}

std::optional<std::string> CallerTokens::identify(std::string_view presented) const {
  std::optional<std::string> found;
  if (presented.empty()) return found;
  // Compared by hash: a receiver needs only the hashes of its callers' tokens, which it cannot
  // present itself.
  const std::string hash = sha256_hex(presented);
  for (const auto& [caller, verifier] : verifiers_) {
    if (constant_time_equal(hash, verifier)) found = caller;
  }
  return found;
}

}  // namespace emporium::auth
