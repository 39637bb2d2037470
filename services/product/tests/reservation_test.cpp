// Stock that cannot be oversold: reservations, commits, releases, expiry and deduct against a real
// database, including many threads and two "instances" (two connection pools on one database).
#include "product_service.hpp"
#include "test_support.hpp"

#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace emporium::product {
namespace {

using testing::Backend;
using testing::TestDatabase;

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}

struct Counts {
  std::int64_t on_hand = 0;
  std::int64_t held = 0;
};

class ReservationTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
    CatalogOptions options;
    options.reservation_ttl_ms = 60'000;
    catalog_ = std::make_unique<Catalog>(database_->db(), options, [this] { return clock_.now(); });
  }

  std::string product(std::int64_t stock) {
    return catalog_->create(testing::fields("P", 100, "c", stock)).id;
  }

  std::string product(const std::string& name, std::int64_t price_minor, std::int64_t stock) {
    return catalog_->create(testing::fields(name, price_minor, "c", stock)).id;
  }

  void reprice(const std::string& id, const std::string& name, std::int64_t price_minor) {
    domain::ProductFields change;
    change.name = name;
    change.price_minor = price_minor;
    catalog_->update(id, change, {std::nullopt, catalog_->find(id)->version});
  }

  // The snapshot stored with a reservation's line: {name, price_minor}.
  std::pair<std::string, std::int64_t> stored_snapshot(const std::string& reservation_id,
                                                       const std::string& product_id) {
    const auto r = database_->db().query(
        "SELECT name, price_minor FROM reservation_lines WHERE reservation_id = $1 AND "
        "product_id = $2",
        {reservation_id, product_id});
    return {r.one().text(0), r.one().integer(1)};
  }

  Counts counts(const std::string& id) {
    const auto r = database_->db().query("SELECT on_hand, held FROM products WHERE id = $1", {id});
    return {r.one().integer(0), r.one().integer(1)};
  }

  testing::FakeClock clock_;
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_P(ReservationTest, ConcurrentOneUnitReservationsNeverOversell) {
  const std::string id = product(50);
  // A second pool on the same database stands in for a second instance.
  auto second_db = db::Database::open(database_->url(), db::Options{8, 5000, 12});
  CatalogOptions options;
  Catalog second(*second_db, options, [this] { return clock_.now(); });

  constexpr int kThreads = 200;
  std::atomic<int> held{0};
  std::atomic<int> short_stock{0};
  std::atomic<int> busy{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  threads.reserve(400);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Catalog& catalog = i % 2 == 0 ? *catalog_ : second;
      try {
        catalog.reserve({"order-" + std::to_string(i), {{id, 1}}});
        ++held;
      } catch (const HttpError& e) {
        if (e.status() == 409) {
          ++short_stock;
        } else if (e.status() == 503) {
          ++busy;
        } else {
          ++other;
        }
      } catch (...) {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(held.load(), 50);
  EXPECT_EQ(held + short_stock + busy, kThreads);
  EXPECT_EQ(busy.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(counts(id).held, 50);
  EXPECT_EQ(counts(id).on_hand, 50);
  EXPECT_EQ(catalog_->find(id)->stock(), 0);
}

TEST_P(ReservationTest, MultiLineWithOneShortLineHoldsNothing) {
  const std::string a = product(5);
  const std::string b = product(1);
  const std::string unknown = new_object_id();
  try {
    catalog_->reserve({"order-1", domain::merge_lines({{a, 2}, {b, 2}, {unknown, 1}, {a, 1}})});
    FAIL() << "reserved more than there is";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
    const Json& lines = e.extra()["shortLines"];
    ASSERT_EQ(lines.size(), 2u);
    std::map<std::string, Json> by_id;
    for (const auto& line : lines) by_id[line["productId"]] = line;
    EXPECT_EQ(by_id[b]["requested"], 2);
    EXPECT_EQ(by_id[b]["available"], 1);
    EXPECT_EQ(by_id[unknown]["requested"], 1);
    EXPECT_EQ(by_id[unknown]["available"], 0);
  }
  EXPECT_EQ(counts(a).held, 0);
  EXPECT_EQ(counts(b).held, 0);
  EXPECT_EQ(status_of([&] { catalog_->commit("order-1"); }), 404);  // nothing was recorded
  // With enough stock the same id now succeeds.
  catalog_->adjust_stock(b, 5);
  const auto ok = catalog_->reserve({"order-1", {{a, 3}, {b, 2}}});
  EXPECT_FALSE(ok.replayed);
  EXPECT_EQ(counts(a).held, 3);
  EXPECT_EQ(counts(b).held, 2);
}

TEST_P(ReservationTest, RetriedReserveReplaysAndHoldsOnce) {
  const std::string a = product(10);
  const auto first = catalog_->reserve({"order-1", {{a, 4}}});
  clock_.advance_ms(1000);
  const auto again = catalog_->reserve({"order-1", {{a, 4}}});
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.reservation.expires_at_ms, first.reservation.expires_at_ms);
  EXPECT_EQ(again.reservation.lines, first.reservation.lines);
  EXPECT_EQ(counts(a).held, 4);
  EXPECT_EQ(status_of([&] { catalog_->reserve({"order-1", {{a, 5}}}); }), 422);
  EXPECT_EQ(status_of([&] { catalog_->deduct(a, {"order-1", 4}); }), 422);
  EXPECT_EQ(counts(a).held, 4);
}

TEST_P(ReservationTest, ConcurrentRetriesOfOneReservationHoldOnce) {
  const std::string a = product(100);
  std::vector<std::thread> threads;
  threads.reserve(400);
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      if (status_of([&] { catalog_->reserve({"order-1", {{a, 3}}}); }) == 0) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(counts(a).held, 3);
}

TEST_P(ReservationTest, CommitIsIdempotentAndTakesStockOnce) {
  const std::string a = product(10);
  const std::string b = product(10);
  catalog_->reserve({"order-1", {{a, 2}, {b, 3}}});
  const auto committed = catalog_->commit("order-1");
  EXPECT_EQ(committed.state, domain::ReservationState::Committed);
  EXPECT_EQ(catalog_->commit("order-1").state, domain::ReservationState::Committed);
  EXPECT_EQ(counts(a).on_hand, 8);
  EXPECT_EQ(counts(a).held, 0);
  EXPECT_EQ(counts(b).on_hand, 7);
  EXPECT_FALSE(catalog_->release("order-1"));  // committed stays committed
  EXPECT_EQ(counts(a).on_hand, 8);
  EXPECT_EQ(catalog_->find(a)->version, 0);
  EXPECT_EQ(status_of([&] { catalog_->commit("unknown"); }), 404);
}

TEST_P(ReservationTest, ReleaseOnceThenFalse) {
  const std::string a = product(10);
  catalog_->reserve({"order-1", {{a, 6}}});
  EXPECT_EQ(catalog_->find(a)->stock(), 4);
  EXPECT_TRUE(catalog_->release("order-1"));
  EXPECT_FALSE(catalog_->release("order-1"));
  EXPECT_EQ(counts(a).held, 0);
  EXPECT_EQ(counts(a).on_hand, 10);
  EXPECT_EQ(status_of([&] { catalog_->commit("order-1"); }), 409);
  EXPECT_EQ(status_of([&] { catalog_->release("unknown"); }), 404);
  // Replaying the reserve answers the original reservation; it does not hold again.
  EXPECT_TRUE(catalog_->reserve({"order-1", {{a, 6}}}).replayed);
  EXPECT_EQ(counts(a).held, 0);
}

TEST_P(ReservationTest, CommitAndReleaseRaceSettlesOnce) {
  const std::string a = product(1000);
  constexpr int kOrders = 30;
  for (int i = 0; i < kOrders; ++i) catalog_->reserve({"o" + std::to_string(i), {{a, 1}}});
  std::vector<std::thread> threads;
  threads.reserve(400);
  std::atomic<int> committed{0};
  std::atomic<int> released{0};
  for (int i = 0; i < kOrders; ++i) {
    for (int k = 0; k < 2; ++k) {
      threads.emplace_back([&, i, k] {
        const std::string id = "o" + std::to_string(i);
        if (k == 0) {
          if (status_of([&] { catalog_->commit(id); }) == 0) ++committed;
        } else if (catalog_->release(id)) {
          ++released;
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(committed + released, kOrders);
  EXPECT_EQ(counts(a).held, 0);
  EXPECT_EQ(counts(a).on_hand, 1000 - committed.load());
}

TEST_P(ReservationTest, OppositeLineOrdersDoNotDeadlock) {
  const std::string a = product(1000);
  const std::string b = product(1000);
  std::vector<std::thread> threads;
  threads.reserve(400);
  std::atomic<int> failures{0};
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      const std::vector<domain::Line> lines = i % 2 ? std::vector<domain::Line>{{a, 1}, {b, 1}}
                                                    : std::vector<domain::Line>{{b, 1}, {a, 1}};
      if (status_of([&] {
            catalog_->reserve({"o" + std::to_string(i), domain::merge_lines(lines)});
          }) != 0) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(counts(a).held, 40);
  EXPECT_EQ(counts(b).held, 40);
}

TEST_P(ReservationTest, SweepReleasesExpiredReservationsOnce) {
  const std::string a = product(10);
  catalog_->reserve({"old", {{a, 3}}});
  clock_.advance_ms(30'000);
  catalog_->reserve({"new", {{a, 2}}});
  EXPECT_EQ(catalog_->sweep().released, 0);
  clock_.advance_ms(30'001);  // "old" is past its 60 s, "new" is not
  EXPECT_EQ(catalog_->sweep().released, 1);
  EXPECT_EQ(catalog_->sweep().released, 0);
  EXPECT_EQ(counts(a).held, 2);
  EXPECT_EQ(catalog_->find(a)->stock(), 8);
  EXPECT_EQ(status_of([&] { catalog_->commit("old"); }), 409);
  EXPECT_FALSE(catalog_->release("old"));
  EXPECT_EQ(catalog_->commit("new").state, domain::ReservationState::Committed);
  EXPECT_EQ(counts(a).on_hand, 8);
}

TEST_P(ReservationTest, CommitAfterExpiryIsRefusedAndReleases) {
  const std::string a = product(10);
  catalog_->reserve({"late", {{a, 4}}});
  clock_.advance_ms(60'000);
  try {
    catalog_->commit("late");
    FAIL() << "committed an expired reservation";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.code(), "reservation_expired");
  }
  EXPECT_EQ(counts(a).held, 0);
  EXPECT_EQ(counts(a).on_hand, 10);
}

TEST_P(ReservationTest, ConcurrentSweepersReleaseOnce) {
  const std::string a = product(100);
  for (int i = 0; i < 25; ++i) catalog_->reserve({"o" + std::to_string(i), {{a, 2}}});
  clock_.advance_ms(120'000);
  std::atomic<std::int64_t> released{0};
  std::vector<std::thread> threads;
  threads.reserve(400);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { released += catalog_->sweep().released; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(released.load(), 25);
  EXPECT_EQ(counts(a).held, 0);
  EXPECT_EQ(counts(a).on_hand, 100);
}

TEST_P(ReservationTest, FinishedReservationsArePurgedAfterTheRetention) {
  const std::string a = product(10);
  catalog_->reserve({"o1", {{a, 1}}});
  catalog_->commit("o1");
  clock_.advance_ms(CatalogOptions{}.retain_finished_ms + 1);
  EXPECT_EQ(catalog_->sweep().purged, 1);
  EXPECT_EQ(status_of([&] { catalog_->commit("o1"); }), 404);
  EXPECT_EQ(counts(a).on_hand, 9);
}

TEST_P(ReservationTest, DeductIsACommittedReservation) {
  const std::string a = product(10);
  catalog_->reserve({"other", {{a, 2}}});
  const auto first = catalog_->deduct(a, {"order-1", 3});
  EXPECT_EQ(first.stock, 5);
  EXPECT_EQ(counts(a).on_hand, 7);
  EXPECT_EQ(counts(a).held, 2);
  catalog_->adjust_stock(a, 10);
  const auto again = catalog_->deduct(a, {"order-1", 3});
  EXPECT_EQ(again.stock, 5);  // the original answer
  EXPECT_EQ(counts(a).on_hand, 17);
  EXPECT_EQ(status_of([&] { catalog_->deduct(a, {"order-1", 4}); }), 422);
  EXPECT_EQ(status_of([&] { catalog_->reserve({"order-1", {{a, 3}}}); }), 422);
  EXPECT_EQ(catalog_->commit("order-1").state, domain::ReservationState::Committed);
  try {
    catalog_->deduct(a, {"order-2", 16});
    FAIL() << "deducted more than there is";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.extra()["shortLines"][0]["available"], 15);
  }
  EXPECT_EQ(status_of([&] { catalog_->deduct(new_object_id(), {"order-3", 1}); }), 404);
  catalog_->remove(a);
  EXPECT_EQ(status_of([&] { catalog_->deduct(a, {"order-4", 1}); }), 404);
}

TEST_P(ReservationTest, ConcurrentDeductsNeverOversell) {
  const std::string a = product(20);
  std::vector<std::thread> threads;
  threads.reserve(400);
  std::atomic<int> ok{0};
  for (int i = 0; i < 60; ++i) {
    threads.emplace_back([&, i] {
      if (status_of([&] { catalog_->deduct(a, {"d" + std::to_string(i % 30), 1}); }) == 0) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  // 30 distinct ids, each sent twice: 20 units go to 20 ids, both copies of those answer 200.
  EXPECT_EQ(counts(a).on_hand, 0);
  EXPECT_EQ(ok.load(), 40);
}

// Two instances with large pools: 32 transactions contend for one row at a time. At PostgreSQL's
// REPEATABLE READ most of them fail with 40001 and some exhaust their retries (measured: 46 of 600
// answered 503); stock transactions run at READ COMMITTED, where the conditional UPDATE waits and
// re-checks instead, so none fails.
TEST_P(ReservationTest, HeavyContentionNeverAnswersBusy) {
  const std::string id = product(200);
  auto first_db = db::Database::open(database_->url(), db::Options{16, 5000, 12});
  auto second_db = db::Database::open(database_->url(), db::Options{16, 5000, 12});
  Catalog first(*first_db, CatalogOptions{}, [this] { return clock_.now(); });
  Catalog second(*second_db, CatalogOptions{}, [this] { return clock_.now(); });
  std::atomic<int> held{0};
  std::atomic<int> short_stock{0};
  std::vector<std::thread> threads;
  threads.reserve(400);
  for (int i = 0; i < 400; ++i) {
    threads.emplace_back([&, i] {
      Catalog& catalog = i % 2 == 0 ? first : second;
      const int status = status_of([&] { catalog.reserve({"o" + std::to_string(i), {{id, 1}}}); });
      if (status == 0) ++held;
      if (status == 409) ++short_stock;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(held.load(), 200);
  EXPECT_EQ(short_stock.load(), 200);
  EXPECT_EQ(counts(id).held, 200);
}

// DESIGN §12: the price charged is the price held. Each line carries the name and price read by
// the statement that held its units; a later price change alters neither a replay nor the commit.
TEST_P(ReservationTest, ReservationsAnswerWithThePriceHeld) {
  const std::string a = product("Mug", 1999, 10);
  const std::string b = product("Shirt", 2500, 10);
  const auto first = catalog_->reserve({"order-1", domain::merge_lines({{b, 1}, {a, 2}})});
  const std::vector<domain::HeldLine> held = {{a, 2, "Mug", 1999}, {b, 1, "Shirt", 2500}};
  EXPECT_EQ(first.reservation.lines, held);
  EXPECT_EQ(stored_snapshot("order-1", a), std::make_pair(std::string("Mug"), std::int64_t{1999}));

  reprice(a, "Mug XL", 2999);
  reprice(b, "Shirt", 100);
  clock_.advance_ms(1000);
  const auto again = catalog_->reserve({"order-1", {{a, 2}, {b, 1}}});
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.reservation.lines, held);
  // A new reservation holds at today's prices.
  EXPECT_EQ(catalog_->reserve({"order-2", {{a, 1}}}).reservation.lines,
            (std::vector<domain::HeldLine>{{a, 1, "Mug XL", 2999}}));
  // The commit, and a retried commit, answer with the prices held.
  EXPECT_EQ(catalog_->commit("order-1").lines, held);
  EXPECT_EQ(catalog_->commit("order-1").lines, held);
  // A deleted product's line still answers with its snapshot.
  catalog_->remove(b);
  EXPECT_EQ(catalog_->commit("order-1").lines, held);
}

TEST_P(ReservationTest, ADeductRecordsThePriceItTookStockAt) {
  const std::string a = product("Pen", 105, 10);
  catalog_->deduct(a, {"order-1", 3});
  reprice(a, "Pen 2", 120);
  EXPECT_EQ(catalog_->deduct(a, {"order-1", 3}).stock, 7);
  EXPECT_EQ(stored_snapshot("order-1", a), std::make_pair(std::string("Pen"), std::int64_t{105}));
  EXPECT_EQ(catalog_->commit("order-1").lines, (std::vector<domain::HeldLine>{{a, 3, "Pen", 105}}));
}

// A short reservation records nothing, snapshots included: the same id later holds at the price
// of that later moment.
TEST_P(ReservationTest, AShortReservationStoresNoSnapshot) {
  const std::string a = product("Mug", 1999, 1);
  EXPECT_EQ(status_of([&] { catalog_->reserve({"order-1", {{a, 2}}}); }), 409);
  EXPECT_EQ(database_->db()
                .query("SELECT COUNT(*) FROM reservation_lines WHERE reservation_id = $1",
                       {std::string("order-1")})
                .one()
                .integer(0),
            0);
  reprice(a, "Mug", 1500);
  catalog_->adjust_stock(a, 5);
  EXPECT_EQ(catalog_->reserve({"order-1", {{a, 2}}}).reservation.lines,
            (std::vector<domain::HeldLine>{{a, 2, "Mug", 1500}}));
}

// Migration 002 on a database that already holds reservations: their lines take the product's
// price of that moment; a line a previous binary writes later, without a snapshot (a rolling
// upgrade), answers with the product's current price rather than nothing.
TEST_P(ReservationTest, MigrationFillsTheSnapshotsOfExistingLines) {
  db::MigrationSet first_only = migrations();
  first_only.sqlite.resize(1);
  first_only.postgres.resize(1);
  ::emporium::testing::TestDatabase old(GetParam(), first_only, "product_v1", 2);
  db::Database& db = old.db();
  const std::string a = new_object_id();
  domain::Product product;
  product.id = a;
  product.name = "Old mug";
  product.price_minor = 1234;
  product.category = "c";
  product.on_hand = 10;
  db.with_tx(db::TxKind::Write, [&](db::Tx& tx) {
    store::insert_product(tx, product);
    tx.exec("UPDATE products SET held = 2 WHERE id = $1", {a});
    tx.exec(
        "INSERT INTO reservations (id, kind, items_hash, state, expires_at, created_at, "
        "updated_at) VALUES ('old-1', 'reserve', 'h', 'held', $1, 0, 0)",
        {clock_.now() + 60'000});
    tx.exec(
        "INSERT INTO reservation_lines (reservation_id, product_id, quantity) "
        "VALUES ('old-1', $1, 2)",
        {a});
  });
  db.migrate(migrations());
  Catalog catalog(db, CatalogOptions{}, [this] { return clock_.now(); });
  EXPECT_EQ(catalog.commit("old-1").lines,
            (std::vector<domain::HeldLine>{{a, 2, "Old mug", 1234}}));

  // A line written without a snapshot after the migration.
  db.with_tx(db::TxKind::Write, [&](db::Tx& tx) {
    tx.exec(
        "INSERT INTO reservations (id, kind, items_hash, state, expires_at, created_at, "
        "updated_at) VALUES ('old-2', 'reserve', 'h', 'held', $1, 0, 0)",
        {clock_.now() + 60'000});
    tx.exec(
        "INSERT INTO reservation_lines (reservation_id, product_id, quantity) "
        "VALUES ('old-2', $1, 1)",
        {a});
    tx.exec("UPDATE products SET held = held + 1 WHERE id = $1", {a});
  });
  EXPECT_EQ(catalog.commit("old-2").lines,
            (std::vector<domain::HeldLine>{{a, 1, "Old mug", 1234}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, ReservationTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::product
