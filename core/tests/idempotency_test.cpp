// Idempotency keys on SQLite and PostgreSQL: one execution per key under concurrency, replay,
// 422 for another request under a key, 409 while a claim is held, takeover after a lease, expiry.
#include "emporium/idempotency/idempotency.hpp"

#include "emporium/error/errors.hpp"
#include "emporium/testing/clock.hpp"
#include "emporium/testing/database.hpp"
#include "emporium/testing/http.hpp"
#include "emporium/testing/proxy.hpp"
#include "emporium/util/ids.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace emporium::idempotency {
namespace {

using db::Tx;
using db::TxKind;
using http::Method;
using http::Request;
using http::Response;
using testing::Backend;

db::MigrationSet effects_schema() {
  db::MigrationSet set;
  set.sqlite = {{1, "001_effects", "CREATE TABLE effects (id TEXT PRIMARY KEY, note TEXT)"}};
  set.postgres = set.sqlite;
  return set;
}

// A POST as the App hands it to a handler: route matched, JSON parsed, caller authenticated.
Request keyed_post(const std::string& user, const std::string& key, const Json& body,
                   const std::string& path = "/api/things") {
  auto request = testing::make_request(Method::Post, path, {{"Idempotency-Key", key}}, body.dump());
  request.route = "/api/things";
  request.set_json(body);
  request.principal = Principal{user, "customer", false, {}};
  return request;
}

class IdempotencyTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_.emplace(GetParam(), effects_schema(), "emporium_idem", 8);
  }

  db::Database& db() { return database_->db(); }
  std::int64_t effects() { return db().query("SELECT COUNT(*) FROM effects").one().integer(0); }
  Store store(Options options = {}) {
    return Store(options, [this] { return clock_.now(); });
  }
  Idempotency idempotency(Options options = {}) {
    return Idempotency(db(), nullptr, options, [this] { return clock_.now(); });
  }
  // The handler under test: one effect row, 201 with its id and a Location.
  static Response create(Tx& tx, const std::string& id) {
    tx.exec("INSERT INTO effects (id, note) VALUES ($1, 'made')", {id});
    return Response::json(201, Json{{"_id", id}}).set_header("Location", "/api/things/" + id);
  }

  testing::FakeClock clock_;
  std::optional<testing::TestDatabase> database_;
};

INSTANTIATE_TEST_SUITE_P(Backends, IdempotencyTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

TEST_P(IdempotencyTest, FiftyConcurrentRequestsWithOneKeyExecuteOnce) {
  auto idem = idempotency();
  const Json body{{"name", "lamp"}, {"quantity", 2}};
  constexpr int kRequests = 50;
  std::latch go(kRequests);
  std::mutex mutex;
  std::vector<Response> answers;
  std::atomic<int> in_flight{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&] {
      auto request = keyed_post("u1", "key-1", body);
      go.arrive_and_wait();
      try {
        auto answer =
            idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, new_object_id()); });
        std::lock_guard lock(mutex);
        answers.push_back(std::move(answer));
      } catch (const HttpError& e) {
        if (e.status() == 409) {
          ++in_flight;
        } else {
          ADD_FAILURE() << e.status() << " " << e.detail();
          ++other;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(effects(), 1);
  EXPECT_EQ(other.load(), 0);
  ASSERT_FALSE(answers.empty());
  EXPECT_EQ(answers.size() + static_cast<std::size_t>(in_flight.load()),
            static_cast<std::size_t>(kRequests));
  int replays = 0;
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, 201);
    EXPECT_EQ(answer.body, answers.front().body);
    EXPECT_EQ(answer.header("Location"), answers.front().header("Location"));
    if (answer.header("Idempotent-Replayed")) ++replays;
  }
  EXPECT_EQ(replays, static_cast<int>(answers.size()) - 1);
}

TEST_P(IdempotencyTest, ReplayRepeatsStatusHeadersAndBody) {
  auto idem = idempotency();
  const Json body{{"name", "lamp"}};
  auto first_request = keyed_post("u1", "k", body);
  const auto first =
      idem.run(first_request, TxKind::Write, [&](Tx& tx) { return create(tx, "a1"); });
  EXPECT_FALSE(first.header("Idempotent-Replayed"));
  // The same JSON written with other whitespace and key order is the same request.
  auto again = testing::make_request(Method::Post, "/api/things", {{"Idempotency-Key", "k"}},
                                     "{ \"name\" : \"lamp\" }");
  again.route = "/api/things";
  again.set_json(Json::parse(R"({"name":"lamp"})"));
  again.principal = Principal{"u1", "customer", false, {}};
  const auto replay = idem.run(again, TxKind::Write, [&](Tx& tx) { return create(tx, "a2"); });
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.content_type, first.content_type);
  EXPECT_EQ(replay.header("Location"), std::optional<std::string_view>("/api/things/a1"));
  EXPECT_EQ(replay.header("Idempotent-Replayed"), std::optional<std::string_view>("true"));
  EXPECT_EQ(effects(), 1);
}

TEST_P(IdempotencyTest, SameKeyWithAnotherRequestIs422) {
  auto idem = idempotency();
  auto first = keyed_post("u1", "k", Json{{"quantity", 1}});
  idem.run(first, TxKind::Write, [&](Tx& tx) { return create(tx, "a1"); });
  for (auto other : {keyed_post("u1", "k", Json{{"quantity", 2}}),
                     keyed_post("u1", "k", Json{{"quantity", 1}}, "/api/things?x=1")}) {
    try {
      idem.run(other, TxKind::Write, [&](Tx& tx) { return create(tx, "a2"); });
      ADD_FAILURE() << "expected 422";
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 422);
      EXPECT_EQ(e.code(), "idempotency_key_reused");
    }
  }
  EXPECT_EQ(effects(), 1);
}

TEST_P(IdempotencyTest, KeysOfTwoUsersOrTwoRoutesNeverCollide) {
  auto idem = idempotency();
  const Json body{{"name", "lamp"}};
  auto alice = keyed_post("alice", "shared-key", body);
  auto bob = keyed_post("bob", "shared-key", body);
  const auto a = idem.run(alice, TxKind::Write, [&](Tx& tx) { return create(tx, "alice-1"); });
  const auto b = idem.run(bob, TxKind::Write, [&](Tx& tx) { return create(tx, "bob-1"); });
  EXPECT_NE(a.body, b.body);
  EXPECT_FALSE(b.header("Idempotent-Replayed"));
  // A service's key and a user's key are apart too, and so are two route templates.
  auto service = keyed_post("", "shared-key", body);
  service.principal = Principal{"", "internal", true, "order"};
  idem.run(service, TxKind::Write, [&](Tx& tx) { return create(tx, "service-1"); });
  auto other_route = keyed_post("alice", "shared-key", body);
  other_route.route = "/api/other";
  idem.run(other_route, TxKind::Write, [&](Tx& tx) { return create(tx, "alice-2"); });
  EXPECT_EQ(effects(), 4);
}

TEST_P(IdempotencyTest, AFailedExecutionStoresNothingAndARetryExecutes) {
  auto idem = idempotency();
  auto request = keyed_post("u1", "k", Json{{"name", "lamp"}});
  EXPECT_THROW(idem.run(request, TxKind::Write,
                        [&](Tx& tx) -> Response {
                          create(tx, "a1");
                          throw conflict("out of stock");
                        }),
               HttpError);
  EXPECT_EQ(effects(), 0);
  const auto answer = idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a2"); });
  EXPECT_EQ(answer.status, 201);
  EXPECT_FALSE(answer.header("Idempotent-Replayed"));
  EXPECT_EQ(effects(), 1);
}

TEST_P(IdempotencyTest, UnknownCommitOutcomeResolvesToOneOutcomeOnRetry) {
  // The answer of a committed execution is lost (the client saw a 503 or a dropped
  // connection): the retry replays it, no second effect.
  auto idem = idempotency();
  auto request = keyed_post("u1", "k", Json{{"name", "lamp"}});
  idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a1"); });
  const auto retry = idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a2"); });
  EXPECT_EQ(retry.body, Json({{"_id", "a1"}}).dump());
  EXPECT_EQ(effects(), 1);
  // A two-phase execution whose final COMMIT did not happen (its process died): the claim
  // stays until its lease passes, then the retry executes with the same resource id.
  auto started = idem.start(keyed_post("u1", "k2", Json{{"name", "lamp"}}), "res-1");
  ASSERT_TRUE(started.claim);
  EXPECT_EQ(started.claim->resource_id, "res-1");
  try {
    idem.start(keyed_post("u1", "k2", Json{{"name", "lamp"}}), "res-2");
    ADD_FAILURE() << "expected 409";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.code(), "idempotency_key_in_use");
    ASSERT_EQ(e.headers().size(), 1u);
    EXPECT_EQ(e.headers()[0], (std::pair<std::string, std::string>{"Retry-After", "1"}));
  }
  clock_.advance_ms(Options{}.lease_ms + 1);
  auto retried = idem.start(keyed_post("u1", "k2", Json{{"name", "lamp"}}), "res-3");
  ASSERT_TRUE(retried.claim);
  EXPECT_EQ(retried.claim->resource_id, "res-1") << "the takeover must reuse the resource id";
  // The first execution, late, cannot complete any more: its claim is gone.
  try {
    db().transact(TxKind::Write, [&](Tx& tx) {
      create(tx, "late");
      idem.complete(tx, *started.claim, Response::json(201, Json::object()));
    });
    ADD_FAILURE() << "expected 409";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
  }
  db().transact(TxKind::Write, [&](Tx& tx) {
    idem.complete(tx, *retried.claim, create(tx, retried.claim->resource_id));
  });
  EXPECT_EQ(effects(), 2);  // a1 and res-1, never "late"
  const auto replay = idem.start(keyed_post("u1", "k2", Json{{"name", "lamp"}}));
  ASSERT_TRUE(replay.replay);
  EXPECT_EQ(replay.replay->body, Json({{"_id", "res-1"}}).dump());
}

TEST_P(IdempotencyTest, LostCommitOnPostgresResolvesToOneOutcomeOnRetry) {
  // A real lost COMMIT: PostgreSQL stops answering (a frozen proxy) after the COMMIT went out,
  // so the layer answers 503 without knowing whether it committed. Whatever the server made of
  // it, the retries with the same key end in one effect and a 201.
  if (GetParam() != Backend::Postgres) GTEST_SKIP() << "PostgreSQL only";
  const auto upstream = testing::pg_address(database_->url());
  testing::FreezableProxy proxy(upstream.host, upstream.port);
  auto frozen_db =
      db::Database::open(upstream.via(database_->url(), proxy.port()),
                         {.pool_size = 1, .statement_timeout_ms = 300, .connect_timeout_ms = 500});
  Idempotency idem(*frozen_db, nullptr, {}, [this] { return clock_.now(); });
  auto request = keyed_post("u1", "k", Json{{"name", "lamp"}});
  EXPECT_THROW(idem.run(request, TxKind::Write,
                        [&](Tx& tx) {
                          auto answer = create(tx, "first");
                          proxy.freeze();  // the COMMIT goes out, its answer never comes back
                          return answer;
                        }),
               db::Unavailable);
  proxy.thaw();
  std::optional<Response> answer;
  for (int attempt = 0; attempt < 100 && !answer; ++attempt) {
    try {
      answer = idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "second"); });
    } catch (const db::Unavailable&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(answer) << "no retry got an answer";
  EXPECT_EQ(answer->status, 201);
  EXPECT_EQ(effects(), 1);
  const bool committed = answer->header("Idempotent-Replayed").has_value();
  EXPECT_EQ(answer->body, Json({{"_id", committed ? "first" : "second"}}).dump());
}

TEST_P(IdempotencyTest, AbandonedClaimLetsTheRetryExecuteAtOnce) {
  auto idem = idempotency();
  auto started = idem.start(keyed_post("u1", "k", Json{{"name", "lamp"}}), "r1");
  ASSERT_TRUE(started.claim);
  idem.abandon(*started.claim);
  auto again = idem.start(keyed_post("u1", "k", Json{{"name", "lamp"}}), "r2");
  ASSERT_TRUE(again.claim);
  EXPECT_EQ(again.claim->resource_id, "r2");
}

TEST_P(IdempotencyTest, TwoPhaseRunReplaysAndAbandonsOnAnErrorButNotOnAnUnknownCommit) {
  auto idem = idempotency();
  int ids = 0;
  const auto new_id = [&] { return "res-" + std::to_string(++ids); };
  auto call = [&](const std::function<void()>& before_commit) {
    auto request = keyed_post("u1", "k2", Json{{"name", "lamp"}});
    return idem.run_two_phase(request, new_id, [&](const std::string& id, const auto& complete) {
      before_commit();
      return db().with_tx(TxKind::Write, [&](Tx& tx) {
        Response response = create(tx, id);
        complete(tx, response);
        return response;
      });
    });
  };
  // An error without effect: the claim is dropped, so the retry executes at once (new id).
  EXPECT_THROW(call([] { throw conflict("not now"); }), HttpError);
  EXPECT_EQ(effects(), 0);
  // An unknown COMMIT outcome keeps the claim: a retry meanwhile is 409, not a second execution.
  EXPECT_THROW(call([] { throw db::Unavailable("lost"); }), db::Unavailable);
  try {
    call([] {});
    ADD_FAILURE() << "a held claim must refuse the retry";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
  }
  // After its lease, the retry takes the claim over with the claim's own resource id, executes
  // once, and from then on the answer replays.
  clock_.advance_ms(Options{}.lease_ms + 1);
  const Response first = call([] {});
  EXPECT_EQ(first.status, 201);
  const Response replay = call([] { ADD_FAILURE() << "a replay must not execute"; });
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(effects(), 1);
  EXPECT_EQ(parse_json(first.body)["_id"], "res-2");  // the id the held claim carried
}

TEST_P(IdempotencyTest, KeysExpireAfterTheReplayWindowAndAreSwept) {
  auto idem = idempotency();
  auto request = keyed_post("u1", "k", Json{{"name", "lamp"}});
  idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a1"); });
  clock_.advance_ms(Options{}.replay_ttl_ms - 1);
  EXPECT_EQ(idem.store().sweep(db()), 0);
  auto replay = idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a2"); });
  EXPECT_TRUE(replay.header("Idempotent-Replayed"));
  clock_.advance_ms(1);
  // Past the window the key is new again, even with another body, before or after a sweep.
  auto other = keyed_post("u1", "k", Json{{"name", "desk"}});
  auto fresh = idem.run(other, TxKind::Write, [&](Tx& tx) { return create(tx, "a3"); });
  EXPECT_FALSE(fresh.header("Idempotent-Replayed"));
  auto stale = keyed_post("u1", "k-old", Json::object());
  idem.run(stale, TxKind::Write, [&](Tx& tx) { return create(tx, "a4"); });
  clock_.advance_ms(Options{}.replay_ttl_ms);
  EXPECT_EQ(idem.store().sweep(db()), 2);
  EXPECT_EQ(db().query("SELECT COUNT(*) FROM emporium_idempotency_keys").one().integer(0), 0);
  EXPECT_EQ(effects(), 3);
}

TEST_P(IdempotencyTest, RequestsWithoutAKeyRunPlainly) {
  auto idem = idempotency();
  auto request = testing::make_request(Method::Post, "/api/things", {}, "{}");
  request.route = "/api/things";
  request.principal = Principal{"u1", "customer", false, {}};
  idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a1"); });
  idem.run(request, TxKind::Write, [&](Tx& tx) { return create(tx, "a2"); });
  EXPECT_EQ(effects(), 2);
  EXPECT_FALSE(idem.start(request).claim);
}

TEST_P(IdempotencyTest, RunRefusesTransactionsThatCannotCommitTheClaimWithTheWork) {
  auto idem = idempotency();
  auto request = keyed_post("u1", "k", Json{{"name", "lamp"}});
  for (auto kind : {TxKind::Read, TxKind::Snapshot}) {
    EXPECT_THROW(idem.run(request, kind, [&](Tx& tx) { return create(tx, "a1"); }),
                 std::logic_error);
  }
  EXPECT_EQ(effects(), 0);
}

TEST(IdempotencyKey, MalformedKeysAre400AndAnonymousCallersAre401) {
  for (std::string bad : {std::string(), std::string(256, 'a'), std::string("has space"),
                          std::string("caf\xc3\xa9")}) {
    auto request = keyed_post("u1", bad, Json::object());
    try {
      key_of(request);
      ADD_FAILURE() << "expected 400 for '" << bad << "'";
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 400);
      ASSERT_EQ(e.errors().size(), 1u);
      EXPECT_EQ(e.errors()[0].field, "Idempotency-Key");
    }
  }
  EXPECT_TRUE(key_of(keyed_post("u1", std::string(255, 'a'), Json::object())));
  auto anonymous = keyed_post("u1", "k", Json::object());
  anonymous.principal.reset();
  try {
    key_of(anonymous);
    ADD_FAILURE() << "expected 401";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 401);
  }
}

}  // namespace
}  // namespace emporium::idempotency
