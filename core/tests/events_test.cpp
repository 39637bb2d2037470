// Events without a broker: the envelope, naming, and the consumer's rules (processed ids, poison,
// bounded deliveries, dead letters, replay) against a real SQLite database. The broker side runs
// against a real nats-server in tests/functional/test_events.py.
#include "emporium/events/events.hpp"
#include "emporium/app/app.hpp"
#include "emporium/testing/database.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace emporium::events {
namespace {

TEST(EventNames, SubjectAndStreamFollowTheAggregate) {
  EXPECT_EQ(subject_of("order.placed"), "emporium.order.placed");
  EXPECT_EQ(stream_of("order.status_changed"), "EMPORIUM_ORDER");
  EXPECT_EQ(stream_of("user.registered"), "EMPORIUM_USER");
  EXPECT_THROW(subject_of("Order.placed"), std::invalid_argument);
  EXPECT_THROW(subject_of("order"), std::invalid_argument);
  EXPECT_THROW(subject_of("order.placed.x"), std::invalid_argument);
  EXPECT_THROW(subject_of("order.>"), std::invalid_argument);
}

TEST(EventEnvelope, RoundTripsAndNamesWhatIsWrong) {
  Event e;
  e.id = "65a1b2c3d4e5f60718293a4b";
  e.type = "order.placed";
  e.occurred_at = "2026-12-02T10:00:00.000Z";
  e.source = "order-service";
  e.subject = "emporium.order.placed";
  e.data = Json{{"order", {{"_id", "x"}}}};
  const auto back = Event::parse(dump_json(e.to_json()));
  EXPECT_EQ(back.id, e.id);
  EXPECT_EQ(back.data, e.data);
  EXPECT_EQ(back.traceparent, "");
  try {
    Event::parse(R"({"id":"a","type":"order.placed","occurredAt":"t","source":"s","subject":"x"})");
    FAIL() << "no data";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("data"), std::string::npos);
  }
  EXPECT_THROW(Event::parse("not json"), std::invalid_argument);
  EXPECT_THROW(Event::parse("[]"), std::invalid_argument);
}

class EventsConsumer : public ::testing::Test {
 protected:
  EventsConsumer() : file_("events"), app_(config()) {
    app_.open_database({});
    events_ = std::make_unique<Events>(app_, EventsConfig{.max_deliver = 3});
    app_.db().transact(db::TxKind::Write, [](db::Tx& tx) {
      tx.exec("CREATE TABLE effects (event_id TEXT NOT NULL, value TEXT NOT NULL)");
    });
    events_->on("order.placed", [this](db::Tx& tx, const Event& e) {
      if (fail_) throw std::runtime_error("database of the effect is down");
      if (unavailable_) throw db::Unavailable("database is unavailable");
      if (!e.data.contains("value")) throw Poison("data.value is missing");
      tx.exec("INSERT INTO effects (event_id, value) VALUES ($1, $2)",
              {e.id, e.data["value"].get<std::string>()});
    });
  }

  ServiceConfig config() {
    ServiceConfig c;
    c.service = "test-service";
    c.caller = "test";
    c.access_log = false;
    c.database_url = file_.url();
    return c;
  }

  static std::string envelope(const std::string& id, Json data) {
    Event e{id,
            "order.placed",
            "2026-12-02T10:00:00.000Z",
            "order-service",
            "emporium.order.placed",
            std::move(data),
            ""};
    return dump_json(e.to_json());
  }

  std::int64_t effects() {
    return app_.db().query("SELECT COUNT(*) FROM effects").one().integer(0);
  }

  testing::TempSqliteFile file_;
  App app_;
  std::unique_ptr<Events> events_;
  bool fail_ = false;
  bool unavailable_ = false;
};

TEST_F(EventsConsumer, ARedeliveredEventHasNoSecondEffect) {
  const auto payload = envelope("65a1b2c3d4e5f60718293a01", {{"value", "a"}});
  EXPECT_EQ(events_->handle(payload, 1, "s:1"), Events::Verdict::Ack);
  EXPECT_EQ(events_->handle(payload, 2, "s:1"), Events::Verdict::Ack);
  EXPECT_EQ(effects(), 1);
}

TEST_F(EventsConsumer, AFailingHandlerIsRetriedThenDeadLetteredAtMaxDeliver) {
  fail_ = true;
  const auto payload = envelope("65a1b2c3d4e5f60718293a02", {{"value", "b"}});
  std::string error;
  EXPECT_EQ(events_->handle(payload, 1, "s:2", &error), Events::Verdict::Retry);
  EXPECT_EQ(error, "database of the effect is down");
  EXPECT_EQ(events_->handle(payload, 2, "s:2"), Events::Verdict::Retry);
  EXPECT_TRUE(events_->dead_letters(false, 10, 0).empty());
  EXPECT_EQ(events_->handle(payload, 3, "s:2"), Events::Verdict::Ack);
  const auto letters = events_->dead_letters(false, 10, 0);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].deliveries, 3);
  EXPECT_EQ(letters[0].consumer, "test");
  EXPECT_EQ(effects(), 0);

  fail_ = false;  // the fix
  const auto replayed = events_->replay(letters[0].id, std::nullopt);
  EXPECT_TRUE(replayed.replayed_at_ms.has_value());
  EXPECT_EQ(effects(), 1);
  EXPECT_TRUE(events_->dead_letters(false, 10, 0).empty());
  EXPECT_EQ(events_->dead_letters(true, 10, 0).size(), 1u);
  // The stream may still hold it: a delivery after the replay has no second effect.
  EXPECT_EQ(events_->handle(payload, 9, "s:2"), Events::Verdict::Ack);
  EXPECT_EQ(effects(), 1);
  EXPECT_THROW(events_->replay(letters[0].id, std::nullopt), HttpError);
}

TEST_F(EventsConsumer, APoisonEventIsDeadLetteredAtOnceAndReplaysWithCorrectedData) {
  const auto payload = envelope("65a1b2c3d4e5f60718293a03", {{"other", 1}});
  EXPECT_EQ(events_->handle(payload, 1, "s:3"), Events::Verdict::Ack);
  auto letters = events_->dead_letters(false, 10, 0);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].error, "data.value is missing");
  EXPECT_EQ(letters[0].deliveries, 1);
  // Replaying unchanged fails again and says why; the letter stays open.
  try {
    events_->replay(letters[0].id, std::nullopt);
    FAIL() << "replay of a poison event succeeded";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 409);
  }
  EXPECT_EQ(events_->dead_letters(false, 10, 0).size(), 1u);
  events_->replay(letters[0].id, Json{{"value", "fixed"}});
  EXPECT_EQ(effects(), 1);
  EXPECT_EQ(app_.db().query("SELECT value FROM effects").one().text(0), "fixed");
}

TEST_F(EventsConsumer, OurDatabaseBeingDownNeverDeadLettersAnEvent) {
  unavailable_ = true;
  const auto payload = envelope("65a1b2c3d4e5f60718293a05", {{"value", "c"}});
  EXPECT_EQ(events_->handle(payload, 1, "s:5"), Events::Verdict::Retry);
  EXPECT_EQ(events_->handle(payload, 50, "s:5"), Events::Verdict::Retry);  // past max_deliver
  EXPECT_TRUE(events_->dead_letters(false, 10, 0).empty());
  unavailable_ = false;
  EXPECT_EQ(events_->handle(payload, 51, "s:5"), Events::Verdict::Ack);
  EXPECT_EQ(effects(), 1);
}

TEST_F(EventsConsumer, AnEnvelopeMustNameTheSubjectItCameOn) {
  // Published on another aggregate's subject (where its publisher may have rights): refused.
  const auto payload = envelope("65a1b2c3d4e5f60718293a06", {{"value", "d"}});
  EXPECT_EQ(events_->handle(payload, 1, "s:6", nullptr, "emporium.user.registered"),
            Events::Verdict::Ack);
  auto letters = events_->dead_letters(false, 10, 0);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].error.find("delivered on emporium.user.registered"), std::string::npos);
  // An envelope whose subject does not follow its type.
  Event e{"65a1b2c3d4e5f60718293a07",   "order.placed",       "t", "order-service",
          "emporium.payment.succeeded", Json{{"value", "e"}}, ""};
  EXPECT_EQ(
      events_->handle(dump_json(e.to_json()), 1, "s:7", nullptr, "emporium.payment.succeeded"),
      Events::Verdict::Ack);
  EXPECT_EQ(events_->dead_letters(false, 10, 0).size(), 2u);
  // From another producer than the aggregate's.
  Event forged{"65a1b2c3d4e5f60718293a08", "order.placed",       "t", "notification-service",
               "emporium.order.placed",    Json{{"value", "f"}}, ""};
  EXPECT_EQ(
      events_->handle(dump_json(forged.to_json()), 1, "s:8", nullptr, "emporium.order.placed"),
      Events::Verdict::Ack);
  EXPECT_EQ(events_->dead_letters(false, 10, 0).size(), 3u);
  EXPECT_EQ(effects(), 0);
  // The right subject is handled.
  EXPECT_EQ(events_->handle(payload, 1, "s:6b", nullptr, "emporium.order.placed"),
            Events::Verdict::Ack);
  EXPECT_EQ(effects(), 1);
}

TEST_F(EventsConsumer, NotAnEventIsKeptUnderItsStreamPosition) {
  EXPECT_EQ(events_->handle("{broken", 1, "EMPORIUM_ORDER:7"), Events::Verdict::Ack);
  const auto letters = events_->dead_letters(false, 10, 0);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].event_id, "EMPORIUM_ORDER:7");
  EXPECT_EQ(letters[0].type, "unknown");
}

TEST_F(EventsConsumer, OtherTypesOfTheStreamAreSkipped) {
  Event e{"65a1b2c3d4e5f60718293a04",      "order.status_changed", "t", "order-service",
          "emporium.order.status_changed", Json::object(),         ""};
  EXPECT_EQ(events_->handle(dump_json(e.to_json()), 1, "s:4"), Events::Verdict::Ack);
  EXPECT_TRUE(events_->dead_letters(false, 10, 0).empty());
}

TEST_F(EventsConsumer, WithoutNatsUrlEmitRecordsNothing) {
  EXPECT_FALSE(events_->enabled());
  app_.db().transact(db::TxKind::Write, [&](db::Tx& tx) {
    const auto e = events_->emit(tx, "order.placed", {{"value", "x"}});
    EXPECT_EQ(e.subject, "emporium.order.placed");
    EXPECT_EQ(e.source, "test-service");
    EXPECT_EQ(e.id.size(), 24u);
  });
  EXPECT_EQ(app_.db().query("SELECT COUNT(*) FROM emporium_work_items").one().integer(0), 0);
}

}  // namespace
}  // namespace emporium::events
