// The NATS JetStream connection of one process (cnats, Debian's libnats-dev): connects in the
// background and reconnects forever, so a service starts and serves while the broker is down;
// publishes with a message id and waits for JetStream's ack; pull subscriptions for consumers.
// Only src/events includes nats.h.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct __natsConnection;
struct __jsCtx;
struct __natsSubscription;
struct __natsMsg;

namespace emporium::events::detail {

// A broker call that failed: not connected, no ack in time, the stream missing, refused.
class BrokerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StreamLimits {
  std::int64_t max_age_s = 0;
  std::int64_t duplicate_window_s = 0;
};

struct ConsumerSettings {
  std::int64_t ack_wait_ms = 30000;
  std::int64_t max_ack_pending = 1000;
};

// One delivered message, acked or nak'ed by the consumer loop.
class Delivery {
 public:
  explicit Delivery(__natsMsg* msg);
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  std::string payload() const;
  std::string subject() const;
  int delivery_count() const;  // 1 on the first delivery
  std::uint64_t stream_sequence() const;
  void ack();
  void nak(std::int64_t delay_ms);

 private:
  __natsMsg* msg_;
  int deliveries_ = 1;
  std::uint64_t sequence_ = 0;
};

class Broker {
 public:
  // `name` is the connection name the server shows (the service).
  Broker(const std::string& url, const std::string& name, int connect_timeout_ms,
         int request_timeout_ms, StreamLimits limits);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  bool connected() const;

  // Creates the stream `name` over `subjects_pattern` unless it exists. Throws BrokerError.
  void ensure_stream(const std::string& name, const std::string& subjects_pattern);
  // Publishes and waits for the ack (a duplicate within the window is acked too). Creates the
  // stream when JetStream says it is missing. Throws BrokerError.
  void publish(const std::string& stream, const std::string& stream_subjects,
               const std::string& subject, const std::string& msg_id, const std::string& payload);

  class Pull {
   public:
    explicit Pull(__natsSubscription* sub) : sub_(sub) {}
    ~Pull();
    Pull(const Pull&) = delete;
    Pull& operator=(const Pull&) = delete;
    // Up to `batch` messages within `timeout_ms`; empty on a timeout. Throws BrokerError on
    // anything else (the caller subscribes again after a pause).
    std::vector<std::unique_ptr<Delivery>> fetch(int batch, int timeout_ms);

   private:
    __natsSubscription* sub_;
  };
  // The durable pull consumer `durable` of `stream`, filtered to `filter`, created when missing.
  // Throws BrokerError.
  std::unique_ptr<Pull> subscribe(const std::string& stream, const std::string& filter,
                                  const std::string& durable, const ConsumerSettings& settings);

 private:
  __natsConnection* conn_ = nullptr;
  __jsCtx* js_ = nullptr;
  int request_timeout_ms_;
  StreamLimits limits_;
};

}  // namespace emporium::events::detail
