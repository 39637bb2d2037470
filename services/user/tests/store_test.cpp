// Repository functions against a real database: SQLite always, PostgreSQL when EMPORIUM_TEST_PG_URL
// is set (skipped otherwise, failed with EMPORIUM_REQUIRE_PG=1).
#include "store/user_store.hpp"
#include "test_support.hpp"

#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

namespace emporium::user {
namespace {

using db::TxKind;
using testing::Backend;
using testing::TestDatabase;

constexpr std::int64_t kT0 = 1'700'000'000'000;

domain::User make_user(std::string name, std::string email, std::int64_t created = kT0) {
  domain::User user;
  user.id = new_object_id();
  user.name = std::move(name);
  user.email = std::move(email);
  user.role = "customer";
  user.password_hash = "$argon2id$fake";
  user.created_at_ms = created;
  user.updated_at_ms = created;
  return user;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
  }
  db::Database& db() { return database_->db(); }

  void insert(const domain::User& user) {
    db().with_tx(TxKind::Write, [&](db::Tx& tx) { store::insert_user(tx, user); });
  }

  std::unique_ptr<TestDatabase> database_;
};

TEST_P(StoreTest, InsertsAndFindsUsers) {
  domain::User user = make_user("Ada", "ada@example.com");
  user.phone = "+14155552671";
  insert(user);
  const auto by_id =
      db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_user_by_id(tx, user.id); });
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->name, "Ada");
  EXPECT_EQ(by_id->email, "ada@example.com");
  EXPECT_EQ(by_id->phone, "+14155552671");
  EXPECT_EQ(by_id->role, "customer");
  EXPECT_EQ(by_id->password_hash, "$argon2id$fake");
  EXPECT_EQ(by_id->created_at_ms, kT0);
  EXPECT_EQ(by_id->updated_at_ms, kT0);
  EXPECT_EQ(by_id->version, 0);

  const auto by_email = db().with_tx(
      TxKind::Read, [&](db::Tx& tx) { return store::find_user_by_email(tx, "ada@example.com"); });
  ASSERT_TRUE(by_email);
  EXPECT_EQ(by_email->id, user.id);
  EXPECT_TRUE(by_email->phone);
  EXPECT_FALSE(db().with_tx(
      TxKind::Read, [&](db::Tx& tx) { return store::find_user_by_id(tx, new_object_id()); }));
}

TEST_P(StoreTest, DuplicateEmailIsAUniqueViolation) {
  insert(make_user("Ada", "ada@example.com"));
  EXPECT_THROW(insert(make_user("Other", "ada@example.com")), db::UniqueViolation);
  const bool created = db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::insert_user_if_absent(tx, make_user("Other", "ada@example.com"));
  });
  EXPECT_FALSE(created);
  EXPECT_TRUE(db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::insert_user_if_absent(tx, make_user("New", "new@example.com"));
  }));
}

TEST_P(StoreTest, RoleIsCheckedByTheSchema) {
  domain::User user = make_user("Ada", "ada@example.com");
  user.role = "root";
  EXPECT_THROW(insert(user), db::CheckViolation);
}

TEST_P(StoreTest, ProfileUpdateChecksTheVersion) {
  domain::User user = make_user("Ada", "ada@example.com");
  user.phone = "+14155552671";
  insert(user);
  domain::User next = user;
  next.name = "Ada L.";
  next.phone.reset();
  next.password_hash = "$argon2id$new";
  EXPECT_TRUE(db().with_tx(
      TxKind::Write, [&](db::Tx& tx) { return store::update_user_profile(tx, next, 0, kT0 + 5); }));
  EXPECT_FALSE(db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::update_user_profile(tx, next, 0, kT0 + 6);  // stale version
  }));
  const auto stored =
      db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_user_by_id(tx, user.id); });
  EXPECT_EQ(stored->name, "Ada L.");
  EXPECT_FALSE(stored->phone);
  EXPECT_EQ(stored->password_hash, "$argon2id$new");
  EXPECT_EQ(stored->version, 1);
  EXPECT_EQ(stored->updated_at_ms, kT0 + 5);
  EXPECT_EQ(stored->created_at_ms, kT0);
}

TEST_P(StoreTest, PasswordHashUpdateNeedsTheOldHash) {
  const domain::User user = make_user("Ada", "ada@example.com");
  insert(user);
  EXPECT_FALSE(db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::update_password_hash(tx, user.id, "$new", "$not-the-old-one");
  }));
  EXPECT_TRUE(db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::update_password_hash(tx, user.id, "$new", user.password_hash);
  }));
  const auto stored =
      db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_user_by_id(tx, user.id); });
  EXPECT_EQ(stored->password_hash, "$new");
  EXPECT_EQ(stored->version, 0);  // the hash is not a document field
}

TEST_P(StoreTest, RolesAndAdminCount) {
  const domain::User a = make_user("A", "a@example.com");
  const domain::User b = make_user("B", "b@example.com");
  insert(a);
  insert(b);
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    store::touch_admins_guard(tx);
    EXPECT_EQ(store::count_admins(tx), 0);
    store::update_user_role(tx, a.id, "admin", kT0 + 1);
    EXPECT_EQ(store::count_admins(tx), 1);
  });
  const auto stored =
      db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_user_by_id(tx, a.id); });
  EXPECT_EQ(stored->role, "admin");
  EXPECT_EQ(stored->version, 1);
}

TEST_P(StoreTest, ListsInCreationOrderWithPaging) {
  for (int i = 0; i < 5; ++i) {
    insert(
        make_user("User " + std::to_string(i), "u" + std::to_string(i) + "@example.com", kT0 + i));
  }
  const auto page =
      db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::list_users(tx, "", 2, 2); });
  EXPECT_EQ(page.total, 5);
  ASSERT_EQ(page.users.size(), 2U);
  EXPECT_EQ(page.users[0].email, "u2@example.com");
  EXPECT_EQ(page.users[1].email, "u3@example.com");
}

TEST_P(StoreTest, SearchMatchesEmailOrNameCaseInsensitively) {
  insert(make_user("Grace Hopper", "grace@navy.example", kT0 + 1));
  insert(make_user("Alan Turing", "alan@example.org", kT0 + 2));
  insert(make_user("Ada", "ada@hopper-fans.example", kT0 + 3));
  auto search = [&](std::string q) {
    return db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::list_users(tx, q, 20, 0); });
  };
  const auto hopper = search("hopper");  // callers pass the query ASCII lower-cased
  EXPECT_EQ(hopper.total, 2);            // one by name (lower-cased column), one by email
  ASSERT_EQ(hopper.users.size(), 2U);
  EXPECT_EQ(hopper.users[0].name, "Grace Hopper");
  EXPECT_EQ(hopper.users[1].name, "Ada");
  EXPECT_EQ(search("example.org").total, 1);
  EXPECT_EQ(search("a").total, 3);
  EXPECT_EQ(search("zzz").total, 0);
}

TEST_P(StoreTest, SearchTreatsLikeWildcardsLiterally) {
  insert(make_user("100% real", "percent@example.com", kT0 + 1));
  insert(make_user("under_score", "underscore@example.com", kT0 + 2));
  insert(make_user("back\\slash", "backslash@example.com", kT0 + 3));
  insert(make_user("plain", "plain@example.com", kT0 + 4));
  auto names = [&](std::string q) {
    const auto page =
        db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::list_users(tx, q, 20, 0); });
    std::vector<std::string> out;
    for (const auto& u : page.users) out.push_back(u.name);
    return out;
  };
  EXPECT_EQ(names("%"), std::vector<std::string>{"100% real"});
  EXPECT_EQ(names("_"), std::vector<std::string>{"under_score"});
  EXPECT_EQ(names("\\"), std::vector<std::string>{"back\\slash"});
  EXPECT_EQ(store::like_contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
}

TEST_P(StoreTest, RefreshTokenLifecycle) {
  domain::RefreshToken head;
  head.token_hash = "hash-1";
  head.family_id = "family-1";
  head.user_id = "user-1";
  head.issued_at_ms = kT0;
  head.expires_at_ms = kT0 + 1000;
  db().with_tx(TxKind::Write, [&](db::Tx& tx) { store::insert_refresh_token(tx, head); });

  auto find = [&](std::string hash) {
    return db().with_tx(TxKind::Read,
                        [&](db::Tx& tx) { return store::find_refresh_token(tx, hash); });
  };
  auto found = find("hash-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->family_id, "family-1");
  EXPECT_EQ(found->expires_at_ms, kT0 + 1000);
  EXPECT_FALSE(found->used_at_ms);
  EXPECT_FALSE(found->revoked_at_ms);

  EXPECT_TRUE(db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::mark_refresh_token_used(tx, "hash-1", kT0 + 10, "hash-2", "sealed-2");
  }));
  EXPECT_FALSE(db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::mark_refresh_token_used(tx, "hash-1", kT0 + 11, "hash-3", "sealed-3");
  }));
  found = find("hash-1");
  EXPECT_EQ(found->used_at_ms, kT0 + 10);
  EXPECT_EQ(found->replaced_by, "hash-2");
  EXPECT_EQ(found->successor_sealed, "sealed-2");

  db().with_tx(TxKind::Write,
               [&](db::Tx& tx) { store::clear_predecessor_successor(tx, "hash-2"); });
  EXPECT_FALSE(find("hash-1")->successor_sealed);

  domain::RefreshToken second = head;
  second.token_hash = "hash-2";
  domain::RefreshToken other_user = head;
  other_user.token_hash = "hash-x";
  other_user.family_id = "family-x";
  other_user.user_id = "user-2";
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    store::insert_refresh_token(tx, second);
    store::insert_refresh_token(tx, other_user);
    EXPECT_EQ(store::revoke_family(tx, "family-1", kT0 + 20), 2);
    EXPECT_EQ(store::revoke_family(tx, "family-1", kT0 + 21), 0);  // already revoked
  });
  EXPECT_EQ(find("hash-2")->revoked_at_ms, kT0 + 20);
  EXPECT_FALSE(find("hash-x")->revoked_at_ms);
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    EXPECT_EQ(store::revoke_user_tokens(tx, "user-2", kT0 + 30), 1);
  });
  EXPECT_EQ(find("hash-x")->revoked_at_ms, kT0 + 30);

  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    EXPECT_EQ(store::delete_expired_refresh_tokens(tx, kT0 + 1001), 3);
  });
  EXPECT_FALSE(find("hash-1"));
}

TEST_P(StoreTest, RateWindowsUpsertAndDelete) {
  auto find = [&](std::string key) {
    return db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_window(tx, key); });
  };
  EXPECT_FALSE(find("login:addr:1.2.3.4"));
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    store::save_window(tx, "login:addr:1.2.3.4", {kT0, 1});
  });
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    store::save_window(tx, "login:addr:1.2.3.4", {kT0, 2});
  });
  const auto window = find("login:addr:1.2.3.4");
  ASSERT_TRUE(window);
  EXPECT_EQ(window->window_start_ms, kT0);
  EXPECT_EQ(window->count, 2);
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    store::save_window(tx, "old", {kT0 - 100'000, 9});
  });
  db().with_tx(TxKind::Write,
               [&](db::Tx& tx) { EXPECT_EQ(store::delete_stale_windows(tx, kT0 - 1), 1); });
  db().with_tx(TxKind::Write, [&](db::Tx& tx) { store::delete_window(tx, "login:addr:1.2.3.4"); });
  EXPECT_FALSE(find("login:addr:1.2.3.4"));
}

TEST_P(StoreTest, ExpiredSealedSuccessorsAreClearedBySweep) {
  for (const char* hash : {"old", "fresh"}) {
    domain::RefreshToken token;
    token.token_hash = hash;
    token.family_id = std::string("family-") + hash;
    token.user_id = "user-1";
    token.issued_at_ms = kT0;
    token.expires_at_ms = kT0 + 100'000;
    db().with_tx(TxKind::Write, [&](db::Tx& tx) { store::insert_refresh_token(tx, token); });
  }
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    store::mark_refresh_token_used(tx, "old", kT0 + 1'000, "next-old", "sealed-old");
    store::mark_refresh_token_used(tx, "fresh", kT0 + 9'000, "next-fresh", "sealed-fresh");
  });
  db().with_tx(TxKind::Write, [&](db::Tx& tx) {
    EXPECT_EQ(store::clear_expired_successors(tx, kT0 + 5'000), 1);
    EXPECT_EQ(store::clear_expired_successors(tx, kT0 + 5'000), 0);
  });
  const auto find = [&](const char* hash) {
    return db().with_tx(TxKind::Read,
                        [&](db::Tx& tx) { return store::find_refresh_token(tx, hash); });
  };
  EXPECT_FALSE(find("old")->successor_sealed);
  EXPECT_EQ(find("fresh")->successor_sealed, "sealed-fresh");
}

// The reservation is one statement: it counts up to the limit, then refuses without writing; a
// window that ended (or starts in the future after a clock step back) starts over.
TEST_P(StoreTest, ReserveCountsUpToTheLimitThenRefuses) {
  const domain::Limit limit{3, 60};
  const auto reserve = [&](std::int64_t now) {
    return db().with_tx(TxKind::WriteCommitted,
                        [&](db::Tx& tx) { return store::reserve_window(tx, "k", limit, now); });
  };
  for (std::int64_t n = 1; n <= 3; ++n) {
    const auto state = reserve(kT0 + n);
    ASSERT_TRUE(state) << n;
    EXPECT_EQ(state->window_start_ms, kT0 + 1);
    EXPECT_EQ(state->count, n);
  }
  EXPECT_FALSE(reserve(kT0 + 10));
  const auto stored =
      db().with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_window(tx, "k"); });
  EXPECT_EQ(stored->count, 3);  // the refused attempt changed nothing

  db().with_tx(TxKind::WriteCommitted, [&](db::Tx& tx) {
    store::refund_window(tx, "k", kT0 - 5);  // another window: no effect
    store::refund_window(tx, "k", kT0 + 1);
  });
  EXPECT_EQ(reserve(kT0 + 20)->count, 3);
  EXPECT_FALSE(reserve(kT0 + 21));

  const auto next = reserve(kT0 + 1 + 60'000);  // the window ended
  ASSERT_TRUE(next);
  EXPECT_EQ(next->window_start_ms, kT0 + 1 + 60'000);
  EXPECT_EQ(next->count, 1);
  // An attempt whose clock read is a little older than the window's start (it queued on the row,
  // or another instance started the window) counts in that window: it must not start over.
  EXPECT_EQ(reserve(kT0 + 1 + 59'000)->count, 2);
  EXPECT_EQ(reserve(kT0 + 1 + 59'500)->count, 3);
  EXPECT_FALSE(reserve(kT0 + 1 + 59'900));
  // A start far in the future is a clock step back: start over.
  const auto stepped_back = reserve(kT0 - 3'600'000);
  ASSERT_TRUE(stepped_back);
  EXPECT_EQ(stepped_back->window_start_ms, kT0 - 3'600'000);
  EXPECT_EQ(stepped_back->count, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::user
