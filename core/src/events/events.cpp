#include "emporium/events/events.hpp"

#include "emporium/app/app.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/http/paging.hpp"
#include "emporium/queue/worker.hpp"
#include "emporium/util/ids.hpp"
#include "emporium/util/time.hpp"
#include "events/broker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace emporium::events {
namespace {

constexpr const char* kOutboxQueue = "emporium-outbox";
// An event waits in the outbox until the broker takes it, however long that is.
constexpr int kOutboxMaxAttempts = 1'000'000'000;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// "order.placed" -> {"order", "placed"}; throws std::invalid_argument.
std::pair<std::string_view, std::string_view> split_type(std::string_view type) {
  const auto dot = type.find('.');
  const auto valid = [](std::string_view part) {
    return !part.empty() && part.size() <= 64 &&
           std::all_of(part.begin(), part.end(), is_name_char);
  };
  if (dot == std::string_view::npos || !valid(type.substr(0, dot)) ||
      !valid(type.substr(dot + 1))) {
    throw std::invalid_argument("event type must be <aggregate>.<name> in lower case: " +
                                std::string(type));
  }
  return {type.substr(0, dot), type.substr(dot + 1)};
}

std::string stream_subjects(std::string_view type) {
  return "emporium." + std::string(split_type(type).first) + ".>";
}

const std::string& member(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw std::invalid_argument(std::string("event `") + name + "` must be a non-empty string");
  }
  return it->get_ref<const std::string&>();
}

double unit_random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

DeadLetter dead_letter_of(const db::Row& row) {
  DeadLetter d;
  d.id = row.integer(0);
  d.consumer = row.text(1);
  d.event_id = row.text(2);
  d.type = row.text(3);
  d.subject = row.text(4);
  d.payload = row.text(5);
  d.error = row.text(6);
  d.deliveries = static_cast<int>(row.integer(7));
  d.created_at_ms = row.integer(8);
  d.updated_at_ms = row.integer(9);
  d.replayed_at_ms = row.opt_integer(10);
  return d;
}

constexpr const char* kDeadLetterColumns =
    "id, consumer, event_id, event_type, subject, payload, error, deliveries, created_at_ms, "
    "updated_at_ms, replayed_at_ms";

}  // namespace

// ---- envelope ----------------------------------------------------------------------------------

Json Event::to_json() const {
  return Json{{"id", id},           {"type", type}, {"occurredAt", occurred_at}, {"source", source},
              {"subject", subject}, {"data", data}, {"traceparent", traceparent}};
}

Event Event::parse(std::string_view text) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const std::exception&) {
    throw std::invalid_argument("event is not JSON");
  }
  if (!json.is_object()) throw std::invalid_argument("event is not a JSON object");
  Event e;
  e.id = member(json, "id");
  e.type = member(json, "type");
  split_type(e.type);
  e.occurred_at = member(json, "occurredAt");
  e.source = member(json, "source");
  e.subject = member(json, "subject");
  const auto data = json.find("data");
  if (data == json.end() || !data->is_object()) {
    throw std::invalid_argument("event `data` must be an object");
  }
  e.data = *data;
  const auto trace = json.find("traceparent");
  if (trace != json.end() && trace->is_string()) e.traceparent = trace->get<std::string>();
  return e;
}

std::string subject_of(std::string_view type) {
  split_type(type);
  return "emporium." + std::string(type);
}

std::string stream_of(std::string_view type) {
  std::string name = "EMPORIUM_" + std::string(split_type(type).first);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
  return name;
}

Json DeadLetter::to_json() const {
  Json out{{"_id", std::to_string(id)},
           {"consumer", consumer},
           {"eventId", event_id},
           {"type", type},
           {"subject", subject},
           {"error", error},
           {"deliveries", deliveries},
           {"createdAt", iso8601(created_at_ms)},
           {"updatedAt", iso8601(updated_at_ms)},
           {"replayedAt", replayed_at_ms ? Json(iso8601(*replayed_at_ms)) : Json(nullptr)}};
  try {
    out["event"] = Json::parse(payload);
  } catch (const std::exception&) {
    out["event"] = payload;
  }
  return out;
}

EventsConfig EventsConfig::from_env(const Env& env) {
  EventsConfig c;
  c.nats_url = env.string("NATS_URL", "");
  if (!c.nats_url.empty() && c.nats_url.rfind("nats://", 0) != 0 &&
      c.nats_url.rfind("tls://", 0) != 0) {
    throw ConfigError("NATS_URL: must start with nats:// or tls:// (e.g. nats://127.0.0.1:4222)");
  }
  c.relay_poll_ms = static_cast<int>(env.integer("EVENTS_RELAY_POLL_MS", 250, 10, 60'000));
  c.publish_timeout_ms =
      static_cast<int>(env.integer("EVENTS_PUBLISH_TIMEOUT_MS", 3000, 100, 60'000));
  c.max_deliver = static_cast<int>(env.integer("EVENTS_MAX_DELIVER", 8, 1, 1000));
  c.ack_wait_ms = static_cast<int>(env.integer("EVENTS_ACK_WAIT_MS", 30'000, 1000, 3'600'000));
  c.retry_base_ms = env.integer("EVENTS_RETRY_BASE_MS", 1000, 10, 3'600'000);
  c.retry_max_ms = env.integer("EVENTS_RETRY_MAX_MS", 60'000, c.retry_base_ms, 86'400'000);
  c.stream_max_age_s = env.integer("EVENTS_STREAM_MAX_AGE_S", 7 * 24 * 3600, 60, 365LL * 86400);
  c.duplicate_window_s = env.integer("EVENTS_DUPLICATE_WINDOW_S", 1200, 1, 86400);
  if (c.duplicate_window_s > c.stream_max_age_s) {
    throw ConfigError("EVENTS_DUPLICATE_WINDOW_S: must not exceed EVENTS_STREAM_MAX_AGE_S");
  }
  c.connect_timeout_ms =
      static_cast<int>(env.integer("EVENTS_CONNECT_TIMEOUT_MS", 2000, 100, 60'000));
  c.fetch_batch = static_cast<int>(env.integer("EVENTS_FETCH_BATCH", 16, 1, 256));
  return c;
}

// ---- the service's events ----------------------------------------------------------------------

struct Events::Impl {
  App& app;
  EventsConfig config;
  std::string source;    // producer: "order-service"
  std::string consumer;  // durable name: "notification"
  queue::WorkQueue outbox;
  std::unique_ptr<detail::Broker> broker;
  std::unique_ptr<queue::Worker> relay;
  std::map<std::string, Handler> handlers;  // by type
  std::atomic<bool> attached{false};

  Impl(App& a, EventsConfig c)
      : app(a),
        config(std::move(c)),
        source(a.config().service),
        consumer(a.config().caller.empty() ? a.config().service : a.config().caller),
        outbox(kOutboxQueue, a.db().backend()) {}

  void count(const char* name, const char* help, const std::string& type) {
    app.metrics().increment(name, help, "type", type);
  }

  queue::Outcome publish(const queue::Item& item) {
    Event e;
    try {
      e = Event::parse(item.payload);
    } catch (const std::exception& error) {
      return queue::Outcome::fail(error.what());  // never written by emit(): a damaged row
    }
    try {
      broker->publish(stream_of(e.type), stream_subjects(e.type), e.subject, e.id, item.payload);
    } catch (const detail::BrokerError& error) {
      count(kPublishFailuresTotal, "Outbox events the broker did not take (retried)", e.type);
      return queue::Outcome::retry(error.what());
    }
    count(kPublishedTotal, "Outbox events published to JetStream", e.type);
    return queue::Outcome::done();
  }

  void record_dead_letter(const Event* e, std::string_view payload, const std::string& event_id,
                          const std::string& error, int deliveries) {
    const std::int64_t now = now_ms();
    app.db().transact(db::TxKind::Write, [&](db::Tx& tx) {
      tx.exec(
          "INSERT INTO emporium_dead_letters (consumer, event_id, event_type, subject, payload, "
          "error, deliveries, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, "
          "$8, $8) ON CONFLICT (consumer, event_id) DO UPDATE SET payload = excluded.payload, "
          "error = excluded.error, deliveries = excluded.deliveries, updated_at_ms = "
          "excluded.updated_at_ms, replayed_at_ms = NULL",
          {consumer, event_id, e != nullptr ? e->type : std::string("unknown"),
           e != nullptr ? e->subject : std::string(), std::string(payload), error,
           static_cast<std::int64_t>(deliveries), now});
    });
    count(kDeadLetteredTotal, "Events put in the dead letters", e != nullptr ? e->type : "unknown");
    app.log().warn("event dead-lettered", {{"consumer", consumer},
                                           {"eventId", event_id},
                                           {"type", e != nullptr ? e->type : "unknown"},
                                           {"error", error},
                                           {"deliveries", deliveries}});
  }

  // The handler in one transaction with the processed-event record. True when it ran (or had run).
  bool process(const Event& e, const Handler& handler, const std::function<void(db::Tx&)>& also) {
    bool duplicate = false;
    app.db().transact(db::TxKind::Write, [&](db::Tx& tx) {
      duplicate = false;
      const auto inserted = tx.exec(
          "INSERT INTO emporium_processed_events (consumer, event_id, processed_at_ms) "
          "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          {consumer, e.id, now_ms()});
      if (inserted == 0) {
        duplicate = true;
      } else {
        handler(tx, e);
      }
      if (also) also(tx);
    });
    if (duplicate) {
      count(kDuplicatesTotal, "Delivered events already processed (no second effect)", e.type);
    } else {
      count(kConsumedTotal, "Events processed by this consumer", e.type);
    }
    return true;
  }

  void consume(std::stop_token stop, const std::string& stream, const std::string& filter) {
    std::unique_ptr<detail::Broker::Pull> pull;
    detail::ConsumerSettings settings;
    settings.ack_wait_ms = config.ack_wait_ms;
    std::chrono::steady_clock::time_point warned{};
    while (!stop.stop_requested()) {
      try {
        if (!pull) pull = broker->subscribe(stream, filter, consumer, settings);
        auto batch = pull->fetch(config.fetch_batch, 1000);
        for (auto& delivery : batch) {
          // Draining: the rest of the batch is redelivered after its ack wait.
          if (stop.stop_requested()) break;
          std::string error;
          const auto fallback = stream + ":" + std::to_string(delivery->stream_sequence());
          const auto verdict = owner->handle(delivery->payload(), delivery->delivery_count(),
                                             fallback, &error, delivery->subject());
          if (verdict == Verdict::Ack) {
            delivery->ack();
          } else {
            const auto delay = queue::backoff_ms({config.retry_base_ms, config.retry_max_ms},
                                                 delivery->delivery_count(), unit_random());
            delivery->nak(delay);
          }
        }
      } catch (const std::exception& error) {
        pull.reset();
        // Once per half minute at most while the broker stays away.
        const auto now = std::chrono::steady_clock::now();
        if (now - warned > std::chrono::seconds(30)) {
          warned = now;
          app.log().warn("event consumer waits for the broker",
                         {{"consumer", consumer}, {"stream", stream}, {"error", error.what()}});
        }
        // Sleep in short steps so a drain is not held up.
        for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    }
  }

  Events* owner = nullptr;
};

Events::Events(App& app, EventsConfig config)
    : impl_(std::make_unique<Impl>(app, std::move(config))) {
  impl_->owner = this;
  if (!impl_->config.nats_url.empty()) {
    impl_->broker = std::make_unique<detail::Broker>(
        impl_->config.nats_url, impl_->source, impl_->config.connect_timeout_ms,
        impl_->config.publish_timeout_ms,
        detail::StreamLimits{impl_->config.stream_max_age_s, impl_->config.duplicate_window_s});
  }
}

Events::~Events() = default;

bool Events::enabled() const {
  return impl_->broker != nullptr;
}

Event Events::emit(db::Tx& tx, std::string_view type, Json data,
                   std::string_view traceparent) const {
  Event e;
  e.id = new_object_id();
  e.type = std::string(type);
  e.subject = subject_of(type);
  e.occurred_at = iso8601(now_ms());
  e.source = impl_->source;
  e.data = std::move(data);
  e.traceparent = std::string(traceparent);
  if (!enabled()) return e;
  queue::EnqueueOptions options;
  options.max_attempts = kOutboxMaxAttempts;
  options.dedupe_key = e.id;
  impl_->outbox.enqueue(tx, dump_json(e.to_json()), options);
  impl_->count(kEmittedTotal, "Events written to the outbox", e.type);
  return e;
}

void Events::on(std::string type, Handler handler) {
  split_type(type);
  if (impl_->attached) throw std::logic_error("Events::on after attach");
  impl_->handlers[std::move(type)] = std::move(handler);
}

Events::Verdict Events::handle(std::string_view payload, int delivery,
                               const std::string& fallback_id, std::string* error_out,
                               std::string_view delivered_subject) {
  auto& impl = *impl_;
  // Kept for an admin when it can never be handled: under its own id when it is an envelope.
  const auto refuse = [&](const Event* e, const std::string& why) {
    try {
      impl.record_dead_letter(e, payload, e != nullptr ? e->id : fallback_id, why, delivery);
      return Verdict::Ack;
    } catch (const std::exception& again) {
      if (error_out) *error_out = again.what();
      return Verdict::Retry;
    }
  };
  Event e;
  try {
    e = Event::parse(payload);
  } catch (const std::exception& error) {
    return refuse(nullptr, error.what());
  }
  // An envelope must say what its subject says (a `payment.succeeded` published on another
  // aggregate's subject, where its publisher may have rights, is not one), and come from the
  // aggregate's one producer, named after it (payment.* from payment-service).
  const std::string producer = std::string(split_type(e.type).first) + "-service";
  if (e.subject != subject_of(e.type)) {
    return refuse(&e, "event subject " + e.subject + " does not match its type " + e.type);
  }
  if (e.source != producer) {
    return refuse(&e, "event " + e.type + " from " + e.source + ", not " + producer);
  }
  if (!delivered_subject.empty() && delivered_subject != e.subject) {
    return refuse(
        &e, "event of subject " + e.subject + " delivered on " + std::string(delivered_subject));
  }
  const auto handler = impl.handlers.find(e.type);
  if (handler == impl.handlers.end()) return Verdict::Ack;  // another consumer's event
  std::string failure;
  bool poison = false;
  try {
    impl.process(e, handler->second, {});
    return Verdict::Ack;
  } catch (const Poison& error) {
    failure = error.what();
    poison = true;
  } catch (const db::Unavailable& error) {
    // Our database, not the event: never a reason for a dead letter, however long it lasts.
    if (error_out) *error_out = error.what();
    impl.count(kRedeliveredTotal, "Events handed back for a later delivery", e.type);
    return Verdict::Retry;
  } catch (const std::exception& error) {
    failure = error.what();
  }
  if (error_out) *error_out = failure;
  if (!poison && delivery < impl.config.max_deliver) {
    impl.count(kRedeliveredTotal, "Events handed back for a later delivery", e.type);
    impl.app.log().warn("event handler failed; redelivered later", {{"consumer", impl.consumer},
                                                                    {"eventId", e.id},
                                                                    {"type", e.type},
                                                                    {"delivery", delivery},
                                                                    {"error", failure}});
    return Verdict::Retry;
  }
  try {
    impl.record_dead_letter(&e, payload, e.id, failure, delivery);
    return Verdict::Ack;
  } catch (const std::exception& again) {
    if (error_out) *error_out = again.what();
    return Verdict::Retry;  // not recorded: keep it in the stream
  }
}

std::vector<DeadLetter> Events::dead_letters(bool replayed, std::int64_t limit, std::int64_t offset,
                                             std::int64_t* total) const {
  const std::string where =
      std::string("consumer = $1 AND replayed_at_ms IS ") + (replayed ? "NOT NULL" : "NULL");
  return impl_->app.db().with_tx(db::TxKind::Snapshot, [&](db::Tx& tx) {
    std::vector<DeadLetter> out;
    for (const auto& row : tx.query(std::string("SELECT ") + kDeadLetterColumns +
                                        " FROM emporium_dead_letters WHERE " + where +
                                        " ORDER BY id DESC LIMIT $2 OFFSET $3",
                                    {impl_->consumer, limit, offset})
                               .rows) {
      out.push_back(dead_letter_of(row));
    }
    if (total != nullptr) {
      *total =
          tx.query("SELECT COUNT(*) FROM emporium_dead_letters WHERE " + where, {impl_->consumer})
              .one()
              .integer(0);
    }
    return out;
  });
}

std::optional<DeadLetter> Events::dead_letter(std::int64_t id) const {
  const auto result = impl_->app.db().query(std::string("SELECT ") + kDeadLetterColumns +
                                                " FROM emporium_dead_letters WHERE id = $1 AND "
                                                "consumer = $2",
                                            {id, impl_->consumer});
  if (result.empty()) return std::nullopt;
  return dead_letter_of(result.one());
}

DeadLetter Events::replay(std::int64_t id, const std::optional<Json>& data) {
  auto& impl = *impl_;
  auto letter = dead_letter(id);
  if (!letter) throw not_found("Dead letter not found");
  if (letter->replayed_at_ms) {
    throw conflict("This dead letter was replayed already", "already_replayed");
  }
  Event e;
  try {
    e = Event::parse(letter->payload);
  } catch (const std::exception& error) {
    throw conflict(std::string("The dead letter is not an event: ") + error.what(),
                   "replay_failed");
  }
  if (data) e.data = *data;
  const auto handler = impl.handlers.find(e.type);
  if (handler == impl.handlers.end()) {
    throw conflict("No handler for events of type " + e.type, "replay_failed");
  }
  const std::string payload = dump_json(e.to_json());
  try {
    impl.process(e, handler->second, [&](db::Tx& tx) {
      tx.exec(
          "UPDATE emporium_dead_letters SET replayed_at_ms = $1, updated_at_ms = $1, payload = $2 "
          "WHERE id = $3",
          {now_ms(), payload, id});
    });
  } catch (const db::Unavailable&) {
    throw;
  } catch (const std::exception& error) {
    impl.app.db().transact(db::TxKind::Write, [&](db::Tx& tx) {
      tx.exec("UPDATE emporium_dead_letters SET error = $1, updated_at_ms = $2 WHERE id = $3",
              {std::string(error.what()), now_ms(), id});
    });
    throw conflict(std::string("Replaying the event failed again: ") + error.what(),
                   "replay_failed");
  }
  return *dead_letter(id);
}

void Events::mount_dead_letter_routes(App& app, const std::string& prefix) {
  const http::RouteOptions admin{.access = http::Access::Admin};
  auto id_of = [](const http::Request& request) {
    const std::string_view raw = request.param("id");
    std::int64_t id = 0;
    if (raw.empty() || raw.size() > 18 ||
        !std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw not_found("Dead letter not found");
    }
    for (char c : raw) id = id * 10 + (c - '0');
    return id;
  };
  const std::string base = prefix + "/dead-letters";
  app.route(
      http::Method::Get, base,
      [this, base](http::Request& request) {
        FieldErrors errors;
        const auto page = http::read_page(request, errors);
        const auto status = request.query("status").value_or("open");
        if (status != "open" && status != "replayed") {
          errors.add("status", "status must be open or replayed");
        }
        errors.throw_if_any();
        std::int64_t total = 0;
        Json out = Json::array();
        for (const auto& d :
             dead_letters(status == "replayed", page.limit, page.offset(), &total)) {
          out.push_back(d.to_json());
        }
        auto response = http::Response::json(200, out);
        http::set_page_headers(response, page, total, base, "status=" + status);
        return response;
      },
      admin);
  app.route(
      http::Method::Get, base + "/:id",
      [this, id_of](http::Request& request) {
        const auto d = dead_letter(id_of(request));
        if (!d) throw not_found("Dead letter not found");
        return http::Response::json(200, d->to_json());
      },
      admin);
  app.route(
      http::Method::Post, base + "/:id/replay",
      [this, id_of](http::Request& request) {
        const auto id = id_of(request);
        std::optional<Json> data;
        if (!request.body.empty()) {
          Json body;
          try {
            body = Json::parse(request.body);
          } catch (const std::exception&) {
            throw bad_request("The body must be JSON: {\"data\": {...}} or empty");
          }
          if (!body.is_object()) throw bad_request("The body must be a JSON object");
          const auto it = body.find("data");
          if (it != body.end()) {
            if (!it->is_object()) {
              throw bad_request("data must be an object", {{"data", "data must be an object"}});
            }
            data = *it;
          }
        }
        return http::Response::json(200, replay(id, data).to_json());
      },
      admin);
}

void Events::attach(App& app) {
  auto& impl = *impl_;
  impl.attached = true;
  if (!enabled()) {
    app.log().info("events are off (NATS_URL is unset): nothing is published or consumed");
    return;
  }
  auto* broker = impl.broker.get();
  app.readiness_check("broker", [broker] { return broker->connected(); });

  queue::WorkerOptions options;
  options.threads = 1;
  options.batch = 16;
  options.poll_interval_ms = impl.config.relay_poll_ms;
  // Longer than a batch whose every publish times out; the claims of a relay that died come back
  // after it.
  options.lease_ms =
      std::max<std::int64_t>(20'000, options.batch * impl.config.publish_timeout_ms + 5'000);
  options.backoff = {250, 10'000};
  options.keep_done_ms = 3600LL * 1000;
  impl.relay = std::make_unique<queue::Worker>(
      app.db(), kOutboxQueue, options,
      [&impl](const queue::Item& item) { return impl.publish(item); }, &app.metrics(), &app.log());
  impl.relay->attach(app);

  // One loop per stream this service consumes from.
  std::map<std::string, std::string> streams;  // stream -> subjects filter
  for (const auto& [type, handler] : impl.handlers)
    streams[stream_of(type)] = stream_subjects(type);
  for (const auto& [stream, filter] : streams) {
    app.background("events-consumer-" + stream,
                   [&impl, stream = stream, filter = filter](std::stop_token stop) {
                     impl.consume(stop, stream, filter);
                   });
  }
  // Processed-event ids outlive any redelivery by far after a month.
  app.every("events-processed-purge", 3600 * 1000, [&impl] {
    // In batches, so that a large backlog never holds the write lock for long.
    const std::int64_t before = now_ms() - 30LL * 24 * 3600 * 1000;
    for (int round = 0; round < 100; ++round) {
      const auto deleted = impl.app.db().with_tx(db::TxKind::Write, [&](db::Tx& tx) {
        return tx.exec(
            "DELETE FROM emporium_processed_events WHERE (consumer, event_id) IN (SELECT "
            "consumer, event_id FROM emporium_processed_events WHERE processed_at_ms < $1 "
            "LIMIT 1000)",
            {before});
      });
      if (deleted < 1000) break;
    }
    // Replayed dead letters are history after the same month.
    impl.app.db().transact(db::TxKind::Write, [&](db::Tx& tx) {
      tx.exec("DELETE FROM emporium_dead_letters WHERE consumer = $1 AND replayed_at_ms < $2",
              {impl.consumer, before});
    });
  });
}

}  // namespace emporium::events
