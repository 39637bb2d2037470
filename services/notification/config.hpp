// notification-service configuration: the common ServiceConfig, the events, the two channels
// (SMTP and Twilio, each optional: a missing one makes its messages `failed` with the reason) and
// the delivery policy. Filled once at start-up; anything malformed throws ConfigError naming the
// variable.
#pragma once

#include "provider/smtp_mailer.hpp"
#include "provider/twilio_sms.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>
#include <emporium/events/events.hpp>
#include <emporium/money/currency.hpp>

#include <cstdint>
#include <string>

namespace emporium::notification {

struct NotificationConfig {
  ServiceConfig common;
  events::EventsConfig events;    // NATS_URL, EVENTS_* (events/events.hpp)
  provider::SmtpConfig smtp;      // SMTP_URL, NODEMAILER_EMAIL, NODEMAILER_PASSWORD, SMTP_*
  provider::TwilioConfig twilio;  // TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER, …
  std::string store_name = "Emporium";  // STORE_NAME: in every subject and text
  Currency currency;                    // CURRENCY, as the other services
  // NOTIFICATION_MAX_ATTEMPTS (default 5): sends tried before the message is `failed`.
  int max_attempts = 5;
  // NOTIFICATION_RETRY_BASE_MS (2000) and NOTIFICATION_RETRY_MAX_MS (600000): the jittered
  // exponential back-off between attempts (a provider's Retry-After when longer).
  std::int64_t retry_base_ms = 2000;
  std::int64_t retry_max_ms = 600'000;
  // NOTIFICATION_LEASE_MS (60000): how long an instance holds a message it is sending before
  // another may take it over; must exceed SMTP_TIMEOUT_MS and TWILIO_TIMEOUT_MS.
  std::int64_t lease_ms = 60'000;
  // NOTIFICATION_RETENTION_DAYS (90): sent and failed messages (bodies, addresses) are deleted
  // this long after they ended.
  std::int64_t retention_ms = 90LL * 24 * 3600 * 1000;
  int worker_threads = 2;    // NOTIFICATION_WORKER_THREADS: messages sent at once per instance
  int worker_poll_ms = 500;  // NOTIFICATION_WORKER_POLL_MS: idle poll for due messages

  static NotificationConfig from_env(const Env& env);
};

}  // namespace emporium::notification
