// The payment repository against a real database: SQLite always, PostgreSQL when
// EMPORIUM_TEST_PG_URL is set (skipped otherwise, failed with EMPORIUM_REQUIRE_PG=1).
#include "payment_service.hpp"
#include "store/payment_store.hpp"

#include <emporium/testing/database.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

namespace emporium::payment {
namespace {

using domain::Payment;
using domain::Status;
using testing::Backend;

constexpr std::int64_t kT0 = 1'700'000'000'000;

Payment new_payment(const std::string& order_id) {
  Payment p;
  p.id = new_object_id();
  p.order_id = order_id;
  p.user_id = "u1";
  p.amount = 2599;
  p.currency = "usd";
  p.payment_method = "pm_card_visa";
  p.created_at_ms = kT0;
  p.updated_at_ms = kT0;
  return p;
}

class PaymentStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_.emplace(GetParam(), migrations(), "payment_store", 4);
  }
  db::Database& db() { return database_->db(); }
  void insert(const Payment& p) {
    db().transact(db::TxKind::Write, [&](db::Tx& tx) { store::insert_payment(tx, p); });
  }
  void set_status(const std::string& id, Status status, std::optional<std::string> pi = {}) {
    db().transact(db::TxKind::Write, [&](db::Tx& tx) {
      auto p = *store::find(tx, id);
      p.status = status;
      if (pi) p.provider_payment_id = pi;
      if (!store::update(tx, p, kT0 + 1)) throw std::logic_error("not updated");
    });
  }

  std::optional<testing::TestDatabase> database_;
};

TEST_P(PaymentStoreTest, OneOpenPaymentAndOneSuccessPerOrder) {
  const Payment first = new_payment("order-a");
  insert(first);
  EXPECT_THROW(insert(new_payment("order-a")), db::UniqueViolation);  // one open per order
  insert(new_payment("order-b"));                                     // another order: fine
  set_status(first.id, Status::Failed);
  const Payment second = new_payment("order-a");
  insert(second);  // the failed one is closed
  set_status(second.id, Status::Succeeded, "pi_1");
  const Payment third = new_payment("order-a");
  insert(third);  // open again, but it can never succeed too
  EXPECT_THROW(set_status(third.id, Status::Succeeded, "pi_2"), db::UniqueViolation);
  const auto found = db().with_tx(
      db::TxKind::Read, [&](db::Tx& tx) { return store::find_by_provider_id(tx, "pi_1"); });
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, second.id);
  EXPECT_EQ(found->version, 1);
  const auto all = db().with_tx(db::TxKind::Read,
                                [&](db::Tx& tx) { return store::list_for_order(tx, "order-a"); });
  EXPECT_EQ(all.size(), 3u);
}

TEST_P(PaymentStoreTest, RefundsNeverExceedTheChargeAndEventsAreRecordedOnce) {
  Payment p = new_payment("order-r");
  insert(p);
  set_status(p.id, Status::Succeeded, "pi_r");
  EXPECT_THROW(db().transact(db::TxKind::Write,
                             [&](db::Tx& tx) {
                               auto current = *store::find(tx, p.id);
                               current.refunded = current.amount + 1;
                               store::update(tx, current, kT0 + 2);
                             }),
               db::CheckViolation);
  db().transact(db::TxKind::Write, [&](db::Tx& tx) {
    store::insert_refund(tx, {"r1", p.id, 500, "pending", std::nullopt, std::nullopt, kT0});
  });
  const auto refunds =
      db().with_tx(db::TxKind::Read, [&](db::Tx& tx) { return store::list_refunds(tx, p.id); });
  ASSERT_EQ(refunds.size(), 1u);
  EXPECT_EQ(refunds[0].amount, 500);
  EXPECT_TRUE(db().with_tx(db::TxKind::Write,
                           [&](db::Tx& tx) { return store::record_event(tx, "evt_1", "t", kT0); }));
  EXPECT_FALSE(db().with_tx(
      db::TxKind::Write, [&](db::Tx& tx) { return store::record_event(tx, "evt_1", "t", kT0); }));
}

INSTANTIATE_TEST_SUITE_P(Backends, PaymentStoreTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::payment
