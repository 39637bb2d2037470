// The order repository against a real database: SQLite always, PostgreSQL when
// EMPORIUM_TEST_PG_URL is set (skipped otherwise, failed with EMPORIUM_REQUIRE_PG=1).
#include "order_service.hpp"
#include "store/order_store.hpp"

#include <emporium/testing/database.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace emporium::order {
namespace {

using domain::Order;
using domain::Status;
using testing::Backend;

constexpr std::int64_t kT0 = 1'700'000'000'000;

Order new_order(const std::string& user_id, std::int64_t at) {
  Order o;
  o.id = new_object_id();
  o.user_id = user_id;
  o.lines = {{"aaaaaaaaaaaaaaaaaaaaaaaa", "Mug", 1250, 2},
             {"bbbbbbbbbbbbbbbbbbbbbbbb", "Tea", 99, 1}};
  o.total = domain::total_of(o.lines);
  o.currency = "usd";
  o.history = {{Status::Pending, at}};
  o.shipping_address = R"({"city":"Lyon"})";
  o.from_cart = true;
  o.expires_at_ms = at + 1'800'000;
  o.created_at_ms = at;
  o.updated_at_ms = at;
  return o;
}

class OrderStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_.emplace(GetParam(), migrations(), "order_store", 8);
  }
  db::Database& db() { return database_->db(); }
  void insert(const Order& o) {
    db().transact(db::TxKind::Write, [&](db::Tx& tx) { store::insert_order(tx, o); });
  }
  std::optional<Order> find(const std::string& id) {
    return db().with_tx(db::TxKind::Snapshot, [&](db::Tx& tx) { return store::find(tx, id); });
  }

  std::optional<testing::TestDatabase> database_;
};

TEST_P(OrderStoreTest, AnOrderComesBackWithItsLinesAndHistory) {
  const Order placed = new_order("u1", kT0);
  insert(placed);
  const auto found = find(placed.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user_id, "u1");
  ASSERT_EQ(found->lines.size(), 2u);
  EXPECT_EQ(found->lines[0].name, "Mug");
  EXPECT_EQ(found->lines[0].price, 1250);
  EXPECT_EQ(found->lines[1].quantity, 1);
  EXPECT_EQ(found->total, 2599);
  EXPECT_EQ(found->status, Status::Pending);
  ASSERT_EQ(found->history.size(), 1u);
  EXPECT_EQ(found->history[0].at_ms, kT0);
  EXPECT_EQ(found->shipping_address, R"({"city":"Lyon"})");
  EXPECT_TRUE(found->from_cart);
  EXPECT_EQ(found->version, 0);
  EXPECT_FALSE(find(new_object_id()));
}

TEST_P(OrderStoreTest, AStatusChangeAppendsHistoryAndBumpsTheVersion) {
  const Order placed = new_order("u1", kT0);
  insert(placed);
  const Order paid = db().with_tx(db::TxKind::Write, [&](db::Tx& tx) {
    const auto o = store::find(tx, placed.id);
    auto leased = store::set_lease(tx, *o, "pay_1", kT0 + 60'000, kT0 + 1);
    return store::change_status(
        tx, leased,
        {.to = Status::Paid, .at_ms = kT0 + 2, .paid_payment_id = "pay_1", .drop_lease = true});
  });
  const auto found = find(placed.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, Status::Paid);
  EXPECT_EQ(found->version, 2);
  EXPECT_EQ(paid.version, 2);
  EXPECT_EQ(found->paid_payment_id, "pay_1");
  EXPECT_FALSE(found->payment_lease_id);
  EXPECT_EQ(found->payment_lease_until_ms, 0);
  ASSERT_EQ(found->history.size(), 2u);
  EXPECT_EQ(found->history[1].status, Status::Paid);
  EXPECT_EQ(found->history[1].at_ms, kT0 + 2);
}

TEST_P(OrderStoreTest, ListsNewestFirstFilteredAndPaged) {
  std::vector<Order> mine;
  for (int i = 0; i < 5; ++i) {
    mine.push_back(new_order("u1", kT0 + i));
    insert(mine.back());
  }
  insert(new_order("u2", kT0 + 10));
  db().transact(db::TxKind::Write, [&](db::Tx& tx) {
    store::change_status(tx, *store::find(tx, mine[1].id), {.to = Status::Cancelled, .at_ms = kT0});
  });
  const auto page = db().with_tx(db::TxKind::Snapshot, [&](db::Tx& tx) {
    return store::list(tx, {std::string("u1"), std::nullopt}, 1, 2);
  });
  EXPECT_EQ(page.total, 5);
  ASSERT_EQ(page.orders.size(), 2u);
  EXPECT_EQ(page.orders[0].id, mine[3].id);
  EXPECT_EQ(page.orders[1].id, mine[2].id);
  EXPECT_EQ(page.orders[0].lines.size(), 2u);
  const auto cancelled = db().with_tx(db::TxKind::Snapshot, [&](db::Tx& tx) {
    return store::list(tx, {std::nullopt, Status::Cancelled}, 0, 20);
  });
  ASSERT_EQ(cancelled.total, 1);
  EXPECT_EQ(cancelled.orders[0].id, mine[1].id);
  EXPECT_EQ(cancelled.orders[0].history.size(), 2u);
  const auto all =
      db().with_tx(db::TxKind::Snapshot, [&](db::Tx& tx) { return store::list(tx, {}, 0, 100); });
  EXPECT_EQ(all.total, 6);
}

// Two concurrent changes of one order: each reads and writes in its own Write transaction, so
// exactly one moves Pending to its target and the other sees the first one's result.
TEST_P(OrderStoreTest, ConcurrentChangesOfOneOrderNeverBothApply) {
  const Order placed = new_order("u1", kT0);
  insert(placed);
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  for (Status to : {Status::Paid, Status::Cancelled, Status::Expired, Status::Paid}) {
    threads.emplace_back([&, to] {
      db().transact(db::TxKind::Write, [&](db::Tx& tx) {
        const auto o = store::find(tx, placed.id);
        if (o->status != Status::Pending) return;
        store::change_status(tx, *o, {.to = to, .at_ms = kT0 + 1});
        applied.fetch_add(1);
      });
    });
  }
  for (auto& t : threads) t.join();
  const auto found = find(placed.id);
  EXPECT_EQ(found->history.size(), 2u);
  EXPECT_EQ(found->version, 1);
  EXPECT_GE(applied.load(), 1);  // a retried transaction may count twice; the row says once
}

INSTANTIATE_TEST_SUITE_P(Backends, OrderStoreTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::order
