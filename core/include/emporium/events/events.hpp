// Domain events over NATS JetStream (DESIGN §12 "Events"; docs/events.md is the catalogue).
//
//   events::Events events(app, events::EventsConfig::from_env(env));
//   // producer, in the transaction of the state change:
//   db.transact(TxKind::Write, [&](db::Tx& tx) {
//     store.mark_shipped(tx, order);
//     events.emit(tx, "order.status_changed", {{"order", …}, {"from", "Paid"}, {"to", "Shipped"}});
//   });
//   // consumer, in the transaction that records the event as processed:
//   events.on("order.placed", [&](db::Tx& tx, const events::Event& e) { queue_mail(tx, e); });
//   events.mount_dead_letter_routes(app, "/api/notification/events");
//   events.attach(app);  // relay + consumers from app.run(); must outlive it
//
// - Outbox: emit() writes the envelope as an item of the work queue "emporium-outbox"
//   (queue/work_queue.hpp) in the caller's transaction, so the event exists exactly when the state
//   change committed. The relay (a queue::Worker in every instance) claims rows with a lease and
//   publishes each to JetStream with `Nats-Msg-Id` = event id, then marks it done. A crash after
//   the publish and before the mark publishes it again; JetStream's duplicate window drops it,
//   and consumers de-duplicate by id anyway. Without the broker the rows wait (retried with
//   back-off, never given up) and the relay catches up when it returns.
// - Streams: one per producing aggregate, `EMPORIUM_<AGGREGATE>` over `emporium.<aggregate>.>`
//   (file storage, limits retention for EVENTS_STREAM_MAX_AGE_S), created by whichever side needs
//   it first with the same configuration.
// - Consumers: one durable pull consumer per (consuming service, stream), named after the service
//   (ServiceConfig::caller), shared by its instances; explicit ack. Each event runs its handler in
//   one Write transaction that first records (consumer, event id) in emporium_processed_events:
//   a redelivered event finds its id and has no second effect. A handler that throws Poison, or
//   still fails on its EVENTS_MAX_DELIVER-th delivery, puts the event in emporium_dead_letters and
//   acks it; other failures are redelivered after a jittered exponential back-off (NAK with delay).
//   An admin lists dead letters and replays one (optionally with corrected `data`) through the
//   routes of mount_dead_letter_routes.
// - Without NATS_URL events are off: emit() records nothing and no consumer runs (the outbox
//   would only grow). With it, /readyz includes "broker".
#pragma once

#include "emporium/config/env.hpp"
#include "emporium/db/database.hpp"
#include "emporium/json/json.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace emporium {
class App;
}

namespace emporium::events {

// The envelope (DESIGN §12): {"id","type","occurredAt","source","subject","data","traceparent"}.
struct Event {
  std::string id;           // 24 hex, unique; also the JetStream Nats-Msg-Id
  std::string type;         // "<aggregate>.<event>", e.g. "order.placed"
  std::string occurred_at;  // ISO 8601, UTC, milliseconds
  std::string source;       // the producing service, e.g. "order-service"
  std::string subject;      // "emporium.<type>"
  Json data = Json::object();
  std::string traceparent;  // W3C trace context of the request that caused it; may be empty

  Json to_json() const;
  // Throws std::invalid_argument naming what is wrong (not JSON, a missing or mistyped member).
  static Event parse(std::string_view text);
};

// "order.placed" -> "emporium.order.placed". Throws std::invalid_argument unless `type` is
// `<aggregate>.<name>` of lower-case letters, digits and '_'.
std::string subject_of(std::string_view type);
// "order.placed" -> "EMPORIUM_ORDER" (the stream of the aggregate's events).
std::string stream_of(std::string_view type);

struct EventsConfig {
  std::string nats_url{};             // NATS_URL; empty: events are off
  int relay_poll_ms = 250;            // EVENTS_RELAY_POLL_MS: the relay's idle poll
  int publish_timeout_ms = 3000;      // EVENTS_PUBLISH_TIMEOUT_MS: waiting for JetStream's ack
  int max_deliver = 8;                // EVENTS_MAX_DELIVER: deliveries before a dead letter
  int ack_wait_ms = 30000;            // EVENTS_ACK_WAIT_MS: an unacked delivery comes back after
  std::int64_t retry_base_ms = 1000;  // EVENTS_RETRY_BASE_MS: first redelivery delay
  std::int64_t retry_max_ms = 60000;  // EVENTS_RETRY_MAX_MS: longest redelivery delay
  std::int64_t stream_max_age_s = 7 * 24 * 3600;  // EVENTS_STREAM_MAX_AGE_S
  std::int64_t duplicate_window_s = 1200;         // EVENTS_DUPLICATE_WINDOW_S
  int connect_timeout_ms = 2000;                  // EVENTS_CONNECT_TIMEOUT_MS
  int fetch_batch = 16;                           // EVENTS_FETCH_BATCH

  // Throws ConfigError naming the variable.
  static EventsConfig from_env(const Env& env);
};

// Thrown by a handler for an event it can never handle as it is (a missing field, a value of the
// wrong type): the event goes to the dead letters at once instead of being redelivered.
class Poison : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DeadLetter {
  std::int64_t id = 0;
  std::string consumer;
  std::string event_id;
  std::string type;
  std::string subject;
  std::string payload;  // the envelope as received
  std::string error;    // the last failure
  int deliveries = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> replayed_at_ms;

  Json to_json() const;
};

// Metrics (labels: type; consumer for the consumer side).
inline constexpr const char* kEmittedTotal = "events_emitted_total";
inline constexpr const char* kPublishedTotal = "events_published_total";
inline constexpr const char* kPublishFailuresTotal = "events_publish_failures_total";
inline constexpr const char* kConsumedTotal = "events_consumed_total";
inline constexpr const char* kDuplicatesTotal = "events_duplicates_total";
inline constexpr const char* kRedeliveredTotal = "events_redelivered_total";
inline constexpr const char* kDeadLetteredTotal = "events_dead_lettered_total";

class Events {
 public:
  using Handler = std::function<void(db::Tx&, const Event&)>;

  // Producer name: app.config().service; consumer name: app.config().caller. The App's database
  // must be open.
  Events(App& app, EventsConfig config);
  ~Events();
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  bool enabled() const;

  // Records the event in the caller's transaction (the outbox); the relay publishes it once the
  // transaction committed. Returns the envelope (also when events are off, when nothing is
  // recorded). `traceparent` may be empty.
  Event emit(db::Tx& tx, std::string_view type, Json data, std::string_view traceparent = {}) const;

  // The consumer handles events of exactly `type`; other types of the same stream are acked and
  // skipped. Call before attach().
  void on(std::string type, Handler handler);

  // Admin routes (Access::Admin) under `prefix`:
  //   GET  <prefix>/dead-letters?status=open|replayed&page=&limit=   paged list, newest first
  //   GET  <prefix>/dead-letters/:id
  //   POST <prefix>/dead-letters/:id/replay   optional JSON body {"data": {...}} replacing the
  //        event's data; runs the handler now (200 with the dead letter, now replayed); 409
  //        `replay_failed` with the handler's error when it fails again, 409 `already_replayed`.
  void mount_dead_letter_routes(App& app, const std::string& prefix);

  // Starts (from app.run()) the relay and, when handlers were added, the consumers; adds the
  // readiness check "broker". Must outlive app.run().
  void attach(App& app);

  // ---- for admin routes and tests ----
  std::vector<DeadLetter> dead_letters(bool replayed, std::int64_t limit, std::int64_t offset,
                                       std::int64_t* total = nullptr) const;
  std::optional<DeadLetter> dead_letter(std::int64_t id) const;
  // Runs the handler for dead letter `id` now (with `data` instead of the stored data when
  // given). Throws HttpError 404 / 409 as the route answers.
  DeadLetter replay(std::int64_t id, const std::optional<Json>& data);

  // Handles one delivered envelope as the consumer does (processed-id check, handler, dead
  // letter); returns what to tell the broker. For the consumer loop and tests.
  enum class Verdict { Ack, Retry };
  // An envelope is refused (dead letter) unless its subject follows its type, its source is the
  // aggregate's producer (`payment.*` from payment-service) and, with `delivered_subject`, it
  // came on the subject it names.
  // db::Unavailable from the handler is always a Retry (an outage of our own database never
  // dead-letters events).
  Verdict handle(std::string_view payload, int delivery, const std::string& fallback_id,
                 std::string* error = nullptr, std::string_view delivered_subject = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emporium::events
