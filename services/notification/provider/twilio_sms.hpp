// SMS through Twilio's Messages API (DESIGN §12) over the core's external HTTP policy:
// `POST /2010-04-01/Accounts/{sid}/Messages.json`, form fields To, From, Body, Basic auth with
// the account SID and auth token, base URL from TWILIO_API_BASE (tests use a fake on loopback).
//
// What an answer means (one attempt; the delivery worker retries with back-off):
//   - 200/201: Sent; detail is the message's `sid` (SM…).
//   - 429: Retry, with the Retry-After header (seconds) as retry_after_ms.
//   - 401, 403, 404: Retry. Bad credentials or a wrong account SID; an operator can fix them, and
//     the worker bounds the attempts, so the message is not given up at once.
//   - 400 with an operator-fixable code: Retry. 20003 (authenticate), 20404 (not found), 21212
//     (invalid From number), 21606 (From number cannot send SMS), 21659 (From not a Twilio number).
//   - any other 4xx: Fail, detail "Twilio <code>: <message>" from Twilio's error JSON. Twilio
//     checked the request and refused it; the same request gets the same answer: 21211 invalid
//     To, 21610 recipient unsubscribed (STOP), 21614 To not a mobile number, 21408 region not
//     enabled, 21602 empty body, 21617 body too long, …
//   - 5xx, timeout, refused connection, breaker open (http::ProviderError): Retry with its detail
//     (and the breaker's Retry-After).
//
// Twilio's API takes no idempotency key, so the external client never re-sends the POST once it
// may have left (ExternalClient's retry rules). Delivery is still at-least-once: a crash between
// Twilio's 201 and our record of it sends the SMS again on the next attempt.
#pragma once

#include "provider/channels.hpp"

#include <emporium/config/env.hpp>
#include <emporium/http/external_client.hpp>

#include <memory>
#include <string>
#include <vector>

namespace emporium::notification::provider {

struct TwilioConfig {
  std::string account_sid;   // TWILIO_ACCOUNT_SID (AC…; letters and digits: it is in the path)
  std::string auth_token;    // TWILIO_AUTH_TOKEN
  std::string from_number;   // TWILIO_PHONE_NUMBER, E.164
  http::ProviderConfig api;  // TWILIO_API_BASE (default https://api.twilio.com), TWILIO_TIMEOUT_MS

  // Throws ConfigError naming the variable: a SID that is not letters and digits, a phone number
  // that is not E.164, a malformed TWILIO_API_BASE or TWILIO_TIMEOUT_MS.
  static TwilioConfig from_env(const Env& env);
  // The variables among TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER left unset.
  std::vector<std::string> missing() const;
};

class TwilioSms : public SmsSender {
 public:
  // Throws std::invalid_argument when the config is incomplete (see make_sms_sender).
  explicit TwilioSms(const TwilioConfig& config);
  Delivery send(const Sms& sms) override;

  const http::ExternalClient& client() const { return client_; }

 private:
  std::string path_;
  std::string from_;
  http::ExternalClient client_;
};

// TwilioSms when SID, token and number are all set; else a sender whose every send is
// Fail("SMS is not configured: <the missing variables> must be set").
std::unique_ptr<SmsSender> make_sms_sender(const TwilioConfig& config);

}  // namespace emporium::notification::provider
