// The notification repository against a real database: SQLite always, PostgreSQL when
// EMPORIUM_TEST_PG_URL is set (skipped otherwise, failed with EMPORIUM_REQUIRE_PG=1).
#include "notification_service.hpp"
#include "store/notification_store.hpp"

#include <emporium/testing/database.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

namespace emporium::notification {
namespace {

using domain::Channel;
using domain::Notification;
using domain::Status;
using testing::Backend;

Notification email(std::int64_t at, std::optional<std::string> event_id = std::nullopt) {
  Notification n;
  n.id = new_object_id();
  n.channel = Channel::Email;
  n.recipient = "ada@example.com";
  n.subject = "Hello";
  n.text = "Hi Ada";
  n.html = "<p>Hi Ada</p>";
  n.event_id = std::move(event_id);
  n.created_at_ms = n.updated_at_ms = at;
  return n;
}

class NotificationStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_.emplace(GetParam(), migrations(), "notification_store", 4);
  }
  db::Database& db() { return database_->db(); }
  bool insert(const Notification& n) {
    return db().with_tx(db::TxKind::Write, [&](db::Tx& tx) { return store::insert(tx, n); });
  }
  Notification find(const std::string& id) {
    return *db().with_tx(db::TxKind::Read, [&](db::Tx& tx) { return store::find(tx, id); });
  }
  void record(const std::string& id, const store::Progress& p) {
    db().transact(db::TxKind::Write, [&](db::Tx& tx) { store::record(tx, id, p); });
  }

  std::optional<testing::TestDatabase> database_;
};

TEST_P(NotificationStoreTest, OneMessagePerEventAndChannel) {
  const auto first = email(1000, "65a1b2c3d4e5f60718293a4b");
  EXPECT_TRUE(insert(first));
  EXPECT_FALSE(insert(email(1001, "65a1b2c3d4e5f60718293a4b")));  // the same event again
  auto sms = email(1002, "65a1b2c3d4e5f60718293a4b");
  sms.channel = Channel::Sms;
  sms.recipient = "+15551234567";
  EXPECT_TRUE(insert(sms));
  EXPECT_TRUE(insert(email(1003)));  // requests have no event: never de-duplicated
  EXPECT_TRUE(insert(email(1004)));
  const auto page = db().with_tx(db::TxKind::Snapshot,
                                 [&](db::Tx& tx) { return store::list(tx, std::nullopt, 0, 10); });
  EXPECT_EQ(page.total, 4);
  ASSERT_EQ(page.items.size(), 4u);
  EXPECT_EQ(page.items.front().created_at_ms, 1004);  // newest first
  EXPECT_EQ(find(first.id).text, "Hi Ada");
}

TEST_P(NotificationStoreTest, ProgressNeverOverwritesAFinalStatus) {
  const auto n = email(1000);
  ASSERT_TRUE(insert(n));
  record(n.id, {Status::Queued, 1, "451 try later", std::nullopt, 2000});
  EXPECT_EQ(find(n.id).attempts, 1);
  EXPECT_EQ(find(n.id).last_error, "451 try later");
  record(n.id, {Status::Sent, 2, std::nullopt, "250 ok", 3000});
  auto sent = find(n.id);
  EXPECT_EQ(sent.status, Status::Sent);
  EXPECT_EQ(sent.provider_id, "250 ok");
  EXPECT_EQ(sent.sent_at_ms, 3000);
  EXPECT_EQ(sent.last_error, "451 try later");  // the history of the attempts stays readable
  // A late result of an instance that lost its lease cannot turn `sent` into `failed`.
  record(n.id, {Status::Failed, 3, "timeout", std::nullopt, 4000});
  EXPECT_EQ(find(n.id).status, Status::Sent);
  EXPECT_EQ(find(n.id).attempts, 2);
  const auto sent_only = db().with_tx(
      db::TxKind::Snapshot, [&](db::Tx& tx) { return store::list(tx, Status::Sent, 0, 10); });
  EXPECT_EQ(sent_only.total, 1);
}

TEST_P(NotificationStoreTest, RetentionDeletesOnlyEndedMessages) {
  const auto queued = email(1000);
  const auto sent = email(1000);
  const auto recent = email(1000);
  for (const auto& n : {queued, sent, recent}) ASSERT_TRUE(insert(n));
  record(sent.id, {Status::Sent, 1, std::nullopt, "250 ok", 2000});
  record(recent.id, {Status::Failed, 5, "550 no", std::nullopt, 9000});
  const auto purged =
      db().with_tx(db::TxKind::Write, [&](db::Tx& tx) { return store::purge_final(tx, 5000, 10); });
  EXPECT_EQ(purged, 1);
  const auto left = db().with_tx(db::TxKind::Snapshot,
                                 [&](db::Tx& tx) { return store::list(tx, std::nullopt, 0, 10); });
  EXPECT_EQ(left.total, 2);  // the queued one (however old) and the recent failure
}

INSTANTIATE_TEST_SUITE_P(Backends, NotificationStoreTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::notification
