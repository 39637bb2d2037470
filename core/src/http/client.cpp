// The internal policy over the shared transport (the policy is documented in client.hpp, the
// transport in transport.hpp).
#include "emporium/http/client.hpp"

#include "emporium/util/crypto.hpp"
#include "transport.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

namespace emporium::http {
namespace {

using detail::Delivery;
using detail::iequals;
using detail::trim;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

// Random lower-case hex id of `bytes` bytes, never all zeros (W3C calls that invalid).
std::string random_hex_id(std::size_t bytes) {
  for (;;) {
    auto id = to_hex(random_bytes(bytes));
    if (!all_zero(id)) return id;
  }
}

// An internal upstream answering 502/503/504 says it cannot serve: that counts against the
// instance and may be retried elsewhere. Any other status is its answer.
bool unavailable_status(int status) {
  return status == 502 || status == 503 || status == 504;
}

}  // namespace

struct HttpClient::Impl {
  Impl(std::string name, const std::vector<std::string>& urls, ClientOptions o)
      : options(std::move(o)),
        transport(std::move(name), "internal", urls,
                  detail::transport_options(options, options.pool_size_per_instance)),
        base_urls(urls) {}

  ClientOptions options;
  detail::Transport transport;
  std::vector<std::string> base_urls;
  std::atomic<std::uint64_t> next{0};  // round robin position

  HttpError unavailable_error() {
    transport.count_unavailable();
    return service_unavailable(transport.name() + " is unavailable", 1);
  }

  detail::HeaderList build_headers(const ClientRequest& request,
                                   const std::string& traceparent) const {
    detail::HeaderList list;
    bool has_content_type = false;
    for (const auto& [key, value] : request.headers) {
      if (iequals(key, "Content-Type")) has_content_type = true;
      detail::add_header(list, key, value);
    }
    detail::add_header(list, "X-Internal-Token", options.internal_token);
    if (!request.request_id.empty()) detail::add_header(list, "X-Request-ID", request.request_id);
    detail::add_header(list, "traceparent", traceparent);
    detail::add_header(list, "Accept", "application/json");
    if (!request.body.empty()) {
      if (!has_content_type) detail::add_header(list, "Content-Type", "application/json");
    } else if (!has_content_type) {
      // Without this libcurl labels an empty POST application/x-www-form-urlencoded.
      detail::add_header(list, "Content-Type", "");
    }
    // libcurl would otherwise wait up to a second for "100 Continue" before a large body.
    detail::add_header(list, "Expect", "");
    return list;
  }
};

ClientRequest ClientRequest::on_behalf_of(const Request& incoming, Method method, std::string path,
                                          std::string body) {
  ClientRequest out;
  out.method = method;
  out.path = std::move(path);
  out.body = std::move(body);
  out.request_id = incoming.request_id;
  if (auto tp = incoming.header("traceparent")) out.traceparent = std::string(*tp);
  return out;
}

bool ClientRequest::is_idempotent() const {
  if (idempotent) return *idempotent;
  return method != Method::Post && method != Method::Patch;
}

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

Json ClientResponse::json() const {
  try {
    return parse_json(body);
  } catch (const HttpError&) {
    // parse_json speaks to our own client (400); here the fault is the upstream's.
    throw bad_gateway(upstream + " sent an invalid response");
  }
}

HttpClient::HttpClient(std::string name, std::vector<std::string> base_urls,
                       ClientOptions options) {
  if (base_urls.empty()) throw std::invalid_argument(name + ": no instance URL");
  if (options.timeout_ms < 1 || options.connect_timeout_ms < 1 || options.circuit_open_ms < 0 ||
      options.failures_to_open < 1 || options.max_attempts < 1 ||
      options.pool_size_per_instance < 0) {
    throw std::invalid_argument(name + ": invalid client options");
  }
  if (!detail::safe_header_text(options.internal_token)) {
    throw std::invalid_argument(name + ": invalid internal token");
  }
  for (auto& url : base_urls) {
    auto normalized = detail::normalize_base_url(url);
    if (!normalized) {
      std::string message = name + ": not an http(s) base URL: ";
      throw std::invalid_argument(message += url);
    }
    url = *normalized;
  }
  impl_ = std::make_unique<Impl>(std::move(name), base_urls, std::move(options));
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

const std::string& HttpClient::name() const {
  return impl_->transport.name();
}
const std::vector<std::string>& HttpClient::base_urls() const {
  return impl_->base_urls;
}

ClientStats HttpClient::stats() const {
  return impl_->transport.stats();
}

obs::CounterSource HttpClient::counter_source() const {
  return impl_->transport.counter_source();
}

bool HttpClient::breaker_open(std::size_t index) const {
  return impl_->transport.breaker_open(index);
}

ClientResponse HttpClient::call(const ClientRequest& request) const {
  auto& s = *impl_;
  const std::string& name = s.transport.name();
  detail::check_request(name, request.method, request.path, request.body, request.headers);
  if (!detail::safe_header_text(request.request_id)) {
    throw std::invalid_argument("malformed request id for " + name);
  }
  s.transport.count_call();
  const bool idempotent = request.is_idempotent();
  // One trace id for the whole call; each attempt is its own span.
  const std::string trace = make_traceparent(
      request.traceparent.empty() ? std::nullopt
                                  : std::optional<std::string_view>(request.traceparent));

  const std::size_t n = s.transport.size();
  const std::size_t start =
      static_cast<std::size_t>(s.next.fetch_add(1, std::memory_order_relaxed) % n);
  int started = 0;     // attempts made in this call
  int maybe_sent = 0;  // attempts that may have reached a server
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t index = (start + i) % n;
    detail::HeaderList headers;
    auto attempt = s.transport.attempt(
        index,
        [&] {
          const bool retry = started++ > 0;
          headers = s.build_headers(request, retry ? make_traceparent(trace) : trace);
          detail::Exchange exchange;
          exchange.method = request.method;
          exchange.path = request.path;
          exchange.body = request.body;
          exchange.headers = headers.get();
          exchange.timeout_ms = s.options.timeout_ms;
          exchange.fresh_connection = !idempotent;
          exchange.retry = retry;
          return exchange;
        },
        &unavailable_status);
    if (!attempt) continue;  // breaker open: the instance is not even contacted

    switch (attempt->delivery) {
      case Delivery::Answered:
        if (!unavailable_status(attempt->status)) {
          ClientResponse response;
          response.status = attempt->status;
          response.body = std::move(attempt->body);
          response.headers = std::move(attempt->headers);
          response.upstream = name;
          response.instance = s.transport.base_url(index);
          return response;
        }
        [[fallthrough]];
      case Delivery::MaybeSent:
        if (!idempotent || ++maybe_sent >= s.options.max_attempts) throw s.unavailable_error();
        continue;
      case Delivery::NotSent: continue;  // safe for any method: the request never left
    }
  }
  throw s.unavailable_error();
}

UpstreamConfig upstream_from_env(const Env& env, std::string_view prefix,
                                 std::string internal_token, std::string_view default_url) {
  const std::string p(prefix);
  std::string variable = p + "_URLS";
  std::vector<std::string> urls = env.list(variable, "");
  if (urls.empty()) {
    if (auto single = env.get(p + "_URI")) {
      variable = p + "_URI";
      urls.emplace_back(trim(*single));
    }
  }
  if (urls.empty()) {
    if (default_url.empty()) {
      throw ConfigError(p + "_URLS (or " + p + "_URI) is required but not set");
    }
    urls.emplace_back(default_url);
  }
  for (auto& url : urls) {
    auto normalized = detail::normalize_base_url(url);
    if (!normalized) {
      std::string message = variable + " must list http(s)://host:port URLs, got '";
      message += url;
      throw ConfigError(message += "'");
    }
    url = *normalized;
  }

  UpstreamConfig config;
  config.base_urls = std::move(urls);
  config.options.timeout_ms = static_cast<int>(env.integer(p + "_TIMEOUT_MS", 2000, 1, 600000));
  config.options.circuit_open_ms =
      static_cast<int>(env.integer("CIRCUIT_OPEN_MS", 5000, 0, 3600000));
  config.options.internal_token = std::move(internal_token);
  return config;
}

bool is_valid_traceparent(std::string_view value) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (value.size() < 55) return false;
  auto version = value.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return false;
  // Version 00 is exactly 55 long; a later version may append fields after a dash (W3C §3.3).
  if (version == "00" ? value.size() != 55 : value.size() > 55 && value[55] != '-') return false;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  auto trace_id = value.substr(3, 32);
  auto parent_id = value.substr(36, 16);
  auto flags = value.substr(53, 2);
  return is_lower_hex(trace_id) && !all_zero(trace_id) && is_lower_hex(parent_id) &&
         !all_zero(parent_id) && is_lower_hex(flags);
}

std::string make_traceparent(std::optional<std::string_view> incoming) {
  std::string trace_id = incoming && is_valid_traceparent(*incoming)
                             ? std::string(incoming->substr(3, 32))
                             : random_hex_id(16);
  return "00-" + trace_id + "-" + random_hex_id(8) + "-01";
}

}  // namespace emporium::http
