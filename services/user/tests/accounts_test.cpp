// The user-service flows (register, login limits, refresh rotation, profile and role changes, the
// first admin) against a real database: SQLite always, PostgreSQL when configured.
#include "accounts.hpp"
#include "config.hpp"
#include "test_support.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/crypto.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace emporium::user {
namespace {

using testing::Backend;
using testing::FakeClock;
using testing::TestDatabase;

std::string retry_after(const HttpError& e) {
  for (const auto& [name, value] : e.headers()) {
    if (name == "Retry-After") return value;
  }
  return "";
}

// Outcomes of `n` calls of `fn` released together on their own threads: HttpErrors with
// `status`, 429s with `Retry-After: <retry>`, and anything else (including no error at all).
struct BurstCounts {
  int answered = 0;
  int limited = 0;
  int other = 0;
};
BurstCounts parallel_burst(int n, int status, const std::string& retry,
                           const std::function<void()>& fn) {
  std::atomic<int> answered{0};
  std::atomic<int> limited{0};
  std::atomic<int> other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      while (!go) std::this_thread::yield();
      try {
        fn();
        ++other;
      } catch (const HttpError& e) {
        if (e.status() == status) {
          ++answered;
        } else if (e.status() == 429 && retry_after(e) == retry) {
          ++limited;
        } else {
          ++other;
        }
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  return {answered.load(), limited.load(), other.load()};
}

// Runs `fn`, expecting an HttpError; returns it for inspection.
template <class F>
HttpError expect_http_error(F&& fn, int status) {
  try {
    fn();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), status) << e.detail();
    return e;
  }
  ADD_FAILURE() << "expected HTTP " << status;
  return HttpError(0, "", "");
}

class AccountsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
    signer_ = std::make_unique<auth::JwtSigner>(testing::generate_ec_private_key_pem(), "test-kid",
                                                "emporium", 900);
    verifier_ = std::make_unique<auth::JwtVerifier>("emporium");
    verifier_->add_public_key(signer_->public_pem(), signer_->kid());
    hasher_ = std::make_unique<auth::PasswordHasher>(testing::fast_argon2(), 4, 64);
    policy_.login_per_email = {3, 900};
    policy_.login_per_addr = {5, 60};
    policy_.register_per_addr = {4, 3600};
    policy_.refresh_reuse_grace_s = 10;
    accounts_ = make_accounts();
  }

  std::unique_ptr<Accounts> make_accounts() {
    return std::make_unique<Accounts>(database_->db(), *hasher_, *signer_, policy_, nullptr,
                                      [this] { return clock_.now(); });
  }

  Session register_user(const std::string& email, const std::string& password = "correct horse",
                        const std::string& addr = "10.0.0.1") {
    return accounts_->register_user({"Test User", email, password, std::nullopt}, addr);
  }

  domain::User make_admin(const std::string& email) {
    const Session s = register_user(email);
    database_->db().with_tx(db::TxKind::Write, [&](db::Tx& tx) {
      store::update_user_role(tx, s.user.id, "admin", clock_.now());
    });
    return *accounts_->find_user(s.user.id);
  }

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<auth::JwtSigner> signer_;
  std::unique_ptr<auth::JwtVerifier> verifier_;
  std::unique_ptr<auth::PasswordHasher> hasher_;
  AccountPolicy policy_;
  FakeClock clock_;
  std::unique_ptr<Accounts> accounts_;
};

TEST_P(AccountsTest, RegisterCreatesACustomerWithWorkingTokens) {
  const Session s = accounts_->register_user(
      {"Ada", "ada@example.com", "correct horse", "+14155552671"}, "10.0.0.1");
  EXPECT_TRUE(is_object_id(s.user.id));
  EXPECT_EQ(s.user.role, "customer");
  EXPECT_EQ(s.user.phone, "+14155552671");
  EXPECT_EQ(s.user.version, 0);
  EXPECT_EQ(s.user.created_at_ms, clock_.now());
  const auto claims = verifier_->verify(s.tokens.access_token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->user_id, s.user.id);
  EXPECT_EQ(claims->role, "customer");
  EXPECT_EQ(s.tokens.refresh_token.size(), 43U);  // 32 bytes, base64url without padding

  const domain::User stored = accounts_->current_user(s.user.id);
  EXPECT_NE(stored.password_hash, "correct horse");
  EXPECT_TRUE(hasher_->verify(stored.password_hash, "correct horse"));
}

TEST_P(AccountsTest, RegisterConflictsOnATakenEmail) {
  register_user("ada@example.com");
  const HttpError e = expect_http_error([&] { register_user("ada@example.com"); }, 409);
  EXPECT_EQ(e.detail(), "Email already registered");
  ASSERT_EQ(e.errors().size(), 1U);
  EXPECT_EQ(e.errors()[0].field, "email");
}

TEST_P(AccountsTest, RegistrationIsLimitedPerAddress) {
  for (int i = 0; i < 4; ++i) register_user("u" + std::to_string(i) + "@example.com");
  const HttpError e = expect_http_error([&] { register_user("u9@example.com"); }, 429);
  EXPECT_EQ(retry_after(e), "3600");
  register_user("u9@example.com", "correct horse", "10.0.0.2");  // another address is not limited
  clock_.advance_s(3600);
  register_user("u10@example.com");  // the window ended
}

TEST_P(AccountsTest, LoginSucceedsWithAnyEmailCase) {
  const Session registered = register_user("ada@example.com");
  const Session s = accounts_->login("ADA@Example.com", "correct horse", "10.0.0.1");
  EXPECT_EQ(s.user.id, registered.user.id);
  EXPECT_TRUE(verifier_->verify(s.tokens.access_token));
  EXPECT_NE(s.tokens.refresh_token, registered.tokens.refresh_token);
}

TEST_P(AccountsTest, UnknownEmailAndWrongPasswordLookTheSame) {
  register_user("ada@example.com");
  const HttpError wrong = expect_http_error(
      [&] { accounts_->login("ada@example.com", "wrong password", "10.0.0.1"); }, 401);
  const HttpError unknown = expect_http_error(
      [&] { accounts_->login("nobody@example.com", "wrong password", "10.0.0.2"); }, 401);
  EXPECT_EQ(wrong.detail(), "Invalid email or password");
  EXPECT_EQ(unknown.detail(), wrong.detail());
  EXPECT_EQ(unknown.code(), wrong.code());
}

TEST_P(AccountsTest, FailedLoginsPerEmailAreLimitedAndSuccessResets) {
  register_user("ada@example.com");
  auto fail = [&] { accounts_->login("ada@example.com", "wrong password", "10.0.0.1"); };
  expect_http_error(fail, 401);
  expect_http_error(fail, 401);
  accounts_->login("ada@example.com", "correct horse", "10.0.0.1");  // resets the email count
  expect_http_error(fail, 401);
  expect_http_error(fail, 401);
  expect_http_error(fail, 401);
  clock_.advance_s(100);
  const HttpError limited = expect_http_error(fail, 429);
  EXPECT_EQ(limited.detail(), "Too many failed logins, retry later");
  EXPECT_EQ(retry_after(limited), "800");
  // Checked before verifying: even the right password waits.
  expect_http_error([&] { accounts_->login("ada@example.com", "correct horse", "10.0.0.1"); }, 429);
  // The key is (email, address): the same account from elsewhere is not locked out.
  accounts_->login("ada@example.com", "correct horse", "10.0.0.9");
  clock_.advance_s(800);
  accounts_->login("ada@example.com", "correct horse", "10.0.0.1");
}

TEST_P(AccountsTest, FailedLoginsPerAddressAreLimited) {
  for (int i = 0; i < 5; ++i) {
    expect_http_error(
        [&] {
          accounts_->login("u" + std::to_string(i) + "@example.com", "whatever1", "10.0.0.7");
        },
        401);
  }
  const HttpError e = expect_http_error(
      [&] { accounts_->login("other@example.com", "whatever1", "10.0.0.7"); }, 429);
  EXPECT_EQ(retry_after(e), "60");
}

TEST_P(AccountsTest, SeedParameterHashesAreRehashedAtLogin) {
  const Session s = register_user("ada@example.com");
  auth::PasswordHasher seed_hasher({1, 128, 2}, 1, 4);  // other parameters than the service's
  const std::string seed_hash = seed_hasher.hash("correct horse");
  ASSERT_TRUE(hasher_->needs_rehash(seed_hash));
  database_->db().with_tx(db::TxKind::Write, [&](db::Tx& tx) {
    store::update_password_hash(tx, s.user.id, seed_hash,
                                accounts_->current_user(s.user.id).password_hash);
  });

  accounts_->login("ada@example.com", "correct horse", "10.0.0.1");
  const domain::User after = accounts_->current_user(s.user.id);
  EXPECT_NE(after.password_hash, seed_hash);
  EXPECT_FALSE(hasher_->needs_rehash(after.password_hash));
  EXPECT_TRUE(hasher_->verify(after.password_hash, "correct horse"));
  EXPECT_EQ(after.version, s.user.version);  // not a document change
  accounts_->login("ada@example.com", "correct horse", "10.0.0.1");
}

TEST_P(AccountsTest, RefreshRotatesAndDetectsReuse) {
  const Session s = register_user("ada@example.com");
  const TokenPair first = accounts_->refresh(s.tokens.refresh_token);
  EXPECT_NE(first.refresh_token, s.tokens.refresh_token);
  const auto claims = verifier_->verify(first.access_token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->user_id, s.user.id);

  clock_.advance_s(11);  // past the grace window: reuse of the old token revokes the family
  const HttpError e = expect_http_error([&] { accounts_->refresh(s.tokens.refresh_token); }, 401);
  EXPECT_EQ(e.detail(), "Invalid refresh token");
  expect_http_error([&] { accounts_->refresh(first.refresh_token); }, 401);
}

TEST_P(AccountsTest, ARetryWithinGraceGetsTheSameSuccessorOnce) {
  const Session s = register_user("ada@example.com");
  const TokenPair first = accounts_->refresh(s.tokens.refresh_token);
  clock_.advance_s(5);
  const TokenPair retry = accounts_->refresh(s.tokens.refresh_token);
  EXPECT_EQ(retry.refresh_token, first.refresh_token);
  EXPECT_EQ(retry.access_token, first.access_token);  // the same pair, not a re-minted token
  EXPECT_TRUE(verifier_->verify(retry.access_token));
  // Only once: a second retry is reuse and revokes the family.
  expect_http_error([&] { accounts_->refresh(s.tokens.refresh_token); }, 401);
  expect_http_error([&] { accounts_->refresh(first.refresh_token); }, 401);
}

TEST_P(AccountsTest, OnceTheSuccessorIsUsedTheOldTokenIsReuse) {
  const Session s = register_user("ada@example.com");
  const TokenPair first = accounts_->refresh(s.tokens.refresh_token);
  const TokenPair second = accounts_->refresh(first.refresh_token);
  expect_http_error([&] { accounts_->refresh(s.tokens.refresh_token); }, 401);  // within grace
  expect_http_error([&] { accounts_->refresh(second.refresh_token); }, 401);    // family revoked
}

TEST_P(AccountsTest, RefreshRejectsUnknownAndExpiredTokensAndReadsTheCurrentRole) {
  expect_http_error([&] { accounts_->refresh("not-a-token"); }, 401);
  expect_http_error([&] { accounts_->refresh(""); }, 401);
  expect_http_error([&] { accounts_->refresh(std::string(10000, 'x')); }, 401);

  const Session s = register_user("ada@example.com");
  const domain::User root = make_admin("root@example.com");
  accounts_->change_role(root.id, s.user.id, "admin");
  const TokenPair pair = accounts_->refresh(s.tokens.refresh_token);
  EXPECT_EQ(verifier_->verify(pair.access_token)->role, "admin");

  clock_.advance_s(policy_.refresh_token_ttl_s);
  expect_http_error([&] { accounts_->refresh(pair.refresh_token); }, 401);
}

TEST_P(AccountsTest, LogoutRevokesTheFamilyOnly) {
  const Session a = register_user("ada@example.com");
  const Session b = accounts_->login("ada@example.com", "correct horse", "10.0.0.1");
  accounts_->logout(a.tokens.refresh_token);
  accounts_->logout("unknown");  // no error
  accounts_->logout("");
  expect_http_error([&] { accounts_->refresh(a.tokens.refresh_token); }, 401);
  accounts_->refresh(b.tokens.refresh_token);  // the other login's family still works
}

TEST_P(AccountsTest, ProfileUpdateBumpsTheVersion) {
  const Session s = accounts_->register_user(
      {"Ada", "ada@example.com", "correct horse", "+14155552671"}, "10.0.0.1");
  clock_.advance_s(1);
  ProfileChange change;
  change.name = "Ada Lovelace";
  change.phone_present = true;  // phone: null clears it
  const domain::User updated = accounts_->update_profile(s.user.id, change);
  EXPECT_EQ(updated.name, "Ada Lovelace");
  EXPECT_FALSE(updated.phone);
  EXPECT_EQ(updated.version, 1);
  EXPECT_EQ(updated.updated_at_ms, s.user.created_at_ms + 1000);
  EXPECT_EQ(updated.created_at_ms, s.user.created_at_ms);
  const domain::User stored = accounts_->current_user(s.user.id);
  EXPECT_EQ(stored.name, "Ada Lovelace");
  EXPECT_EQ(stored.version, 1);

  EXPECT_EQ(accounts_->update_profile(s.user.id, ProfileChange{}).version, 1);  // nothing to change
}

TEST_P(AccountsTest, PasswordChangeNeedsTheCurrentPasswordAndRevokesTokens) {
  const Session s = register_user("ada@example.com");
  ProfileChange wrong;
  wrong.password = "new password 1";
  wrong.current_password = "not it at all";
  const HttpError e = expect_http_error([&] { accounts_->update_profile(s.user.id, wrong); }, 400);
  ASSERT_EQ(e.errors().size(), 1U);
  EXPECT_EQ(e.errors()[0].field, "currentPassword");

  ProfileChange right = wrong;
  right.current_password = "correct horse";
  EXPECT_EQ(accounts_->update_profile(s.user.id, right).version, 1);
  expect_http_error([&] { accounts_->refresh(s.tokens.refresh_token); }, 401);
  expect_http_error([&] { accounts_->login("ada@example.com", "correct horse", "10.0.0.1"); }, 401);
  accounts_->login("ada@example.com", "new password 1", "10.0.0.1");
}

TEST_P(AccountsTest, AMissingUserIsUnauthorized) {
  expect_http_error([&] { accounts_->current_user(new_object_id()); }, 401);
  ProfileChange change;
  change.name = "x";
  expect_http_error([&] { accounts_->update_profile(new_object_id(), change); }, 401);
}

TEST_P(AccountsTest, TheLastAdminCannotBeDemoted) {
  const domain::User root = make_admin("root@example.com");
  const HttpError e =
      expect_http_error([&] { accounts_->change_role(root.id, root.id, "customer"); }, 409);
  EXPECT_EQ(e.detail(), "Cannot demote the last admin");

  const Session other = register_user("other@example.com");
  const domain::User promoted = accounts_->change_role(root.id, other.user.id, "admin");
  EXPECT_EQ(promoted.role, "admin");
  EXPECT_EQ(promoted.version, 1);
  EXPECT_EQ(accounts_->change_role(root.id, other.user.id, "admin").version,
            1);  // no change, no bump
  EXPECT_EQ(accounts_->change_role(root.id, root.id, "customer").role, "customer");
  expect_http_error([&] { accounts_->change_role(other.user.id, other.user.id, "customer"); }, 409);
  expect_http_error([&] { accounts_->change_role(other.user.id, new_object_id(), "admin"); }, 404);
}

TEST_P(AccountsTest, ConcurrentDemotionsLeaveOneAdmin) {
  std::vector<domain::User> admins;
  admins.reserve(4);
  for (int i = 0; i < 4; ++i)
    admins.push_back(make_admin("a" + std::to_string(i) + "@example.com"));
  std::atomic<int> demoted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  threads.reserve(admins.size());
  for (const auto& admin : admins) {
    threads.emplace_back([&, id = admin.id] {
      try {
        accounts_->change_role(id, id, "customer");  // each admin demotes itself
        ++demoted;
      } catch (const HttpError& e) {
        if (e.status() == 409) ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(demoted.load(), 3);
  EXPECT_EQ(refused.load(), 1);
  const std::int64_t admin_count =
      database_->db().with_tx(db::TxKind::Read, [](db::Tx& tx) { return store::count_admins(tx); });
  EXPECT_EQ(admin_count, 1);
}

TEST_P(AccountsTest, FirstAdminIsCreatedOnceByRacingInstances) {
  const FirstAdmin admin{"admin@example.com", "admin password"};
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      // Each "instance" has its own Accounts over the same database.
      auto instance = make_accounts();
      if (instance->ensure_first_admin(admin)) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  const Session s = accounts_->login("admin@example.com", "admin password", "10.0.0.1");
  EXPECT_EQ(s.user.role, "admin");
  EXPECT_FALSE(accounts_->ensure_first_admin(admin));
}

TEST_P(AccountsTest, ListPagesAndSearches) {
  for (int i = 0; i < 5; ++i) {
    clock_.advance_ms(1);
    register_user("user" + std::to_string(i) + "@example.com", "correct horse",
                  "10.0.1." + std::to_string(i));
  }
  const auto page = accounts_->list_users("", 2, 2);
  EXPECT_EQ(page.total, 5);
  ASSERT_EQ(page.users.size(), 2U);
  EXPECT_EQ(page.users[0].email, "user2@example.com");
  EXPECT_EQ(accounts_->list_users("user4", 1, 20).total, 1);
}

TEST_P(AccountsTest, SweepDeletesExpiredTokensAndStaleWindows) {
  const Session s = register_user("ada@example.com");
  expect_http_error([&] { accounts_->login("ada@example.com", "wrong pass", "10.0.0.1"); }, 401);
  clock_.advance_s(policy_.refresh_token_ttl_s + 1);
  accounts_->sweep();
  const auto token = database_->db().with_tx(db::TxKind::Read, [&](db::Tx& tx) {
    return store::find_refresh_token(tx, sha256_hex(s.tokens.refresh_token));
  });
  EXPECT_FALSE(token);
  const auto window = database_->db().with_tx(db::TxKind::Read, [&](db::Tx& tx) {
    return store::find_window(tx, domain::login_addr_key("10.0.0.1"));
  });
  EXPECT_FALSE(window);
}

// ---- issue 7: stored roles, limits counted first, no usable token at rest ----------------------

TEST_P(AccountsTest, ADemotedAdminsOldTokenCannotChangeRoles) {
  const domain::User root = make_admin("root@example.com");
  const Session x = register_user("x@example.com");
  accounts_->change_role(root.id, x.user.id, "admin");
  accounts_->require_admin(x.user.id);  // an admin now
  accounts_->change_role(root.id, x.user.id, "customer");

  // Whatever X's token says, the stored role decides, on every admin entry point.
  expect_http_error([&] { accounts_->require_admin(x.user.id); }, 403);
  expect_http_error([&] { accounts_->change_role(x.user.id, x.user.id, "admin"); }, 403);
  const Session other = register_user("other@example.com");
  expect_http_error([&] { accounts_->change_role(x.user.id, other.user.id, "admin"); }, 403);
  EXPECT_EQ(accounts_->current_user(x.user.id).role, "customer");
  EXPECT_EQ(accounts_->current_user(other.user.id).role, "customer");
  expect_http_error([&] { accounts_->require_admin(new_object_id()); }, 401);
  accounts_->require_admin(root.id);
}

TEST_P(AccountsTest, ParallelWrongPasswordsGetAtMostTheLimitOfVerifications) {
  policy_.login_per_email = {10, 900};
  policy_.login_per_addr = {1000, 60};
  // A clock that moves on every read, as real ones do: attempts read it before they queue on the
  // counter, so a window may have been started by an attempt that read it later.
  std::atomic<std::int64_t> ticks{0};
  accounts_ = std::make_unique<Accounts>(database_->db(), *hasher_, *signer_, policy_, nullptr,
                                         [&] { return clock_.now() + ticks++; });
  register_user("ada@example.com");
  constexpr int kParallel = 30;
  // A 401 is only ever answered after a real argon2 check.
  const BurstCounts burst = parallel_burst(kParallel, 401, "900", [&] {
    accounts_->login("ada@example.com", "wrong password", "10.0.0.1");
  });
  EXPECT_EQ(burst.answered, 10);
  EXPECT_EQ(burst.limited, kParallel - 10);
  EXPECT_EQ(burst.other, 0);
  const auto window = database_->db().with_tx(db::TxKind::Read, [&](db::Tx& tx) {
    return store::find_window(tx, domain::login_email_key("ada@example.com", "10.0.0.1"));
  });
  ASSERT_TRUE(window);
  EXPECT_EQ(window->count, 10);  // refused attempts are not counted
}

TEST_P(AccountsTest, ASuccessfulLoginGivesItsAddressAttemptBack) {
  policy_.login_per_addr = {2, 60};
  accounts_ = make_accounts();
  register_user("ada@example.com");
  // Successes are counted first like any attempt, then refunded: they never use up the
  // per-address failure budget.
  for (int i = 0; i < 5; ++i) accounts_->login("ada@example.com", "correct horse", "10.0.0.5");
  expect_http_error([&] { accounts_->login("ada@example.com", "wrong one", "10.0.0.5"); }, 401);
  expect_http_error([&] { accounts_->login("bob@example.com", "wrong one", "10.0.0.5"); }, 401);
  expect_http_error([&] { accounts_->login("ada@example.com", "correct horse", "10.0.0.5"); }, 429);
}

TEST_P(AccountsTest, AnAddressOverItsLimitDoesNotUseUpTheEmailCount) {
  policy_.login_per_email = {3, 900};
  policy_.login_per_addr = {1, 60};
  accounts_ = make_accounts();
  register_user("ada@example.com");
  expect_http_error([&] { accounts_->login("bob@example.com", "wrong one", "10.0.0.6"); }, 401);
  for (int i = 0; i < 5; ++i) {
    expect_http_error([&] { accounts_->login("ada@example.com", "wrong one", "10.0.0.6"); }, 429);
  }
  const auto window = database_->db().with_tx(db::TxKind::Read, [&](db::Tx& tx) {
    return store::find_window(tx, domain::login_email_key("ada@example.com", "10.0.0.6"));
  });
  EXPECT_FALSE(window);  // rolled back with the 429
}

TEST_P(AccountsTest, WrongCurrentPasswordsAreLimitedPerUser) {
  policy_.password_per_user = {10, 900};
  std::atomic<std::int64_t> ticks{0};  // moves on every read (see above)
  accounts_ = std::make_unique<Accounts>(database_->db(), *hasher_, *signer_, policy_, nullptr,
                                         [&] { return clock_.now() + ticks++; });
  const Session s = register_user("ada@example.com");
  const Session other = register_user("bob@example.com");
  ProfileChange wrong;
  wrong.password = "new password 1";
  wrong.current_password = "not it at all";
  constexpr int kParallel = 30;
  const BurstCounts burst =
      parallel_burst(kParallel, 400, "900", [&] { accounts_->update_profile(s.user.id, wrong); });
  EXPECT_EQ(burst.answered, 10);
  EXPECT_EQ(burst.limited, kParallel - 10);
  EXPECT_EQ(burst.other, 0);

  // Limited: even the right current password waits, and the password stays.
  ProfileChange right = wrong;
  right.current_password = "correct horse";
  const HttpError e = expect_http_error([&] { accounts_->update_profile(s.user.id, right); }, 429);
  EXPECT_EQ(retry_after(e), "900");
  // Only password changes are limited, and only this user's.
  ProfileChange rename;
  rename.name = "Ada L";
  EXPECT_EQ(accounts_->update_profile(s.user.id, rename).name, "Ada L");
  ProfileChange other_right = right;
  EXPECT_EQ(accounts_->update_profile(other.user.id, other_right).version, 1);

  clock_.advance_s(900);  // the window ended
  EXPECT_EQ(accounts_->update_profile(s.user.id, right).version, 2);
  accounts_->login("ada@example.com", "new password 1", "10.0.0.1");
}

TEST_P(AccountsTest, TheRightCurrentPasswordResetsTheCount) {
  policy_.password_per_user = {3, 900};
  accounts_ = make_accounts();
  const Session s = register_user("ada@example.com");
  ProfileChange wrong;
  wrong.password = "new password 1";
  wrong.current_password = "not it at all";
  expect_http_error([&] { accounts_->update_profile(s.user.id, wrong); }, 400);
  expect_http_error([&] { accounts_->update_profile(s.user.id, wrong); }, 400);
  ProfileChange right = wrong;
  right.current_password = "correct horse";
  accounts_->update_profile(s.user.id, right);
  wrong.password = "new password 2";
  for (int i = 0; i < 3; ++i) {
    expect_http_error([&] { accounts_->update_profile(s.user.id, wrong); }, 400);
  }
  expect_http_error([&] { accounts_->update_profile(s.user.id, wrong); }, 429);
}

// Every value of every row of refresh_tokens, as text.
std::vector<std::string> stored_token_cells(db::Database& db) {
  const db::Result rows = db.query("SELECT * FROM refresh_tokens");
  std::vector<std::string> cells;
  for (const auto& row : rows.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (!row.is_null(i) && !row.text(i).empty()) cells.push_back(row.text(i));
    }
  }
  return cells;
}

TEST_P(AccountsTest, TheTokenTableHoldsNoUsableToken) {
  const Session s = register_user("ada@example.com");
  const TokenPair first = accounts_->refresh(s.tokens.refresh_token);  // rotated: grace is open
  const std::vector<std::string> cells = stored_token_cells(database_->db());
  ASSERT_GE(cells.size(), 10U);
  for (const std::string& cell : cells) {
    EXPECT_EQ(cell.find(first.refresh_token), std::string::npos) << cell;
    EXPECT_EQ(cell.find(first.access_token), std::string::npos) << cell;
    EXPECT_FALSE(verifier_->verify(cell)) << cell;
  }
  // Tried as refresh tokens, none works (a stored value that did would rotate here).
  for (const std::string& cell : cells) {
    expect_http_error([&] { accounts_->refresh(cell); }, 401);
  }
  // The holder of the old token still gets the same pair within the grace, once.
  const TokenPair retry = accounts_->refresh(s.tokens.refresh_token);
  EXPECT_EQ(retry.refresh_token, first.refresh_token);
  EXPECT_EQ(retry.access_token, first.access_token);
}

TEST_P(AccountsTest, TheSealedPairIsClearedOnceTheGracePassed) {
  const Session s = register_user("ada@example.com");
  accounts_->refresh(s.tokens.refresh_token);
  const auto sealed = [&] {
    return database_->db()
        .with_tx(db::TxKind::Read,
                 [&](db::Tx& tx) {
                   return store::find_refresh_token(tx, sha256_hex(s.tokens.refresh_token));
                 })
        ->successor_sealed;
  };
  ASSERT_TRUE(sealed());
  clock_.advance_s(5);
  accounts_->sweep();
  EXPECT_TRUE(sealed());  // still inside the 10 s grace
  clock_.advance_s(6);
  accounts_->sweep();
  EXPECT_FALSE(sealed());
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountsTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::user
