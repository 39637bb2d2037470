#include "notifications.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/contact.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

#include <utility>

namespace emporium::notification {
namespace {

using db::Tx;
using db::TxKind;
using domain::Channel;
using domain::Notification;
using domain::Status;

// The contact an event's notifications go to: the registered user, or the order's customer.
const Json* contact_of(const events::Event& event) {
  if (event.type == "user.registered") return &event.data;
  const auto it = event.data.find("customer");
  return it != event.data.end() && it->is_object() ? &*it : nullptr;
}

std::optional<std::string> text_member(const Json* object, const char* name) {
  if (object == nullptr) return std::nullopt;
  const auto it = object->find(name);
  if (it == object->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

Notifications::Notifications(db::Database& db, std::shared_ptr<provider::Mailer> mailer,
                             std::shared_ptr<provider::SmsSender> sms,
                             const NotificationConfig& config, obs::Logger* log,
                             obs::Metrics* metrics)
    : db_(db),
      mailer_(std::move(mailer)),
      sms_(std::move(sms)),
      templates_{config.store_name, config.currency},
      max_attempts_(config.max_attempts),
      retention_ms_(config.retention_ms),
      log_(log),
      metrics_(metrics),
      queue_(kDeliveryQueue, db.backend()) {
  worker_options_.threads = config.worker_threads;
  worker_options_.batch = 1;
  worker_options_.lease_ms = config.lease_ms;
  worker_options_.poll_interval_ms = config.worker_poll_ms;
  worker_options_.backoff = {config.retry_base_ms, config.retry_max_ms};
}

void Notifications::count(Channel channel, const char* outcome) {
  if (metrics_ != nullptr) {
    metrics_->increment(kDeliveriesMetric, "Notification send attempts by outcome", "outcome",
                        std::string(domain::channel_name(channel)) + "_" + outcome);
  }
}

void Notifications::insert_and_enqueue(Tx& tx, const Notification& notification) {
  if (!store::insert(tx, notification)) return;  // this event's message on this channel exists
  queue_.enqueue(tx, notification.id,
                 {.max_attempts = max_attempts_, .run_after_ms = 0, .dedupe_key = notification.id});
}

Notification Notifications::queue_email(const EmailInput& input) {
  Notification n;
  n.id = new_object_id();
  n.channel = Channel::Email;
  n.recipient = input.to;
  n.subject = input.subject;
  n.text = input.text;
  n.html = input.html;
  return queue(std::move(n));
}

Notification Notifications::queue_sms(const std::string& to, const std::string& message) {
  Notification n;
  n.id = new_object_id();
  n.channel = Channel::Sms;
  n.recipient = to;
  n.text = message;
  return queue(std::move(n));
}

Notification Notifications::queue(Notification n) {
  n.created_at_ms = n.updated_at_ms = now_ms();
  db_.transact(TxKind::Write, [&](Tx& tx) { insert_and_enqueue(tx, n); });
  if (worker_) worker_->notify();
  return n;
}

Notification Notifications::get(const std::string& id) {
  auto n = db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find(tx, id); });
  if (!n) throw not_found("Notification not found");
  return std::move(*n);
}

store::Page Notifications::list(std::optional<Status> status, std::int64_t offset,
                                std::int64_t limit) {
  return db_.with_tx(TxKind::Snapshot,
                     [&](Tx& tx) { return store::list(tx, status, offset, limit); });
}

void Notifications::on_event(Tx& tx, const events::Event& event) {
  std::optional<domain::Rendered> rendered;
  try {
    rendered = domain::render(event.type, event.data, templates_);
  } catch (const domain::TemplateError& error) {
    throw events::Poison(error.what());
  }
  if (!rendered) return;  // an event this service does not write about
  const Json* contact = contact_of(event);
  const char* where = event.type == "user.registered" ? "data" : "data.customer";
  const auto email = text_member(contact, "email");
  if (!email) throw events::Poison(std::string(where) + ".email is missing");
  if (const auto problem = check_email(*email)) {
    throw events::Poison(std::string(where) + ".email: " + *problem);
  }
  std::string template_name = event.type;
  if (event.type == "order.status_changed") template_name += ":" + event.data.value("to", "");
  const auto user_id = text_member(contact, "userId");
  const std::int64_t now = now_ms();

  Notification mail;
  mail.id = new_object_id();
  mail.channel = Channel::Email;
  mail.recipient = *email;
  mail.subject = rendered->subject;
  mail.text = rendered->text;
  mail.html = rendered->html;
  mail.event_id = event.id;
  mail.event_type = event.type;
  mail.template_name = template_name;
  mail.user_id = user_id;
  mail.created_at_ms = mail.updated_at_ms = now;
  insert_and_enqueue(tx, mail);

  const auto phone = text_member(contact, "phone");
  if (phone && !check_phone(*phone) && !rendered->sms.empty()) {
    Notification text = mail;
    text.id = new_object_id();
    text.channel = Channel::Sms;
    text.recipient = *phone;
    text.subject.reset();
    text.html.reset();
    text.text = rendered->sms;
    insert_and_enqueue(tx, text);
  }
  if (worker_) worker_->notify();  // the rows commit with the caller's transaction
}

queue::Outcome Notifications::deliver(const queue::Item& item) {
  const auto n = db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find(tx, item.payload); });
  if (!n || n->status != Status::Queued) return queue::Outcome::done();  // gone, or final
  provider::Delivery result;
  if (n->channel == Channel::Email) {
    result = mailer_->send(
        {n->recipient, n->subject.value_or(""), n->text, n->html.value_or(""), n->id});
  } else {
    result = sms_->send({n->recipient, n->text});
  }
  switch (result.kind) {
    case provider::Delivery::Kind::Sent:
      count(n->channel, "sent");
      return queue::Outcome::done(result.detail);
    case provider::Delivery::Kind::Retry:
      count(n->channel, "retried");
      return queue::Outcome::retry(result.detail, result.retry_after_ms);
    case provider::Delivery::Kind::Fail:
      count(n->channel, "failed");
      return queue::Outcome::fail(result.detail);
  }
  return queue::Outcome::retry("unknown delivery result");
}

void Notifications::attach(App& app) {
  worker_ = std::make_unique<queue::Worker>(
      db_, kDeliveryQueue, worker_options_,
      [this](const queue::Item& item) { return deliver(item); }, metrics_, log_);
  // The row follows its delivery item: attempts and the last error on every transition, `sent`
  // with the provider's id only when the handler reported the provider's acceptance.
  worker_->on_settle([](Tx& tx, const queue::Item& item, const queue::Settled& settled) {
    store::Progress progress;
    progress.attempts = settled.attempts;
    progress.at_ms = now_ms();
    switch (settled.state) {
      case queue::State::Done:
        progress.status = Status::Sent;
        if (!settled.result.empty()) progress.provider_id = settled.result;
        break;
      case queue::State::Failed: progress.status = Status::Failed; break;
      default: progress.status = Status::Queued; break;
    }
    if (!settled.error.empty()) progress.last_error = settled.error;
    store::record(tx, item.payload, progress);
  });
  worker_->attach(app);
  // Personal data does not stay forever: ended messages go after the retention, in batches.
  app.every("notifications-retention", 3600 * 1000, [this] {
    const std::int64_t before = now_ms() - retention_ms_;
    for (int round = 0; round < 100; ++round) {
      const auto deleted =
          db_.with_tx(TxKind::Write, [&](Tx& tx) { return store::purge_final(tx, before, 1000); });
      if (deleted < 1000) break;
    }
  });
}

}  // namespace emporium::notification
