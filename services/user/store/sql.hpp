// Every SQL statement of user-service, as named constants with $N placeholders (the name doubles as
// its label in logs). Only the DML subset both backends share: timestamps are parameters computed
// in C++, no lower(), no FOR UPDATE, CASE instead of LEAST; DDL lives in migrations/.
#pragma once

#include <string_view>

namespace emporium::user::sql {

// ---- users -------------------------------------------------------------------------------------

inline constexpr std::string_view kSelectUserById = R"(
SELECT id, name, email, phone, role, password_hash, created_at, updated_at, version
FROM users WHERE id = $1)";

inline constexpr std::string_view kSelectUserByEmail = R"(
SELECT id, name, email, phone, role, password_hash, created_at, updated_at, version
FROM users WHERE email = $1)";

inline constexpr std::string_view kInsertUser = R"(
INSERT INTO users (id, name, name_lower, email, phone, role, password_hash, created_at, updated_at,
                   version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 0))";

// The first admin: several instances may start together, the loser of the race does nothing.
inline constexpr std::string_view kInsertUserIfAbsent = R"(
INSERT INTO users (id, name, name_lower, email, phone, role, password_hash, created_at, updated_at,
                   version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 0)
ON CONFLICT (email) DO NOTHING)";

inline constexpr std::string_view kUpdateUserProfile = R"(
UPDATE users
SET name = $2, name_lower = $3, phone = $4, password_hash = $5, updated_at = $6,
    version = version + 1
WHERE id = $1 AND version = $7)";

// Re-hash at login: the hash is not a document field, so `__v` and `updatedAt` stay; the old hash
// in the condition keeps a concurrent password change from being overwritten.
inline constexpr std::string_view kUpdatePasswordHash = R"(
UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3)";

inline constexpr std::string_view kUpdateUserRole = R"(
UPDATE users SET role = $2, updated_at = $3, version = version + 1 WHERE id = $1)";

inline constexpr std::string_view kCountAdmins = R"(
SELECT COUNT(*) FROM users WHERE role = 'admin')";

inline constexpr std::string_view kCountUsers = R"(
SELECT COUNT(*) FROM users)";

inline constexpr std::string_view kListUsers = R"(
SELECT id, name, email, phone, role, password_hash, created_at, updated_at, version
FROM users
ORDER BY created_at, id
LIMIT $1 OFFSET $2)";

// $1 is a LIKE pattern built from the ASCII lower-cased query with \ % _ escaped.
inline constexpr std::string_view kCountUsersMatching = R"(
SELECT COUNT(*) FROM users
WHERE email LIKE $1 ESCAPE '\' OR name_lower LIKE $1 ESCAPE '\')";

inline constexpr std::string_view kListUsersMatching = R"(
SELECT id, name, email, phone, role, password_hash, created_at, updated_at, version
FROM users
WHERE email LIKE $1 ESCAPE '\' OR name_lower LIKE $1 ESCAPE '\'
ORDER BY created_at, id
LIMIT $2 OFFSET $3)";

// ---- guards ------------------------------------------------------------------------------------

// Every role change updates this row first, so role changes serialize on both backends.
inline constexpr std::string_view kTouchAdminsGuard = R"(
UPDATE guards SET counter = counter + 1 WHERE name = 'admins')";

// ---- refresh tokens ----------------------------------------------------------------------------

inline constexpr std::string_view kSelectRefreshToken = R"(
SELECT token_hash, family_id, user_id, issued_at, expires_at, used_at, replaced_by,
       successor_sealed, revoked_at
FROM refresh_tokens WHERE token_hash = $1)";

inline constexpr std::string_view kInsertRefreshToken = R"(
INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5))";

// $4 is the successor pair sealed under a key only the holder of the old token can derive.
inline constexpr std::string_view kMarkRefreshTokenUsed = R"(
UPDATE refresh_tokens SET used_at = $2, replaced_by = $3, successor_sealed = $4
WHERE token_hash = $1 AND used_at IS NULL)";

inline constexpr std::string_view kClearSuccessorSealed = R"(
UPDATE refresh_tokens SET successor_sealed = NULL WHERE token_hash = $1)";

// Once the successor is itself presented, its predecessor's grace copy is no longer needed.
inline constexpr std::string_view kClearPredecessorSuccessor = R"(
UPDATE refresh_tokens SET successor_sealed = NULL
WHERE replaced_by = $1 AND successor_sealed IS NOT NULL)";

// Sealed pairs whose retry grace has passed (used before $1); uses the partial index.
inline constexpr std::string_view kClearExpiredSuccessors = R"(
UPDATE refresh_tokens SET successor_sealed = NULL
WHERE successor_sealed IS NOT NULL AND used_at < $1)";

inline constexpr std::string_view kRevokeFamily = R"(
UPDATE refresh_tokens SET revoked_at = $2, successor_sealed = NULL
WHERE family_id = $1 AND revoked_at IS NULL)";

inline constexpr std::string_view kRevokeUserTokens = R"(
UPDATE refresh_tokens SET revoked_at = $2, successor_sealed = NULL
WHERE user_id = $1 AND revoked_at IS NULL)";

inline constexpr std::string_view kDeleteExpiredRefreshTokens = R"(
DELETE FROM refresh_tokens WHERE expires_at < $1)";

// ---- rate limits -------------------------------------------------------------------------------

inline constexpr std::string_view kSelectRateWindow = R"(
SELECT window_start, count FROM rate_limits WHERE key = $1)";

inline constexpr std::string_view kUpsertRateWindow = R"(
INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, count = excluded.count)";

// Counts one attempt first, atomically (DESIGN §6): one statement that starts a new window when
// the stored one ended ($3 = now − window) or starts after $5 (now + the clock-skew tolerance: a
// clock step back), adds one while the count is below $4, and otherwise changes nothing and
// returns no row. Under PostgreSQL READ COMMITTED the WHERE is re-checked on the latest row
// version, so parallel attempts queue on the row lock instead of all reading the same old count.
inline constexpr std::string_view kReserveRateWindow = R"(
INSERT INTO rate_limits AS r (key, window_start, count) VALUES ($1, $2, 1)
ON CONFLICT (key) DO UPDATE
SET window_start = CASE WHEN r.window_start > $5 OR r.window_start <= $3 THEN $2
                        ELSE r.window_start END,
    count = CASE WHEN r.window_start > $5 OR r.window_start <= $3 THEN 1 ELSE r.count + 1 END
WHERE r.window_start > $5 OR r.window_start <= $3 OR r.count < $4
RETURNING window_start, count)";

// Gives back an attempt reserved in the window that started at $2 (a success is not a failure).
inline constexpr std::string_view kRefundRateWindow = R"(
UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0)";

inline constexpr std::string_view kDeleteRateWindow = R"(
DELETE FROM rate_limits WHERE key = $1)";

inline constexpr std::string_view kDeleteStaleRateWindows = R"(
DELETE FROM rate_limits WHERE window_start < $1)";

}  // namespace emporium::user::sql
