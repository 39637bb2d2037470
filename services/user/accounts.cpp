#include "accounts.hpp"

#include "config.hpp"
#include "domain/refresh.hpp"
#include "domain/validation.hpp"
#include "sealed_pair.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/crypto.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

#include <algorithm>
#include <utility>

namespace emporium::user {
namespace {

constexpr const char* kInvalidLogin = "Invalid email or password";
constexpr const char* kInvalidRefresh = "Invalid refresh token";
constexpr const char* kTooManyLogins = "Too many failed logins, retry later";
constexpr const char* kTooManyPasswords =
    "Too many wrong currentPassword attempts for this account, retry later";
// Longer refresh tokens cannot be ours (ours are 43 characters); no need to hash them.
constexpr std::size_t kMaxRefreshTokenChars = 256;

using db::Tx;
using db::TxKind;

}  // namespace

AccountPolicy AccountPolicy::from(const UserConfig& config) {
  AccountPolicy policy;
  policy.refresh_token_ttl_s = config.refresh_token_ttl_s;
  policy.refresh_reuse_grace_s = config.refresh_reuse_grace_s;
  policy.login_per_email = config.login_per_email;
  policy.login_per_addr = config.login_per_addr;
  policy.register_per_addr = config.register_per_addr;
  policy.password_per_user = config.password_per_user;
  return policy;
}

Accounts::Accounts(db::Database& db, auth::PasswordHasher& hasher, const auth::JwtSigner& signer,
                   AccountPolicy policy, const obs::Logger* log, Clock clock, IdGenerator new_id)
    : db_(db),
      hasher_(hasher),
      signer_(signer),
      policy_(policy),
      log_(log),
      clock_(clock ? std::move(clock) : Clock(now_ms)),
      new_id_(new_id ? std::move(new_id) : IdGenerator(new_object_id)) {}

Accounts::NewRefresh Accounts::new_refresh_token() const {
  NewRefresh token;
  token.raw = random_token(32);
  token.hash = sha256_hex(token.raw);
  return token;
}

domain::RefreshToken Accounts::family_head(const NewRefresh& token, const std::string& user_id,
                                           std::int64_t now) const {
  domain::RefreshToken row;
  row.token_hash = token.hash;
  row.family_id = new_id_();
  row.user_id = user_id;
  row.issued_at_ms = now;
  row.expires_at_ms = now + policy_.refresh_token_ttl_s * 1000;
  return row;
}

Session Accounts::register_user(const Registration& registration, std::string_view client_address) {
  const std::int64_t now = clock_();
  const std::string limit_key = domain::register_addr_key(client_address);
  const domain::Verdict verdict = db_.with_tx(TxKind::Write, [&](Tx& tx) {
    const auto state = store::find_window(tx, limit_key);
    const domain::Verdict v = domain::check(state, policy_.register_per_addr, now);
    if (v.allowed) {
      store::save_window(tx, limit_key, domain::record(state, policy_.register_per_addr, now));
    }
    return v;
  });
  if (!verdict.allowed) {
    throw too_many_requests("Too many registrations from this address, retry later",
                            static_cast<long>(verdict.retry_after_s));
  }

  const auto email_taken = [] {
    return conflict("Email already registered", "email_taken")
        .with_errors({{"email", "Email already registered"}});
  };
  // Spares the argon2 work for the common case; the UNIQUE constraint settles races.
  if (db_.with_tx(TxKind::Read,
                  [&](Tx& tx) { return store::find_user_by_email(tx, registration.email); })) {
    throw email_taken();
  }

  domain::User user;
  user.id = new_id_();
  user.name = registration.name;
  user.email = registration.email;
  user.phone = registration.phone;
  user.role = std::string(domain::kRoleCustomer);
  user.password_hash = hasher_.hash(registration.password);
  user.created_at_ms = now;
  user.updated_at_ms = now;
  user.version = 0;

  const NewRefresh refresh = new_refresh_token();
  const domain::RefreshToken head = family_head(refresh, user.id, now);
  try {
    db_.with_tx(TxKind::Write, [&](Tx& tx) {
      store::insert_user(tx, user);
      store::insert_refresh_token(tx, head);
      if (events_) {
        events_->emit(tx, "user.registered",
                      {{"userId", user.id},
                       {"name", user.name},
                       {"email", user.email},
                       {"phone", user.phone ? Json(*user.phone) : Json(nullptr)}});
      }
    });
  } catch (const db::UniqueViolation&) {
    throw email_taken();
  }
  if (log_) log_->info("user registered", {{"userId", user.id}});
  return {user, {signer_.sign(user.id, user.role), refresh.raw}};
}

std::int64_t Accounts::reserve_or_throw(Tx& tx, const std::string& key, const domain::Limit& limit,
                                        std::int64_t now, const char* detail) const {
  if (limit.max <= 0) return 0;  // disabled
  if (const auto counted = store::reserve_window(tx, key, limit, now)) {
    return counted->window_start_ms;
  }
  // Full: nothing was counted. The stored window says how long it still runs (at most a whole
  // window: it may have been started by an attempt that read the clock a moment later).
  const domain::Verdict verdict = domain::check(store::find_window(tx, key), limit, now);
  const std::int64_t wait = verdict.allowed ? 1 : verdict.retry_after_s;
  throw too_many_requests(detail,
                          static_cast<long>(std::clamp<std::int64_t>(wait, 1, limit.window_s)));
}

Session Accounts::login(std::string_view email_input, std::string_view password,
                        std::string_view client_address) {
  const std::string email = domain::lower_ascii(email_input);
  const std::string email_key = domain::login_email_key(email, client_address);
  const std::string addr_key = domain::login_addr_key(client_address);

  // The attempt is counted as a failure before argon2, in the transaction that checks the limits
  // (DESIGN §6): N parallel guesses get at most the limit of real verifications. Each counter is
  // one conditional statement, so READ COMMITTED suffices on PostgreSQL (no 40001 on the hot row);
  // a 429 thrown after the email count rolls that count back.
  struct Before {
    std::int64_t addr_window_ms = 0;
    std::optional<domain::User> user;
  };
  const std::int64_t started = clock_();
  const Before before = db_.with_tx(TxKind::WriteCommitted, [&](Tx& tx) {
    Before b;
    reserve_or_throw(tx, email_key, policy_.login_per_email, started, kTooManyLogins);
    b.addr_window_ms =
        reserve_or_throw(tx, addr_key, policy_.login_per_addr, started, kTooManyLogins);
    b.user = store::find_user_by_email(tx, email);
    return b;
  });

  // Same work whether or not the account exists, so timing does not reveal accounts.
  bool ok = false;
  if (password.size() > domain::kMaxPasswordBytes) {
    hasher_.dummy_verify(password.substr(0, domain::kMaxPasswordBytes));
  } else if (!before.user) {
    hasher_.dummy_verify(password);
  } else {
    ok = hasher_.verify(before.user->password_hash, password);
  }
  if (!ok) throw unauthorized(kInvalidLogin);  // already counted

  domain::User user = *before.user;
  const std::string old_hash = user.password_hash;
  std::optional<std::string> new_hash;
  if (hasher_.needs_rehash(old_hash)) new_hash = hasher_.hash(password);

  const std::int64_t now = clock_();
  const NewRefresh refresh = new_refresh_token();
  const domain::RefreshToken head = family_head(refresh, user.id, now);
  // Every statement here decides by itself (a delete, a conditional refund, an insert of a new
  // key, a conditional re-hash), so READ COMMITTED is safe and the hot counter rows cannot fail
  // a successful login with serialization errors.
  const bool rehashed = db_.with_tx(TxKind::WriteCommitted, [&](Tx& tx) {
    store::delete_window(tx, email_key);  // success resets the email count
    if (before.addr_window_ms != 0) {
      store::refund_window(tx, addr_key, before.addr_window_ms);  // a success is no failure
    }
    store::insert_refresh_token(tx, head);
    return new_hash && store::update_password_hash(tx, user.id, *new_hash, old_hash);
  });
  if (rehashed) {
    user.password_hash = *new_hash;
    if (log_) log_->info("password re-hashed with current parameters", {{"userId", user.id}});
  }
  return {user, {signer_.sign(user.id, user.role), refresh.raw}};
}

TokenPair Accounts::refresh(std::string_view refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > kMaxRefreshTokenChars) {
    throw unauthorized(kInvalidRefresh);
  }
  const std::string hash = sha256_hex(refresh_token);
  const NewRefresh successor = new_refresh_token();  // outside: the same on a retried transaction
  const std::int64_t now = clock_();
  const std::int64_t grace_ms = policy_.refresh_reuse_grace_s * 1000;

  struct Outcome {
    domain::RefreshAction action = domain::RefreshAction::Reject;
    std::string refresh_raw;
    std::string access;  // the pair's access token
    std::string user_id;
    std::string role;
    std::string family_id;
  };
  const Outcome outcome = db_.with_tx(TxKind::Write, [&](Tx& tx) {
    Outcome out;
    const auto token = store::find_refresh_token(tx, hash);
    out.action = domain::decide_refresh(token, now, grace_ms);
    if (out.action == domain::RefreshAction::Reject) return out;
    out.family_id = token->family_id;
    if (out.action == domain::RefreshAction::Reuse) {
      store::revoke_family(tx, token->family_id, now);
      return out;
    }
    const auto user = store::find_user_by_id(tx, token->user_id);
    if (!user) {
      store::revoke_family(tx, token->family_id, now);
      out.action = domain::RefreshAction::Reject;
      return out;
    }
    out.user_id = user->id;
    out.role = user->role;
    if (out.action == domain::RefreshAction::Replay) {
      // The same pair again, once (DESIGN §6): only the presented old token can unseal it.
      const auto pair = unseal_successor(refresh_token, hash, *token->successor_sealed);
      store::clear_successor_sealed(tx, hash);
      if (!pair) {
        store::revoke_family(tx, token->family_id, now);
        out.action = domain::RefreshAction::Reject;
        return out;
      }
      out.refresh_raw = pair->refresh_token;
      out.access = pair->access_token;
      return out;
    }
    out.access = signer_.sign(user->id, user->role);
    const std::string sealed = seal_successor(refresh_token, hash, {successor.raw, out.access});
    if (!store::mark_refresh_token_used(tx, hash, now, successor.hash, sealed)) {
      out.action = domain::RefreshAction::Reject;  // cannot happen in a serialized transaction
      return out;
    }
    domain::RefreshToken next;
    next.token_hash = successor.hash;
    next.family_id = token->family_id;
    next.user_id = token->user_id;
    next.issued_at_ms = now;
    next.expires_at_ms = now + policy_.refresh_token_ttl_s * 1000;
    store::insert_refresh_token(tx, next);
    store::clear_predecessor_successor(tx, hash);
    out.refresh_raw = successor.raw;
    return out;
  });

  switch (outcome.action) {
    case domain::RefreshAction::Rotate:
    case domain::RefreshAction::Replay: return {outcome.access, outcome.refresh_raw};
    case domain::RefreshAction::Reuse:
      if (log_)
        log_->warn("refresh token reused; family revoked", {{"familyId", outcome.family_id}});
      break;
    case domain::RefreshAction::Reject: break;
  }
  throw unauthorized(kInvalidRefresh);
}

void Accounts::logout(std::string_view refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > kMaxRefreshTokenChars) return;
  const std::string hash = sha256_hex(refresh_token);
  const std::int64_t now = clock_();
  db_.with_tx(TxKind::Write, [&](Tx& tx) {
    if (const auto token = store::find_refresh_token(tx, hash)) {
      store::revoke_family(tx, token->family_id, now);
    }
  });
}

domain::User Accounts::current_user(std::string_view user_id) {
  auto user =
      db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_user_by_id(tx, user_id); });
  if (!user) throw unauthorized("User no longer exists");
  return std::move(*user);
}

domain::User Accounts::update_profile(std::string_view user_id, const ProfileChange& change) {
  domain::User current = current_user(user_id);
  if (change.empty()) return current;

  std::optional<std::string> new_hash;
  const std::string limit_key = domain::password_user_key(current.id);
  if (change.password) {
    // Counted before argon2, atomically, in the database (every instance agrees), as at login.
    const std::int64_t started = clock_();
    db_.with_tx(TxKind::WriteCommitted, [&](Tx& tx) {
      reserve_or_throw(tx, limit_key, policy_.password_per_user, started, kTooManyPasswords);
    });
    if (!hasher_.verify(current.password_hash, change.current_password)) {
      throw bad_request("currentPassword is incorrect",
                        {{"currentPassword", "currentPassword is incorrect"}});
    }
    new_hash = hasher_.hash(*change.password);
  }

  const std::int64_t now = clock_();
  auto updated = db_.with_tx(TxKind::Write, [&](Tx& tx) -> std::optional<domain::User> {
    auto row = store::find_user_by_id(tx, user_id);
    if (!row) return std::nullopt;
    if (new_hash && row->password_hash != current.password_hash) {
      throw conflict("The password was changed by another request; try again");
    }
    domain::User next = *row;
    if (change.name) next.name = *change.name;
    if (change.phone_present) next.phone = change.phone;
    if (new_hash) next.password_hash = *new_hash;
    if (!store::update_user_profile(tx, next, row->version, now)) {
      throw conflict("The user was changed by another request; try again");
    }
    if (new_hash) {
      store::revoke_user_tokens(tx, next.id, now);
      store::delete_window(tx, limit_key);  // the right password resets the count
    }
    next.version = row->version + 1;
    next.updated_at_ms = now;
    return next;
  });
  if (!updated) throw unauthorized("User no longer exists");
  if (new_hash && log_)
    log_->info("password changed; refresh tokens revoked", {{"userId", updated->id}});
  return std::move(*updated);
}

std::optional<domain::User> Accounts::find_user(std::string_view id) {
  return db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_user_by_id(tx, id); });
}

store::UserPage Accounts::list_users(std::string_view query_lower, std::int64_t page,
                                     std::int64_t limit) {
  return db_.with_tx(TxKind::Read, [&](Tx& tx) {
    return store::list_users(tx, query_lower, limit, (page - 1) * limit);
  });
}

void Accounts::require_admin(std::string_view caller_id) {
  const auto caller =
      db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_user_by_id(tx, caller_id); });
  if (!caller) throw unauthorized("User no longer exists");
  if (caller->role != domain::kRoleAdmin) throw forbidden("Admin role required");
}

domain::User Accounts::change_role(std::string_view actor_id, std::string_view id,
                                   std::string_view role) {
  const std::int64_t now = clock_();
  return db_.with_tx(TxKind::Write, [&](Tx& tx) {
    store::touch_admins_guard(tx);  // serializes role changes (no write skew on PostgreSQL)
    // Checked after the guard: a demotion of the actor that commits first is seen here, so a
    // demoted admin cannot slip a role change in (its token may still say admin).
    const auto actor = store::find_user_by_id(tx, actor_id);
    if (!actor) throw unauthorized("User no longer exists");
    if (actor->role != domain::kRoleAdmin) throw forbidden("Admin role required");
    auto user = store::find_user_by_id(tx, id);
    if (!user) throw not_found("User not found");
    if (user->role == role) return std::move(*user);
    if (user->role == domain::kRoleAdmin && role != domain::kRoleAdmin &&
        store::count_admins(tx) <= 1) {
      throw conflict("Cannot demote the last admin", "last_admin");
    }
    store::update_user_role(tx, id, role, now);
    user->role = std::string(role);
    user->version += 1;
    user->updated_at_ms = now;
    return std::move(*user);
  });
}

bool Accounts::ensure_first_admin(const FirstAdmin& admin) {
  const auto existing =
      db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_user_by_email(tx, admin.email); });
  if (existing) {
    if (existing->role != domain::kRoleAdmin && log_) {
      log_->warn("ADMIN_EMAIL belongs to a non-admin user; left unchanged",
                 {{"userId", existing->id}});
    }
    return false;
  }
  const std::int64_t now = clock_();
  domain::User user;
  user.id = new_id_();
  user.name = "Admin";
  user.email = admin.email;
  user.role = std::string(domain::kRoleAdmin);
  user.password_hash = hasher_.hash(admin.password);  // before the transaction: it may be retried
  user.created_at_ms = now;
  user.updated_at_ms = now;
  const bool created =
      db_.with_tx(TxKind::Write, [&](Tx& tx) { return store::insert_user_if_absent(tx, user); });
  if (created && log_) log_->info("first admin created", {{"userId", user.id}});
  return created;
}

void Accounts::sweep() {
  const std::int64_t now = clock_();
  const std::int64_t longest_window_s =
      std::max({policy_.login_per_email.window_s, policy_.login_per_addr.window_s,
                policy_.register_per_addr.window_s, policy_.password_per_user.window_s});
  db_.with_tx(TxKind::Write, [&](Tx& tx) {
    store::delete_expired_refresh_tokens(tx, now);
    store::clear_expired_successors(tx, now - policy_.refresh_reuse_grace_s * 1000);
    store::delete_stale_windows(tx, now - longest_window_s * 1000);
  });
}

}  // namespace emporium::user
