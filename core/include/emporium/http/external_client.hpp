// The external HTTP client for third-party providers (Stripe, Twilio; DESIGN §4 "http — client",
// external policy, and §12): one base URL per provider, the provider's own auth, form-encoded or
// JSON bodies, a timeout per call and an idempotency key. It shares the transport (keep-alive
// pool, circuit breaker, deadlines, response cap, counters) with the internal HttpClient.
//
// Calls block: run them on a worker pool, never on an I/O thread.
//
// Policy of every call (STYLE: "every outbound call states its timeout, retry policy and what a
// non-2xx means"):
//   - headers: Authorization (Bearer or Basic, from the options), the options' default headers
//     (`Stripe-Version`), User-Agent, Accept: application/json, the body's Content-Type and
//     `Idempotency-Key` when the request has one. Never our internal headers: X-Internal-Token,
//     X-Request-ID, traceparent, tracestate, baggage, X-Real-IP, X-Forwarded-*, Forwarded and any
//     X-Internal-* / X-Emporium-* are dropped from the caller's extra headers (they may come from
//     copying an incoming request's headers; a provider must not learn our secrets or topology).
//   - timeout: `timeout_ms` per attempt (the request's, else the options'), connect included;
//     a call ends within about max_attempts × timeout + the back-offs between attempts.
//   - answers: any status below 500 is the provider's answer and is returned as is (a Stripe 402
//     card_error reaches the caller with its body; 4xx are never retried).
//   - failures: a 5xx answer, a timeout, a refused or broken connection, a TLS failure or an
//     answer over max_response_bytes throw ProviderError: 504 gateway_timeout when the deadline
//     ended the last attempt, else 502 bad_gateway (a refused connection too: the provider is the
//     one that failed, and we know no time after which it will be back). While the breaker is
//     open the call throws 503 service_unavailable with Retry-After without contacting the
//     provider. ProviderError::outcome_unknown() tells whether any attempt may have reached the
//     provider (a 5xx or a failure after the request started to leave), so a payment can record
//     "outcome unknown" instead of "failed".
//   - retries: a failure is retried (up to max_attempts, with jittered exponential back-off) only
//     where that is safe: always when the request never left (connection refused), else only when
//     the request is a GET/HEAD or carries an idempotency key the provider de-duplicates (as
//     Stripe does). A request without a key is sent on a fresh connection, never on a reused
//     keep-alive one (libcurl silently re-sends a request whose reused connection closed).
//   - health: `failures_to_open` consecutive failures open the provider's breaker for
//     `circuit_open_ms`; then one request is let through as a probe (as HttpClient does).
//   - TLS: https base URLs use the system CA store (libcurl's default, peer and host verified);
//     http is accepted for local fakes and tests (STRIPE_API_BASE=http://127.0.0.1:12111).
#pragma once

#include "emporium/config/env.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/http/client.hpp"
#include "emporium/json/json.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace emporium::http {

struct BearerAuth {
  std::string token;  // sent as `Authorization: Bearer <token>` (Stripe: sk_…)
};
struct BasicAuth {
  std::string user;  // sent as `Authorization: Basic base64(user:password)` (Twilio: AC…:token)
  std::string password;
};
using ProviderAuth = std::variant<std::monostate, BearerAuth, BasicAuth>;

struct ExternalOptions {
  ProviderAuth auth;
  Headers default_headers;  // on every request, e.g. {"Stripe-Version", "2024-06-20"}
  std::string user_agent = "emporium";
  int timeout_ms = 10000;           // one attempt, connect included, unless the request sets one
  int connect_timeout_ms = 3000;    // capped by the attempt's timeout
  int max_attempts = 2;             // attempts of a call that may be retried (see above)
  int retry_backoff_ms = 250;       // before the first retry; doubled each time, jittered
  int max_retry_backoff_ms = 2000;  // cap of one back-off
  int circuit_open_ms = 5000;
  int failures_to_open = 5;
  int pool_size = 8;  // idle keep-alive connections kept to the provider
  std::size_t max_response_bytes = 4 * 1024 * 1024;
};

struct ExternalRequest {
  Method method = Method::Post;
  std::string path;          // starting with '/', query included, already percent-encoded
  std::string body;          // sent as is
  std::string content_type;  // with a body; form() and json() set it
  Headers headers;           // extra headers; our internal ones are dropped (see above)
  // Sent as Idempotency-Key. The provider de-duplicates requests with the same key, which makes
  // retrying a POST safe. Stripe keys are at most 255 characters.
  std::string idempotency_key;
  int timeout_ms = 0;  // one attempt; 0: ExternalOptions::timeout_ms

  // A body of form fields encoded by form_encode (Content-Type
  // application/x-www-form-urlencoded).
  static ExternalRequest form(Method method, std::string path, const Json& fields);
  // A JSON body (Content-Type application/json).
  static ExternalRequest json(Method method, std::string path, const Json& body);
  // Any other body (`content_type` is required with a body).
  static ExternalRequest with_body(Method method, std::string path, std::string body,
                                   std::string content_type);
  static ExternalRequest get(std::string path);

  // Whether a failed attempt that may have reached the provider may be sent again: GET and HEAD,
  // or any request with an idempotency key.
  bool retriable() const;
};

// The error every failed call throws: an HttpError the service's error mapping turns into our
// 502/503/504 problem document, plus what a payment needs to record.
class ProviderError : public HttpError {
 public:
  ProviderError(HttpError error, std::string provider, bool outcome_unknown, int provider_status);

  const std::string& provider() const { return provider_; }
  // True when an attempt may have reached the provider and taken effect (a 5xx, a timeout or a
  // broken connection after the request started to leave): the caller must find out (retry with
  // the same idempotency key, or look the object up) before treating the operation as failed.
  bool outcome_unknown() const { return outcome_unknown_; }
  // The provider's 5xx status of the last attempt; 0 when it gave no answer.
  int provider_status() const { return provider_status_; }

 private:
  std::string provider_;
  bool outcome_unknown_;
  int provider_status_;
};

class ExternalClient {
 public:
  // `provider` names it in errors and metrics ("stripe"). `base_url` is `http[s]://host[:port]
  // [/prefix]` (a trailing slash is dropped). Throws std::invalid_argument for a malformed URL,
  // invalid options, or default headers that carry a reserved or internal header.
  ExternalClient(std::string provider, std::string base_url, ExternalOptions options = {});
  ~ExternalClient();
  ExternalClient(ExternalClient&&) noexcept;
  ExternalClient& operator=(ExternalClient&&) noexcept;
  ExternalClient(const ExternalClient&) = delete;
  ExternalClient& operator=(const ExternalClient&) = delete;

  // Sends `request` under the policy above and returns the provider's answer (status < 500).
  // Throws ProviderError (502/503/504); std::invalid_argument for a malformed path or header, or
  // an extra header the client sets itself (Authorization, Idempotency-Key, Content-Type,
  // Content-Length, Host, Transfer-Encoding, Connection, Expect, User-Agent): a caller bug.
  // Thread-safe.
  ClientResponse call(const ExternalRequest& request) const;

  const std::string& provider() const;
  const std::string& base_url() const;
  ClientStats stats() const;                  // `unavailable` counts calls that threw ProviderError
  obs::CounterSource counter_source() const;  // labelled policy="external", upstream=<provider>
  bool breaker_open() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Form fields as Stripe's API reads them (stripe-node sends `qs.stringify` with indexed arrays):
// `fields` is a JSON object; nested objects become `a[b][c]=v`, arrays `items[0][price]=v`;
// strings as they are, booleans `true`/`false`, integers in decimal, other numbers in their
// shortest round-trip form (`12.5`); null becomes an empty value (`key=`, which is how Stripe
// unsets a field); empty objects and arrays send nothing. Members are in key order. Names and
// values are percent-encoded as application/x-www-form-urlencoded with RFC 3986's unreserved
// set (A–Z a–z 0–9 - . _ ~) kept and a space as %20; the brackets that express nesting are sent
// literally, as stripe-node does, while a bracket inside a name or value is encoded. Throws
// std::invalid_argument when `fields` is not an object.
std::string form_encode(const Json& fields);

// A provider's base URL and timeout from the environment:
//   <PREFIX>_API_BASE    base URL (STRIPE_API_BASE, TWILIO_API_BASE), default `default_base`
//   <PREFIX>_TIMEOUT_MS  per-attempt timeout, default 10000
//   CIRCUIT_OPEN_MS      breaker interval, default 5000 (shared with the internal clients)
// Auth and default headers are the caller's (each provider has its own secrets). A malformed value
// throws ConfigError naming the variable.
struct ProviderConfig {
  std::string base_url;
  ExternalOptions options;
};
ProviderConfig provider_from_env(const Env& env, std::string_view prefix,
                                 std::string_view default_base);

}  // namespace emporium::http
