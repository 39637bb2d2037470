// notification-service's use cases (DESIGN §12 "Notifications"): a message is first a `queued`
// row with its delivery item (work queue "notifications"), written in one transaction — by a
// request (POST /email, /sms) or by an event (in the consumer's transaction, with its
// processed-event record) — then a delivery worker on any instance claims it with a lease and
// sends it. `sent` is recorded only after the provider accepted the message (SMTP's reply to
// DATA, Twilio's 201); a refusal or no answer is retried with jittered exponential back-off until
// NOTIFICATION_MAX_ATTEMPTS, then `failed` with the provider's last reason. A permanent refusal
// (Twilio: invalid number) is `failed` at once; a missing channel configuration too.
//
// Delivery is at least once: an instance killed after the provider accepted a message and before
// recording it leaves the message to be sent again when its lease passes (neither SMTP nor
// Twilio's Messages API de-duplicates; our Message-ID header lets a mail client recognise the
// copy). The window is one database write.
#pragma once

#include "config.hpp"
#include "domain/notification.hpp"
#include "domain/templates.hpp"
#include "store/notification_store.hpp"

#include <emporium/db/database.hpp>
#include <emporium/events/events.hpp>
#include <emporium/obs/log.hpp>
#include <emporium/obs/metrics.hpp>
#include <emporium/queue/work_queue.hpp>
#include <emporium/queue/worker.hpp>

#include <memory>
#include <optional>
#include <string>

namespace emporium::notification {

inline constexpr const char* kDeliveryQueue = "notifications";
// Messages by channel and outcome: sent, retried, failed.
inline constexpr const char* kDeliveriesMetric = "notifications_deliveries_total";

class Notifications {
 public:
  Notifications(db::Database& db, std::shared_ptr<provider::Mailer> mailer,
                std::shared_ptr<provider::SmsSender> sms, const NotificationConfig& config,
                obs::Logger* log = nullptr, obs::Metrics* metrics = nullptr);

  struct EmailInput {
    std::string to;
    std::string subject;
    std::string text;
    std::optional<std::string> html;
  };
  // Queues a message (checked by the handler); the worker sends it.
  domain::Notification queue_email(const EmailInput& input);
  domain::Notification queue_sms(const std::string& to, const std::string& message);

  // 404 `Notification not found`.
  domain::Notification get(const std::string& id);
  store::Page list(std::optional<domain::Status> status, std::int64_t offset, std::int64_t limit);

  // The consumer's handler for every event type notifications react to, in the transaction that
  // records the event as processed: renders the templates and queues an email to the customer,
  // and an SMS when the customer has a phone number. An event whose data cannot be rendered
  // (missing or malformed fields) throws events::Poison.
  void on_event(db::Tx& tx, const events::Event& event);

  // Creates the delivery worker and runs it on the App's background threads; this object must
  // outlive app.run().
  void attach(App& app);
  // One delivery attempt (the worker's handler; tests call it).
  queue::Outcome deliver(const queue::Item& item);

 private:
  void insert_and_enqueue(db::Tx& tx, const domain::Notification& notification);
  // A request's message: stamped, stored with its delivery item, the worker woken.
  domain::Notification queue(domain::Notification notification);
  void count(domain::Channel channel, const char* outcome);

  db::Database& db_;
  std::shared_ptr<provider::Mailer> mailer_;
  std::shared_ptr<provider::SmsSender> sms_;
  domain::TemplateContext templates_;
  int max_attempts_;
  std::int64_t retention_ms_;
  queue::WorkerOptions worker_options_;
  obs::Logger* log_;
  obs::Metrics* metrics_;
  queue::WorkQueue queue_;
  std::unique_ptr<queue::Worker> worker_;
};

}  // namespace emporium::notification
