// The user-service use cases: registration, login with limits, refresh-token rotation, profile and
// role changes, the first admin. Each runs its argon2 work outside database transactions (a
// transaction may be run again) and its reads and writes through store/. Failures are thrown as
// typed HttpErrors where the fact is known; handlers only translate JSON to and from these calls.
//
// Limits count an attempt before the argon2 work, atomically, in the transaction that checks them
// (store::reserve_window), so parallel requests cannot all pass one check; a success gives the
// attempt back (or resets the count).
#pragma once

#include "domain/rate_limit.hpp"
#include "domain/user.hpp"
#include "store/user_store.hpp"

#include <emporium/auth/jwt.hpp>
#include <emporium/auth/password.hpp>
#include <emporium/db/database.hpp>
#include <emporium/events/events.hpp>
#include <emporium/obs/log.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::user {

struct FirstAdmin;
struct UserConfig;

struct AccountPolicy {
  std::int64_t refresh_token_ttl_s = 2592000;
  std::int64_t refresh_reuse_grace_s = 10;
  domain::Limit login_per_email{10, 900};
  domain::Limit login_per_addr{100, 60};
  domain::Limit register_per_addr{20, 3600};
  domain::Limit password_per_user{10, 900};

  static AccountPolicy from(const UserConfig& config);
};

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
};

struct Session {
  domain::User user;
  TokenPair tokens;
};

// Already validated and normalised by the caller (handlers + domain/validation).
struct Registration {
  std::string name;
  std::string email;  // ASCII lower-cased
  std::string password;
  std::optional<std::string> phone;
};

struct ProfileChange {
  std::optional<std::string> name;
  bool phone_present = false;        // the body had `phone` (a null clears it)
  std::optional<std::string> phone;  // the new number, or nullopt to clear
  std::optional<std::string> password;
  std::string current_password;  // required with `password` (the handler checks presence)

  bool empty() const { return !name && !phone_present && !password; }
};

class Accounts {
 public:
  using Clock = std::function<std::int64_t()>;
  using IdGenerator = std::function<std::string()>;

  Accounts(db::Database& db, auth::PasswordHasher& hasher, const auth::JwtSigner& signer,
           AccountPolicy policy, const obs::Logger* log = nullptr, Clock clock = {},
           IdGenerator new_id = {});

  // 429 over the per-address limit, 409 when the email is taken.
  Session register_user(const Registration& registration, std::string_view client_address);
  // 429 while a limit is exhausted, 401 `Invalid email or password` otherwise on failure.
  Session login(std::string_view email, std::string_view password, std::string_view client_address);
  // 401 `Invalid refresh token` for unknown, expired, revoked or reused tokens.
  TokenPair refresh(std::string_view refresh_token);
  // Revokes the token's family when the token is known; never fails for a bad token.
  void logout(std::string_view refresh_token);

  // 401 when the user no longer exists.
  domain::User current_user(std::string_view user_id);
  // 400 naming currentPassword when it is wrong, 429 while wrong answers for this user are over
  // their limit, 401 when the user no longer exists.
  domain::User update_profile(std::string_view user_id, const ProfileChange& change);

  // Admin power follows the STORED role at once, not the role claim of a token that may predate
  // a demotion: one primary-key read. 401 when the caller no longer exists, 403 unless admin.
  void require_admin(std::string_view caller_id);

  std::optional<domain::User> find_user(std::string_view id);
  // Registrations emit `user.registered` through `events` (null: none). Call before serving.
  void use_events(const events::Events* events) { events_ = events; }
  store::UserPage list_users(std::string_view query_lower, std::int64_t page, std::int64_t limit);
  // 403 unless `actor_id` is an admin in the database (checked in the same serialized
  // transaction as the change), 404 unknown user, 409 demoting the last admin.
  domain::User change_role(std::string_view actor_id, std::string_view id, std::string_view role);

  // Creates the admin unless that email exists; race-free across instances. True when created.
  bool ensure_first_admin(const FirstAdmin& admin);
  // Deletes expired refresh tokens and rate-limit windows older than every configured window, and
  // clears sealed successor pairs whose retry grace has passed.
  void sweep();

 private:
  struct NewRefresh {
    std::string raw;
    std::string hash;
  };
  NewRefresh new_refresh_token() const;
  domain::RefreshToken family_head(const NewRefresh& token, const std::string& user_id,
                                   std::int64_t now) const;
  // Counts one attempt for `key` under `limit` in `tx`, or throws 429 (`detail`) with the wait.
  // Returns the start of the window the attempt was counted in (0 when the limit is disabled).
  std::int64_t reserve_or_throw(db::Tx& tx, const std::string& key, const domain::Limit& limit,
                                std::int64_t now, const char* detail) const;

  db::Database& db_;
  auth::PasswordHasher& hasher_;
  const auth::JwtSigner& signer_;
  AccountPolicy policy_;
  const obs::Logger* log_;
  const events::Events* events_ = nullptr;
  Clock clock_;
  IdGenerator new_id_;
};

}  // namespace emporium::user
