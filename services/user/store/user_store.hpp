// Repository functions of user-service: each runs statements from store/sql.hpp on the transaction
// it is given and maps rows to the domain models. No decisions beyond "what the row says".
#pragma once

#include "domain/rate_limit.hpp"
#include "domain/user.hpp"

#include <emporium/db/database.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::user::store {

// ---- users
std::optional<domain::User> find_user_by_id(db::Tx& tx, std::string_view id);
std::optional<domain::User> find_user_by_email(db::Tx& tx, std::string_view email);
// Throws db::UniqueViolation when the email is taken.
void insert_user(db::Tx& tx, const domain::User& user);
// INSERT … ON CONFLICT (email) DO NOTHING; true when this call created the row.
bool insert_user_if_absent(db::Tx& tx, const domain::User& user);
// Writes name, phone and hash of `user` when the stored version is still `expected_version`;
// bumps the version and sets updated_at. False when the version moved.
bool update_user_profile(db::Tx& tx, const domain::User& user, std::int64_t expected_version,
                         std::int64_t now_ms);
// True when the stored hash was still `old_hash` and is now `new_hash`.
bool update_password_hash(db::Tx& tx, std::string_view id, std::string_view new_hash,
                          std::string_view old_hash);
void update_user_role(db::Tx& tx, std::string_view id, std::string_view role, std::int64_t now_ms);
std::int64_t count_admins(db::Tx& tx);
// Serializes role changes: call first in any transaction that may demote an admin.
void touch_admins_guard(db::Tx& tx);

struct UserPage {
  std::vector<domain::User> users;
  std::int64_t total = 0;
};
// `query_lower` empty: every user. Otherwise a substring of the lower-cased email or name.
UserPage list_users(db::Tx& tx, std::string_view query_lower, std::int64_t limit,
                    std::int64_t offset);
// `%text%` with \, % and _ escaped for `LIKE … ESCAPE '\'`.
std::string like_contains_pattern(std::string_view text);

// ---- refresh tokens
std::optional<domain::RefreshToken> find_refresh_token(db::Tx& tx, std::string_view token_hash);
void insert_refresh_token(db::Tx& tx, const domain::RefreshToken& token);
// False when the token was used meanwhile. `successor_sealed` is the sealed pair (sealed_pair.hpp).
bool mark_refresh_token_used(db::Tx& tx, std::string_view token_hash, std::int64_t used_at_ms,
                             std::string_view successor_hash, std::string_view successor_sealed);
void clear_successor_sealed(db::Tx& tx, std::string_view token_hash);
void clear_predecessor_successor(db::Tx& tx, std::string_view successor_hash);
// Clears the sealed pairs of tokens used before `used_before_ms` (their grace has passed).
std::int64_t clear_expired_successors(db::Tx& tx, std::int64_t used_before_ms);
std::int64_t revoke_family(db::Tx& tx, std::string_view family_id, std::int64_t now_ms);
std::int64_t revoke_user_tokens(db::Tx& tx, std::string_view user_id, std::int64_t now_ms);
std::int64_t delete_expired_refresh_tokens(db::Tx& tx, std::int64_t before_ms);

// ---- rate-limit windows
std::optional<domain::WindowState> find_window(db::Tx& tx, std::string_view key);
void save_window(db::Tx& tx, std::string_view key, const domain::WindowState& state);
void delete_window(db::Tx& tx, std::string_view key);
// One attempt counted atomically under `limit` (see sql::kReserveRateWindow): the window after
// counting it, or nullopt when the window is full and nothing was counted.
std::optional<domain::WindowState> reserve_window(db::Tx& tx, std::string_view key,
                                                  const domain::Limit& limit, std::int64_t now_ms);
// Takes back one attempt counted in the window that started at `window_start_ms`, if that window
// is still the stored one.
void refund_window(db::Tx& tx, std::string_view key, std::int64_t window_start_ms);
std::int64_t delete_stale_windows(db::Tx& tx, std::int64_t started_before_ms);

}  // namespace emporium::user::store
