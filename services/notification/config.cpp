#include "config.hpp"

#include <algorithm>

namespace emporium::notification {

NotificationConfig NotificationConfig::from_env(const Env& env) {
  NotificationConfig config;
  config.common = ServiceConfig::from_env(env, "notification-service", 5005);
  config.events = events::EventsConfig::from_env(env);
  config.smtp = provider::SmtpConfig::from_env(env);
  config.twilio = provider::TwilioConfig::from_env(env);
  config.store_name = env.string("STORE_NAME", "Emporium");
  if (config.store_name.empty() || config.store_name.size() > 100 ||
      config.store_name.find_first_of("\r\n") != std::string::npos) {
    throw ConfigError("STORE_NAME: 1 to 100 characters on one line");
  }
  const auto currency = currency_from_code(env.string("CURRENCY", "usd"));
  if (!currency) {
    throw ConfigError("CURRENCY: must be an ISO 4217 code with 0 or 2 decimals, such as usd");
  }
  config.currency = *currency;
  config.max_attempts = static_cast<int>(env.integer("NOTIFICATION_MAX_ATTEMPTS", 5, 1, 100));
  config.retry_base_ms = env.integer("NOTIFICATION_RETRY_BASE_MS", 2000, 10, 3'600'000);
  config.retry_max_ms =
      env.integer("NOTIFICATION_RETRY_MAX_MS", 600'000, config.retry_base_ms, 86'400'000);
  config.lease_ms = env.integer("NOTIFICATION_LEASE_MS", 60'000, 1000, 3'600'000);
  // A send must end within its lease, or another instance takes the message over mid-send and
  // it goes out twice.
  const std::int64_t longest_send = std::max<std::int64_t>(
      config.smtp.timeout_ms, static_cast<std::int64_t>(config.twilio.api.options.timeout_ms) *
                                  config.twilio.api.options.max_attempts);
  if (config.lease_ms <= longest_send + 1000) {
    throw ConfigError("NOTIFICATION_LEASE_MS: must exceed the longest send by more than 1 s (" +
                      std::to_string(longest_send) +
                      " ms from SMTP_TIMEOUT_MS and TWILIO_TIMEOUT_MS)");
  }
  config.retention_ms = env.integer("NOTIFICATION_RETENTION_DAYS", 90, 1, 3650) * 24 * 3600 * 1000;
  config.worker_threads = static_cast<int>(env.integer("NOTIFICATION_WORKER_THREADS", 2, 1, 32));
  config.worker_poll_ms =
      static_cast<int>(env.integer("NOTIFICATION_WORKER_POLL_MS", 500, 10, 60'000));
  return config;
}

}  // namespace emporium::notification
