// The transport both outbound policies share (DESIGN §4 "http — client, two policies over one
// transport"): libcurl easy handles pooled per base URL, a circuit breaker per base URL, a deadline
// per attempt, a cap on the response size and the counters a service exports on /metrics.
//
// It decides nothing about headers, retries or what a status means: the internal policy
// (client.cpp) and the external policy (external_client.cpp) do, each over its own Transport.
//
// One easy handle owns one keep-alive connection (CURLOPT_MAXCONNECTS 1), so a per-endpoint stack
// of idle handles is the connection pool. A handle is used by one thread at a time, which is all
// libcurl asks for thread safety besides CURLOPT_NOSIGNAL and a single curl_global_init.
#pragma once

#include "emporium/http/client.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::http::detail {

using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b);
std::string_view trim(std::string_view s);
// `http[s]://host[:port][/prefix]` without a trailing slash, or nullopt when `text` is not one.
std::optional<std::string> normalize_base_url(std::string_view text);
// Header names and values go on the wire verbatim: a CR or LF would let a value add headers.
bool safe_header_text(std::string_view s);
// Throws std::invalid_argument (a caller bug) for a path that is not visible ASCII starting with
// '/', a body on GET or HEAD, an unsupported method, or a header that cannot go on the wire as is.
// `client` names the client in the message.
void check_request(const std::string& client, Method method, std::string_view path,
                   std::string_view body, const Headers& headers);

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;
// Adds `name: value` (an empty value sends `name:`, which removes a header libcurl would add).
void add_header(HeaderList& list, std::string_view name, std::string_view value);

struct TransportOptions {
  int connect_timeout_ms = 500;  // capped by each exchange's timeout
  int circuit_open_ms = 5000;    // how long an open breaker keeps an endpoint out
  int failures_to_open = 3;      // consecutive failures that open the breaker
  int pool_size = 16;            // idle keep-alive connections kept per endpoint
  std::size_t max_response_bytes = 16 * 1024 * 1024;  // a larger answer is a failure
};

// The transport's part of a policy's options (HttpClient's ClientOptions, ExternalClient's
// ExternalOptions name these fields alike).
template <typename PolicyOptions>
TransportOptions transport_options(const PolicyOptions& options, int pool_size) {
  TransportOptions t;
  t.connect_timeout_ms = options.connect_timeout_ms;
  t.circuit_open_ms = options.circuit_open_ms;
  t.failures_to_open = options.failures_to_open;
  t.pool_size = pool_size;
  t.max_response_bytes = options.max_response_bytes;
  return t;
}

// One request as it goes on the wire.
struct Exchange {
  Method method = Method::Get;
  std::string_view path;  // appended to the endpoint's base URL
  std::string_view body;
  curl_slist* headers = nullptr;  // complete: the transport adds none of its own
  int timeout_ms = 2000;          // the whole attempt, connect included
  // A new connection: a request that must not be sent twice never travels on a reused keep-alive
  // connection, because libcurl silently re-sends a request whose reused connection closed before
  // any answer.
  bool fresh_connection = false;
  bool retry = false;  // not the call's first attempt (counted as a retry)
};

enum class Delivery {
  Answered,   // a complete answer, of any status
  NotSent,    // failed before the request could leave (connect refused or timed out)
  MaybeSent,  // failed after the request may have reached the server
};

struct Attempt {
  Delivery delivery = Delivery::NotSent;
  bool timed_out = false;  // the attempt's deadline ended it
  int status = 0;          // with Delivery::Answered
  std::string body;
  Headers headers;
};

// Which answered statuses count against an endpoint (its breaker and the failures counter).
using FailureStatus = bool (*)(int status);

class Transport {
 public:
  // `name` and `policy` label the counters; `base_urls` must already be normalized.
  Transport(std::string name, std::string policy, const std::vector<std::string>& base_urls,
            TransportOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const std::string& name() const { return name_; }
  std::size_t size() const;
  const std::string& base_url(std::size_t endpoint) const;

  // One attempt on `endpoint` if its breaker admits it, else nullopt (nothing sent or counted).
  // `prepare` runs once admitted and returns the exchange; what it points to must live until
  // attempt() returns. Counts the attempt, a retry, a failure (not answered, or `failed(status)`),
  // a timeout and a breaker opening. A local failure (out of memory) propagates and frees a
  // half-open probe's slot.
  std::optional<Attempt> attempt(std::size_t endpoint, const std::function<Exchange()>& prepare,
                                 FailureStatus failed);
  // Whether `endpoint`'s breaker currently keeps it out (open and not yet due a probe).
  bool breaker_open(std::size_t endpoint) const;

  void count_call();
  void count_unavailable();  // a call that ended without an answer for the caller
  ClientStats stats() const;
  obs::CounterSource counter_source() const;

 private:
  struct Endpoint;
  struct Counters;

  std::string name_;
  std::string policy_;
  TransportOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::shared_ptr<Counters> counters_;  // shared with counter_source(), which may outlive us
};

}  // namespace emporium::http::detail
