#include "events/broker.hpp"

#include <nats/nats.h>

#include <mutex>

namespace emporium::events::detail {
namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;

std::string describe(natsStatus status, jsErrCode code) {
  std::string text = natsStatus_GetText(status);
  if (code != 0) text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && text.find(last) == std::string::npos) {
    text += ": ";
    text += last;
  }
  return text;
}

void open_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (nats_Open(-1) != NATS_OK) throw BrokerError("the NATS client library did not start");
  });
}

struct Options {
  natsOptions* opts = nullptr;
  ~Options() {
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
};

}  // namespace

Delivery::Delivery(natsMsg* msg) : msg_(msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_) == NATS_OK && meta != nullptr) {
    deliveries_ = static_cast<int>(meta->NumDelivered);
    sequence_ = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
}

Delivery::~Delivery() {
  natsMsg_Destroy(msg_);
}

std::string Delivery::subject() const {
  const char* subject = natsMsg_GetSubject(msg_);
  return subject == nullptr ? std::string() : std::string(subject);
}

std::string Delivery::payload() const {
  const char* data = natsMsg_GetData(msg_);
  const int length = natsMsg_GetDataLength(msg_);
  return data == nullptr ? std::string() : std::string(data, static_cast<std::size_t>(length));
}

int Delivery::delivery_count() const {
  return deliveries_;
}
std::uint64_t Delivery::stream_sequence() const {
  return sequence_;
}

// Ack and nak are best effort: a lost one means a redelivery, which the processed-event record
// (or the next verdict) handles.
void Delivery::ack() {
  natsMsg_Ack(msg_, nullptr);
}
void Delivery::nak(std::int64_t delay_ms) {
  natsMsg_NakWithDelay(msg_, delay_ms, nullptr);
}

Broker::Broker(const std::string& url, const std::string& name, int connect_timeout_ms,
               int request_timeout_ms, StreamLimits limits)
    : request_timeout_ms_(request_timeout_ms), limits_(limits) {
  open_library();
  Options o;
  auto check = [](natsStatus s, const char* what) {
    if (s != NATS_OK)
      throw BrokerError(std::string(what) + ": " + describe(s, static_cast<jsErrCode>(0)));
  };
  check(natsOptions_Create(&o.opts), "NATS options");
  check(natsOptions_SetURL(o.opts, url.c_str()), "NATS_URL");
  check(natsOptions_SetName(o.opts, name.c_str()), "NATS name");
  check(natsOptions_SetTimeout(o.opts, connect_timeout_ms), "NATS timeout");
  check(natsOptions_SetMaxReconnect(o.opts, -1), "NATS reconnects");
  check(natsOptions_SetReconnectWait(o.opts, 500), "NATS reconnect wait");
  check(natsOptions_SetPingInterval(o.opts, 5000), "NATS ping interval");
  check(natsOptions_SetMaxPingsOut(o.opts, 2), "NATS pings");
  // Start (and serve) while the broker is down: the library keeps connecting in the background.
  check(natsOptions_SetRetryOnFailedConnect(o.opts, true, nullptr, nullptr), "NATS connect retry");
  const natsStatus s = natsConnection_Connect(&conn_, o.opts);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    // Not the URL itself: it may carry a user and password.
    throw BrokerError("NATS_URL: " + describe(s, static_cast<jsErrCode>(0)));
  }
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.Wait = request_timeout_ms_;
  if (natsConnection_JetStream(&js_, conn_, &js_opts) != NATS_OK) {
    natsConnection_Destroy(conn_);
    throw BrokerError("NATS JetStream context could not be made");
  }
}

Broker::~Broker() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
}

bool Broker::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

void Broker::ensure_stream(const std::string& name, const std::string& subjects_pattern) {
  if (!connected()) throw BrokerError("not connected to NATS");
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js_, name.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return;
  }
  if (s != NATS_NOT_FOUND && code != JSStreamNotFoundErr) {
    throw BrokerError("stream " + name + ": " + describe(s, code));
  }
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char* subjects[] = {subjects_pattern.c_str()};
  config.Name = name.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Retention = js_LimitsPolicy;
  config.MaxAge = limits_.max_age_s * 1000 * kNsPerMs;
  config.Duplicates = limits_.duplicate_window_s * 1000 * kNsPerMs;
  code = static_cast<jsErrCode>(0);
  s = js_AddStream(&info, js_, &config, nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return;
  }
  if (code == JSStreamNameExistErr) return;  // another instance made it meanwhile
  throw BrokerError("creating stream " + name + ": " + describe(s, code));
}

void Broker::publish(const std::string& stream, const std::string& stream_subjects,
                     const std::string& subject, const std::string& msg_id,
                     const std::string& payload) {
  if (!connected()) throw BrokerError("not connected to NATS");
  for (int attempt = 0;; ++attempt) {
    natsMsg* msg = nullptr;
    if (natsMsg_Create(&msg, subject.c_str(), nullptr, payload.data(),
                       static_cast<int>(payload.size())) != NATS_OK) {
      throw BrokerError("NATS message could not be made");
    }
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = msg_id.c_str();
    options.ExpectStream = stream.c_str();
    options.MaxWait = request_timeout_ms_;
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_PublishMsg(&ack, js_, msg, &options, &code);
    natsMsg_Destroy(msg);
    if (s == NATS_OK) {
      jsPubAck_Destroy(ack);
      return;
    }
    // No stream takes the subject yet (a new broker store): make it once and publish again.
    if (attempt == 0 && (s == NATS_NO_RESPONDERS || code == JSStreamNotFoundErr)) {
      ensure_stream(stream, stream_subjects);
      continue;
    }
    throw BrokerError("publishing " + subject + ": " + describe(s, code));
  }
}

Broker::Pull::~Pull() {
  // Destroy only: the durable consumer stays on the server for the next subscriber.
  natsSubscription_Destroy(sub_);
}

std::vector<std::unique_ptr<Delivery>> Broker::Pull::fetch(int batch, int timeout_ms) {
  natsMsgList list{};
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, sub_, batch, timeout_ms, &code);
  std::vector<std::unique_ptr<Delivery>> out;
  if (s == NATS_TIMEOUT) return out;
  if (s != NATS_OK) {
    natsMsgList_Destroy(&list);
    throw BrokerError("fetch: " + describe(s, code));
  }
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(std::make_unique<Delivery>(list.Msgs[i]));
    list.Msgs[i] = nullptr;  // owned by the Delivery now
  }
  natsMsgList_Destroy(&list);
  return out;
}

std::unique_ptr<Broker::Pull> Broker::subscribe(const std::string& stream,
                                                const std::string& filter,
                                                const std::string& durable,
                                                const ConsumerSettings& settings) {
  ensure_stream(stream, filter);
  // The durable consumer is made, or brought to this configuration (a changed EVENTS_ACK_WAIT_MS),
  // before binding to it: a pull subscription that carried the configuration itself would be
  // refused for any difference from the consumer's stored one, and consume nothing.
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = durable.c_str();
  config.AckPolicy = js_AckExplicit;
  config.DeliverPolicy = js_DeliverAll;
  config.AckWait = settings.ack_wait_ms * kNsPerMs;
  config.MaxDeliver = -1;  // our own count decides the dead letter (Events::handle)
  config.MaxAckPending = settings.max_ack_pending;
  config.FilterSubject = filter.c_str();
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_UpdateConsumer(&info, js_, stream.c_str(), &config, nullptr, &code);
  if (s != NATS_OK && (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr)) {
    code = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&info, js_, stream.c_str(), &config, nullptr, &code);
    if (s != NATS_OK && code == JSConsumerNameExistErr) {  // another instance made it meanwhile
      code = static_cast<jsErrCode>(0);
      s = js_UpdateConsumer(&info, js_, stream.c_str(), &config, nullptr, &code);
    }
  }
  if (info != nullptr) jsConsumerInfo_Destroy(info);
  if (s != NATS_OK) {
    throw BrokerError("consumer " + durable + " on " + stream + ": " + describe(s, code));
  }
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream.c_str();
  options.Consumer = durable.c_str();
  options.ManualAck = true;
  natsSubscription* sub = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_PullSubscribe(&sub, js_, filter.c_str(), durable.c_str(), nullptr, &options, &code);
  if (s != NATS_OK) {
    throw BrokerError("consumer " + durable + " on " + stream + ": " + describe(s, code));
  }
  return std::make_unique<Pull>(sub);
}

}  // namespace emporium::events::detail
