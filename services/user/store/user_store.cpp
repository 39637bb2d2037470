#include "store/user_store.hpp"

#include "domain/validation.hpp"
#include "store/sql.hpp"

namespace emporium::user::store {
namespace {

using db::Params;
using db::Value;

Value text(std::string_view s) {
  return Value(std::string(s));
}

domain::User user_from_row(const db::Row& row) {
  domain::User user;
  user.id = row.text(0);
  user.name = row.text(1);
  user.email = row.text(2);
  user.phone = row.opt_text(3);
  user.role = row.text(4);
  user.password_hash = row.text(5);
  user.created_at_ms = row.integer(6);
  user.updated_at_ms = row.integer(7);
  user.version = row.integer(8);
  return user;
}

std::optional<domain::User> one_user(const db::Result& result) {
  if (result.empty()) return std::nullopt;
  return user_from_row(result.one());
}

Params user_insert_params(const domain::User& user) {
  return {text(user.id),
          text(user.name),
          text(domain::lower_ascii(user.name)),
          text(user.email),
          db::nullable(user.phone),
          text(user.role),
          text(user.password_hash),
          Value(user.created_at_ms)};
}

}  // namespace

std::optional<domain::User> find_user_by_id(db::Tx& tx, std::string_view id) {
  return one_user(tx.query(sql::kSelectUserById, {text(id)}));
}

std::optional<domain::User> find_user_by_email(db::Tx& tx, std::string_view email) {
  return one_user(tx.query(sql::kSelectUserByEmail, {text(email)}));
}

void insert_user(db::Tx& tx, const domain::User& user) {
  tx.exec(sql::kInsertUser, user_insert_params(user));
}

bool insert_user_if_absent(db::Tx& tx, const domain::User& user) {
  return tx.exec(sql::kInsertUserIfAbsent, user_insert_params(user)) > 0;
}

bool update_user_profile(db::Tx& tx, const domain::User& user, std::int64_t expected_version,
                         std::int64_t now_ms) {
  return tx.exec(sql::kUpdateUserProfile,
                 {text(user.id), text(user.name), text(domain::lower_ascii(user.name)),
                  db::nullable(user.phone), text(user.password_hash), Value(now_ms),
                  Value(expected_version)}) > 0;
}

bool update_password_hash(db::Tx& tx, std::string_view id, std::string_view new_hash,
                          std::string_view old_hash) {
  return tx.exec(sql::kUpdatePasswordHash, {text(id), text(new_hash), text(old_hash)}) > 0;
}

void update_user_role(db::Tx& tx, std::string_view id, std::string_view role, std::int64_t now_ms) {
  tx.exec(sql::kUpdateUserRole, {text(id), text(role), Value(now_ms)});
}

std::int64_t count_admins(db::Tx& tx) {
  return tx.query(sql::kCountAdmins).one().integer(0);
}

void touch_admins_guard(db::Tx& tx) {
  tx.exec(sql::kTouchAdminsGuard);
}

std::string like_contains_pattern(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

UserPage list_users(db::Tx& tx, std::string_view query_lower, std::int64_t limit,
                    std::int64_t offset) {
  UserPage page;
  db::Result rows;
  if (query_lower.empty()) {
    page.total = tx.query(sql::kCountUsers).one().integer(0);
    rows = tx.query(sql::kListUsers, {Value(limit), Value(offset)});
  } else {
    const std::string pattern = like_contains_pattern(query_lower);
    page.total = tx.query(sql::kCountUsersMatching, {text(pattern)}).one().integer(0);
    rows = tx.query(sql::kListUsersMatching, {text(pattern), Value(limit), Value(offset)});
  }
  page.users.reserve(rows.rows.size());
  for (const auto& row : rows.rows) page.users.push_back(user_from_row(row));
  return page;
}

std::optional<domain::RefreshToken> find_refresh_token(db::Tx& tx, std::string_view token_hash) {
  const auto result = tx.query(sql::kSelectRefreshToken, {text(token_hash)});
  if (result.empty()) return std::nullopt;
  const auto& row = result.one();
  domain::RefreshToken token;
  token.token_hash = row.text(0);
  token.family_id = row.text(1);
  token.user_id = row.text(2);
  token.issued_at_ms = row.integer(3);
  token.expires_at_ms = row.integer(4);
  token.used_at_ms = row.opt_integer(5);
  token.replaced_by = row.opt_text(6);
  token.successor_sealed = row.opt_text(7);
  token.revoked_at_ms = row.opt_integer(8);
  return token;
}

void insert_refresh_token(db::Tx& tx, const domain::RefreshToken& token) {
  tx.exec(sql::kInsertRefreshToken,
          {text(token.token_hash), text(token.family_id), text(token.user_id),
           Value(token.issued_at_ms), Value(token.expires_at_ms)});
}

bool mark_refresh_token_used(db::Tx& tx, std::string_view token_hash, std::int64_t used_at_ms,
                             std::string_view successor_hash, std::string_view successor_sealed) {
  return tx.exec(sql::kMarkRefreshTokenUsed, {text(token_hash), Value(used_at_ms),
                                              text(successor_hash), text(successor_sealed)}) > 0;
}

void clear_successor_sealed(db::Tx& tx, std::string_view token_hash) {
  tx.exec(sql::kClearSuccessorSealed, {text(token_hash)});
}

std::int64_t clear_expired_successors(db::Tx& tx, std::int64_t used_before_ms) {
  return tx.exec(sql::kClearExpiredSuccessors, {Value(used_before_ms)});
}

void clear_predecessor_successor(db::Tx& tx, std::string_view successor_hash) {
  tx.exec(sql::kClearPredecessorSuccessor, {text(successor_hash)});
}

std::int64_t revoke_family(db::Tx& tx, std::string_view family_id, std::int64_t now_ms) {
  return tx.exec(sql::kRevokeFamily, {text(family_id), Value(now_ms)});
}

std::int64_t revoke_user_tokens(db::Tx& tx, std::string_view user_id, std::int64_t now_ms) {
  return tx.exec(sql::kRevokeUserTokens, {text(user_id), Value(now_ms)});
}

std::int64_t delete_expired_refresh_tokens(db::Tx& tx, std::int64_t before_ms) {
  return tx.exec(sql::kDeleteExpiredRefreshTokens, {Value(before_ms)});
}

std::optional<domain::WindowState> find_window(db::Tx& tx, std::string_view key) {
  const auto result = tx.query(sql::kSelectRateWindow, {text(key)});
  if (result.empty()) return std::nullopt;
  return domain::WindowState{result.one().integer(0), result.one().integer(1)};
}

void save_window(db::Tx& tx, std::string_view key, const domain::WindowState& state) {
  tx.exec(sql::kUpsertRateWindow, {text(key), Value(state.window_start_ms), Value(state.count)});
}

std::optional<domain::WindowState> reserve_window(db::Tx& tx, std::string_view key,
                                                  const domain::Limit& limit, std::int64_t now_ms) {
  const auto result = tx.query(sql::kReserveRateWindow,
                               {text(key), Value(now_ms), Value(now_ms - limit.window_s * 1000),
                                Value(limit.max), Value(now_ms + domain::kClockSkewToleranceMs)});
  if (result.empty()) return std::nullopt;
  return domain::WindowState{result.one().integer(0), result.one().integer(1)};
}

void refund_window(db::Tx& tx, std::string_view key, std::int64_t window_start_ms) {
  tx.exec(sql::kRefundRateWindow, {text(key), Value(window_start_ms)});
}

void delete_window(db::Tx& tx, std::string_view key) {
  tx.exec(sql::kDeleteRateWindow, {text(key)});
}

std::int64_t delete_stale_windows(db::Tx& tx, std::int64_t started_before_ms) {
  return tx.exec(sql::kDeleteStaleRateWindows, {Value(started_before_ms)});
}

}  // namespace emporium::user::store
