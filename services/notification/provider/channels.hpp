// The delivery channels as the delivery worker uses them: one attempt to send one email or one
// SMS, and what the provider said. Implementations: SMTP through libcurl (smtp_mailer.hpp) and
// Twilio's Messages API (twilio_sms.hpp); without configuration, a channel that fails every send
// with the reason (DESIGN §12: missing credentials do not crash the service).
//
// An attempt never throws for a provider's answer or a network failure: it returns a Delivery.
// Sent means the provider accepted the message (not that it reached the person); Retry means it
// may succeed later (the worker bounds the attempts and backs off, honouring retry_after_ms);
// Fail means sending the same message again cannot succeed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace emporium::notification::provider {

struct Email {
  std::string to;  // a valid address (emporium/util/contact.hpp); checked again before sending
  std::string subject;
  std::string text;
  std::string html;        // empty: a text-only email
  std::string message_id;  // our id (the notification's); Message-ID is <message_id@from-domain>
};

struct Sms {
  std::string to;  // E.164
  std::string body;
};

// One delivery attempt's result.
struct Delivery {
  enum class Kind { Sent, Retry, Fail };
  Kind kind = Kind::Sent;
  // Sent: the provider's id or reply (Twilio's message sid; the SMTP server's final "250 …"
  // reply). Retry/Fail: the provider's own reason ("451 4.3.0 try again later", "Twilio 21211:
  // The 'To' number … is not a valid phone number."), else ours.
  std::string detail;
  std::optional<std::int64_t> retry_after_ms{};  // a provider's Retry-After

  static Delivery sent(std::string detail) { return {Kind::Sent, std::move(detail), {}}; }
  static Delivery retry(std::string detail, std::optional<std::int64_t> after_ms = {}) {
    return {Kind::Retry, std::move(detail), after_ms};
  }
  static Delivery fail(std::string detail) { return {Kind::Fail, std::move(detail), {}}; }
};

// "sent", "retry", "fail" (logs and tests).
const char* to_string(Delivery::Kind kind);

class Mailer {
 public:
  virtual ~Mailer() = default;
  // One attempt; thread-safe; blocks up to the configured timeout (run it on a worker pool).
  virtual Delivery send(const Email& email) = 0;
};

class SmsSender {
 public:
  virtual ~SmsSender() = default;
  // One attempt; thread-safe; blocks up to the configured timeout (run it on a worker pool).
  virtual Delivery send(const Sms& sms) = 0;
};

}  // namespace emporium::notification::provider
