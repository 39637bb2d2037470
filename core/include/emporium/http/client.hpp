// The internal HTTP client services use to call each other (DESIGN §4 "http — client"): a list of
// instances per upstream, a keep-alive pool per instance, a timeout per call, retries on another
// instance only where that is safe, passive health with a circuit breaker per instance, and the
// X-Internal-Token / X-Request-ID / traceparent headers on every call.
//
// Calls block: they run in handlers on the worker pool, never on an I/O thread. libcurl stays in
// core/src/http: the pool, breaker, deadlines and counters are the transport (transport.hpp) that
// this internal policy shares with the external one (external_client.hpp, for Stripe and Twilio).
//
// Policy of every call (STYLE: "every outbound call states its timeout, retry policy and what a
// non-2xx means"):
//   - timeout: `timeout_ms` per attempt (connect included, itself bounded by `connect_timeout_ms`);
//     a call makes at most `max_attempts` attempts that may reach a server, plus attempts that
//     could not connect, each instance at most once, so it ends within about
//     max_attempts × timeout_ms + instances × connect_timeout_ms.
//   - retry: on the next instance when the request is idempotent, or when it was never sent
//     (connection refused, connect timeout, breaker open). A non-idempotent request that may have
//     reached a server is never sent again; it is also never sent over a reused keep-alive
//     connection, because libcurl silently re-sends a request whose reused connection closed
//     before any answer.
//   - answers: any status other than 502/503/504 is the upstream's answer and is returned as is
//     (4xx and 500 included; the caller decides what it means). 502/503/504, a failed connection
//     and a timeout count against the instance; when no instance gives an answer the call throws
//     service_unavailable("<name> is unavailable") — a 503 with Retry-After — which a caller may
//     catch to degrade (the cart prices lines from stored prices).
//   - health: `failures_to_open` consecutive failures open an instance's breaker; while open the
//     instance gets no request; after `circuit_open_ms` one request is let through as a probe
//     and its success closes the breaker (its failure opens it again).
#pragma once

#include "emporium/config/env.hpp"
#include "emporium/http/message.hpp"
#include "emporium/json/json.hpp"
#include "emporium/obs/metrics.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::http {

struct ClientOptions {
  int timeout_ms = 2000;            // one attempt, connect included
  int connect_timeout_ms = 500;     // capped by timeout_ms
  int circuit_open_ms = 5000;       // how long an open breaker keeps an instance out
  int failures_to_open = 3;         // consecutive failures that open the breaker
  int max_attempts = 2;             // attempts that may reach a server (refused connects are free)
  std::string internal_token;       // sent as X-Internal-Token
  int pool_size_per_instance = 16;  // idle keep-alive connections kept per instance
  std::size_t max_response_bytes = 16 * 1024 * 1024;  // a larger answer is a failure
};

struct ClientRequest {
  Method method = Method::Get;
  std::string path;  // starting with '/', query included, already percent-encoded
  std::string body;  // JSON text; empty for none
  Headers headers;   // extra headers; the client adds its own (see HttpClient)
  // Whether sending the request twice is harmless. Unset: GET, HEAD, PUT, DELETE and OPTIONS are,
  // POST and PATCH are not. Set it to true for a POST the upstream de-duplicates (a reservation
  // keyed by the order id).
  std::optional<bool> idempotent;
  std::string traceparent;  // the incoming request's traceparent header, if any
  std::string request_id;   // the incoming request's id, sent as X-Request-ID

  // A request made on behalf of `incoming`: its request id and traceparent carried along.
  static ClientRequest on_behalf_of(const Request& incoming, Method method, std::string path,
                                    std::string body = {});
  bool is_idempotent() const;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  Headers headers;
  std::string upstream;  // the client's name ("product-service"), for messages
  std::string instance;  // the base URL that answered

  // Case-insensitive header lookup.
  std::optional<std::string_view> header(std::string_view name) const;
  // The body as JSON. A body that is not JSON is the upstream's fault, not the caller's client's:
  // it throws 502 (bad_gateway), never 400.
  Json json() const;
};

// Counters for the service's metrics; monotonic since construction. Shared by both policies
// (HttpClient and ExternalClient).
struct ClientStats {
  std::uint64_t calls = 0;          // call() invocations
  std::uint64_t attempts = 0;       // requests started on an instance
  std::uint64_t failures = 0;       // attempts that counted against an instance
  std::uint64_t retries = 0;        // attempts after the first within a call
  std::uint64_t breaker_opens = 0;  // times an instance's breaker opened (or re-opened)
  std::uint64_t unavailable = 0;    // calls that threw instead of returning an answer
  std::uint64_t timeouts = 0;       // attempts ended by their deadline
};

// The metric families a client's counter_source() reports, one sample per client, labelled
// `upstream` (the client's name) and `policy` (`internal` or `external`). A service exports a
// client with `app.metrics().add_counter_source(client.counter_source())`.
inline constexpr const char* kClientCallsTotal = "http_client_calls_total";
inline constexpr const char* kClientAttemptsTotal = "http_client_attempts_total";
inline constexpr const char* kClientFailuresTotal = "http_client_failures_total";
inline constexpr const char* kClientRetriesTotal = "http_client_retries_total";
inline constexpr const char* kClientBreakerOpensTotal = "http_client_breaker_opens_total";
inline constexpr const char* kClientTimeoutsTotal = "http_client_timeouts_total";
inline constexpr const char* kClientUnavailableTotal = "http_client_unavailable_total";

class HttpClient {
 public:
  // `name` names the upstream in errors ("product-service is unavailable"). `base_urls` are
  // `http://host:port` (a trailing slash is dropped); throws std::invalid_argument when empty or
  // malformed (use upstream_from_env for a ConfigError naming the variable).
  HttpClient(std::string name, std::vector<std::string> base_urls, ClientOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` to one instance, or more under the retry policy above. Adds
  // X-Internal-Token, X-Request-ID (when set), a traceparent continuing the request's trace,
  // Accept: application/json and, with a body, Content-Type: application/json (unless given).
  // Throws service_unavailable (503) when no instance answers; std::invalid_argument for a
  // malformed path or header (a caller bug). Thread-safe.
  ClientResponse call(const ClientRequest& request) const;

  const std::string& name() const;
  const std::vector<std::string>& base_urls() const;
  ClientStats stats() const;
  // The stats as counters for obs::Metrics::add_counter_source; it keeps the counters alive, so
  // it may outlive the client.
  obs::CounterSource counter_source() const;
  // Whether instance `index`'s breaker currently keeps it out (open and not yet due a probe).
  bool breaker_open(std::size_t index) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where an upstream lives and how to call it, from the environment:
//   <PREFIX>_URLS        comma list of base URLs (PRODUCT_SERVICE_URLS=http://127.0.0.1:5001,...)
//   <PREFIX>_URI         the seed's single URL, used when <PREFIX>_URLS is unset
//   <PREFIX>_TIMEOUT_MS  per-attempt timeout, default 2000
//   CIRCUIT_OPEN_MS      breaker interval, default 5000 (shared by every upstream)
// `default_url` applies when neither URL variable is set; empty makes them required. A malformed
// value throws ConfigError naming the variable.
struct UpstreamConfig {
  std::vector<std::string> base_urls;
  ClientOptions options;
};
UpstreamConfig upstream_from_env(const Env& env, std::string_view prefix,
                                 std::string internal_token, std::string_view default_url = {});

// A W3C traceparent for an outgoing call: `00-<trace id>-<new span id>-01`, keeping the trace id
// of `incoming` when that is a valid traceparent, else starting a new trace.
std::string make_traceparent(std::optional<std::string_view> incoming);
// Whether `value` is a traceparent we continue (version 00, or a later one with the 00 layout).
bool is_valid_traceparent(std::string_view value);

}  // namespace emporium::http
