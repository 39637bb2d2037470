// The stored user and refresh-token models (what the store reads and writes). The wire format is
// separate: handlers/dto.hpp maps a User to its JSON document and never includes the hash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace emporium::user::domain {

struct User {
  std::string id;  // 24 lower-case hex
  std::string name;
  std::string email;  // ASCII lower-cased
  std::optional<std::string> phone;
  std::string role;  // "customer" or "admin"
  std::string password_hash;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 0;  // `__v`
};

struct RefreshToken {
  std::string token_hash;  // sha256_hex of the raw token
  std::string family_id;
  std::string user_id;
  std::int64_t issued_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::optional<std::int64_t> used_at_ms;
  std::optional<std::string> replaced_by;  // hash of the successor
  // The successor pair (refresh and access token) for the retry grace, sealed under a key derived
  // from this token's raw value (sealed_pair.hpp); cleared once handed out or the grace passed.
  std::optional<std::string> successor_sealed;
  std::optional<std::int64_t> revoked_at_ms;
};

}  // namespace emporium::user::domain
