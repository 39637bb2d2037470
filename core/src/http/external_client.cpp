// The external policy over the shared transport (the policy is documented in
// external_client.hpp, the transport in transport.hpp).
#include "emporium/http/external_client.hpp"

#include "emporium/util/crypto.hpp"
#include "emporium/util/text.hpp"
#include "transport.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

namespace emporium::http {
namespace {

using detail::Delivery;
using detail::iequals;

// Headers that carry our secrets, our request ids, our network's shape or (Cookie) a customer's
// session. A provider never gets them, even when a caller copies an incoming request's headers.
constexpr std::array<std::string_view, 8> kInternalHeaders = {
    "X-Internal-Token", "X-Request-ID", "traceparent", "tracestate",
    "baggage",          "X-Real-IP",    "Forwarded",   "Cookie"};
constexpr std::array<std::string_view, 3> kInternalPrefixes = {"X-Internal-", "X-Emporium-",
                                                               "X-Forwarded-"};
// Headers the client sets itself from the options and the request's fields.
constexpr std::array<std::string_view, 9> kReservedHeaders = {
    "Authorization",     "Idempotency-Key", "Content-Type", "Content-Length", "Host",
    "Transfer-Encoding", "Connection",      "Expect",       "User-Agent"};

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_internal_header(std::string_view name) {
  return std::any_of(kInternalHeaders.begin(), kInternalHeaders.end(),
                     [&](std::string_view h) { return iequals(name, h); }) ||
         std::any_of(kInternalPrefixes.begin(), kInternalPrefixes.end(),
                     [&](std::string_view p) { return starts_with_icase(name, p); });
}

bool is_reserved_header(std::string_view name) {
  return std::any_of(kReservedHeaders.begin(), kReservedHeaders.end(),
                     [&](std::string_view h) { return iequals(name, h); });
}

// A provider's 5xx counts against it (breaker, failures) and is never handed to the caller.
bool server_error(int status) {
  return status >= 500;
}

// Standard base64 with padding, as Basic auth wants (RFC 7617).
std::string base64(std::string_view bytes) {
  std::string out = base64url_encode(bytes);
  std::replace(out.begin(), out.end(), '-', '+');
  std::replace(out.begin(), out.end(), '_', '/');
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string authorization(const ProviderAuth& auth) {
  if (const auto* bearer = std::get_if<BearerAuth>(&auth)) return "Bearer " + bearer->token;
  if (const auto* basic = std::get_if<BasicAuth>(&auth)) {
    return "Basic " + base64(basic->user + ":" + basic->password);
  }
  return {};
}

// A number as JavaScript's String() writes it for the values Stripe takes: integers in decimal,
// an integral float without ".0", others in their shortest round-trip form.
std::string number_text(const Json& value) {
  if (value.is_number_integer()) return value.dump();
  const double d = value.get<double>();
  if (!std::isfinite(d)) throw std::invalid_argument("form_encode: a number is not finite");
  if (d == std::trunc(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  return value.dump();
}

// Appends `key=value` pairs for `value` under the already-encoded `key`.
void encode_field(std::string& out, const std::string& key, const Json& value) {
  auto pair = [&](std::string_view encoded_value) {
    if (!out.empty()) out.push_back('&');
    out += key;
    out.push_back('=');
    out += encoded_value;
  };
  switch (value.type()) {
    case Json::value_t::object:
      for (const auto& [name, member] : value.items()) {
        encode_field(out, key + '[' + percent_encode(name) + ']', member);
      }
      break;
    case Json::value_t::array:
      for (std::size_t i = 0; i < value.size(); ++i) {
        encode_field(out, key + '[' + std::to_string(i) + ']', value[i]);
      }
      break;
    case Json::value_t::null: pair(""); break;
    case Json::value_t::boolean: pair(value.get<bool>() ? "true" : "false"); break;
    case Json::value_t::string: pair(percent_encode(value.get_ref<const std::string&>())); break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: pair(number_text(value)); break;
    default: throw std::invalid_argument("form_encode: binary values cannot be form-encoded");
  }
}

void check_extra_header(const std::string& provider, std::string_view name) {
  if (is_reserved_header(name)) {
    std::string message = provider + ": the client sets " + std::string(name) + " itself";
    throw std::invalid_argument(message);
  }
}

}  // namespace

std::string form_encode(const Json& fields) {
  if (!fields.is_object()) throw std::invalid_argument("form_encode: fields must be an object");
  std::string out;
  for (const auto& [name, value] : fields.items()) encode_field(out, percent_encode(name), value);
  return out;
}

ExternalRequest ExternalRequest::form(Method method, std::string path, const Json& fields) {
  return with_body(method, std::move(path), form_encode(fields),
                   "application/x-www-form-urlencoded");
}

ExternalRequest ExternalRequest::json(Method method, std::string path, const Json& body) {
  return with_body(method, std::move(path), dump_json(body), "application/json");
}

ExternalRequest ExternalRequest::with_body(Method method, std::string path, std::string body,
                                           std::string content_type) {
  ExternalRequest r;
  r.method = method;
  r.path = std::move(path);
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

ExternalRequest ExternalRequest::get(std::string path) {
  ExternalRequest r;
  r.method = Method::Get;
  r.path = std::move(path);
  return r;
}

bool ExternalRequest::retriable() const {
  return method == Method::Get || method == Method::Head || !idempotency_key.empty();
}

ProviderError::ProviderError(HttpError error, std::string provider, bool outcome_unknown,
                             int provider_status)
    : HttpError(std::move(error)),
      provider_(std::move(provider)),
      outcome_unknown_(outcome_unknown),
      provider_status_(provider_status) {}

struct ExternalClient::Impl {
  Impl(std::string provider, std::string url, ExternalOptions o)
      : options(std::move(o)),
        authorization(http::authorization(options.auth)),
        base_url(std::move(url)),
        transport(std::move(provider), "external", {base_url},
                  detail::transport_options(options, options.pool_size)) {}

  ExternalOptions options;
  std::string authorization;  // the header's value; empty for none
  std::string base_url;
  detail::Transport transport;

  detail::HeaderList build_headers(const ExternalRequest& request) const {
    detail::HeaderList list;
    for (const auto& [key, value] : options.default_headers) detail::add_header(list, key, value);
    for (const auto& [key, value] : request.headers) {
      if (!is_internal_header(key)) detail::add_header(list, key, value);
    }
    if (!authorization.empty()) detail::add_header(list, "Authorization", authorization);
    if (!request.idempotency_key.empty()) {
      detail::add_header(list, "Idempotency-Key", request.idempotency_key);
    }
    detail::add_header(list, "User-Agent", options.user_agent);
    detail::add_header(list, "Accept", "application/json");
    // An empty value stops libcurl labelling a body-less POST application/x-www-form-urlencoded.
    detail::add_header(list, "Content-Type", request.content_type);
    // libcurl would otherwise wait up to a second for "100 Continue" before a large body.
    detail::add_header(list, "Expect", "");
    return list;
  }

  // Jittered exponential back-off before retry `n` (1 for the first retry).
  std::chrono::milliseconds backoff(int n) const {
    thread_local std::mt19937 random{std::random_device{}()};
    const long base = std::min<long>(static_cast<long>(options.retry_backoff_ms) << (n - 1),
                                     options.max_retry_backoff_ms);
    std::uniform_int_distribution<long> jitter(base / 2, base);
    return std::chrono::milliseconds(jitter(random));
  }

  ProviderError failure(const std::optional<detail::Attempt>& last, bool reached) {
    transport.count_unavailable();
    const std::string& provider = transport.name();
    if (!last) {
      // The breaker kept the provider out before any attempt: nothing was sent.
      const long retry_after = (options.circuit_open_ms + 999) / 1000;
      return ProviderError(service_unavailable(provider + " is unavailable", retry_after), provider,
                           false, 0);
    }
    const int status = last->delivery == Delivery::Answered ? last->status : 0;
    if (last->timed_out) {
      return ProviderError(gateway_timeout(provider + " did not answer in time"), provider, reached,
                           status);
    }
    if (status != 0) {
      return ProviderError(bad_gateway(provider + " answered HTTP " + std::to_string(status)),
                           provider, reached, status);
    }
    return ProviderError(
        bad_gateway(last->delivery == Delivery::NotSent ? provider + " could not be reached"
                                                        : provider + " gave no valid answer"),
        provider, reached, 0);
  }
};

ExternalClient::ExternalClient(std::string provider, std::string base_url,
                               ExternalOptions options) {
  auto normalized = detail::normalize_base_url(base_url);
  if (!normalized) {
    throw std::invalid_argument(provider + ": not an http(s) base URL: " + base_url);
  }
  if (options.timeout_ms < 1 || options.connect_timeout_ms < 1 || options.max_attempts < 1 ||
      options.retry_backoff_ms < 0 || options.max_retry_backoff_ms < options.retry_backoff_ms ||
      options.circuit_open_ms < 0 || options.failures_to_open < 1 || options.pool_size < 0 ||
      options.max_attempts > 10) {
    throw std::invalid_argument(provider + ": invalid client options");
  }
  detail::check_request(provider, Method::Get, "/", "", options.default_headers);
  for (const auto& [key, value] : options.default_headers) {
    check_extra_header(provider, key);
    if (is_internal_header(key)) {
      throw std::invalid_argument(provider + ": " + key + " must not go to a provider");
    }
  }
  const std::string auth = authorization(options.auth);
  const auto* basic = std::get_if<BasicAuth>(&options.auth);
  if (!detail::safe_header_text(auth) || !detail::safe_header_text(options.user_agent) ||
      (basic != nullptr && basic->user.find(':') != std::string::npos)) {
    throw std::invalid_argument(provider + ": invalid auth or user agent");
  }
  impl_ = std::make_unique<Impl>(std::move(provider), std::move(*normalized), std::move(options));
}

ExternalClient::~ExternalClient() = default;
ExternalClient::ExternalClient(ExternalClient&&) noexcept = default;
ExternalClient& ExternalClient::operator=(ExternalClient&&) noexcept = default;

const std::string& ExternalClient::provider() const {
  return impl_->transport.name();
}
const std::string& ExternalClient::base_url() const {
  return impl_->base_url;
}
ClientStats ExternalClient::stats() const {
  return impl_->transport.stats();
}
obs::CounterSource ExternalClient::counter_source() const {
  return impl_->transport.counter_source();
}
bool ExternalClient::breaker_open() const {
  return impl_->transport.breaker_open(0);
}

ClientResponse ExternalClient::call(const ExternalRequest& request) const {
  auto& s = *impl_;
  const std::string& provider = s.transport.name();
  detail::check_request(provider, request.method, request.path, request.body, request.headers);
  for (const auto& [key, value] : request.headers) check_extra_header(provider, key);
  if (!detail::safe_header_text(request.idempotency_key) ||
      !detail::safe_header_text(request.content_type) || request.timeout_ms < 0 ||
      (!request.body.empty() && request.content_type.empty())) {
    throw std::invalid_argument(
        "malformed idempotency key, content type (required with a body) or timeout for " +
        provider);
  }
  const detail::HeaderList headers = s.build_headers(request);
  s.transport.count_call();
  const bool retriable = request.retriable();

  std::optional<detail::Attempt> last;  // the last failed attempt
  bool reached = false;                 // whether any attempt may have reached the provider
  for (int n = 0; n < s.options.max_attempts; ++n) {
    if (n > 0) std::this_thread::sleep_for(s.backoff(n));
    auto attempt = s.transport.attempt(
        0,
        [&] {
          detail::Exchange exchange;
          exchange.method = request.method;
          exchange.path = request.path;
          exchange.body = request.body;
          exchange.headers = headers.get();
          exchange.timeout_ms = request.timeout_ms > 0 ? request.timeout_ms : s.options.timeout_ms;
          exchange.fresh_connection = !retriable;
          exchange.retry = n > 0;
          return exchange;
        },
        &server_error);
    if (!attempt) break;  // breaker open: the provider is not contacted
    if (attempt->delivery == Delivery::Answered && !server_error(attempt->status)) {
      ClientResponse response;
      response.status = attempt->status;
      response.body = std::move(attempt->body);
      response.headers = std::move(attempt->headers);
      response.upstream = provider;
      response.instance = s.base_url;
      return response;
    }
    const bool sent = attempt->delivery != Delivery::NotSent;
    reached = reached || sent;
    last = std::move(attempt);
    if (sent && !retriable) break;  // it may have taken effect: never send it again
  }
  throw s.failure(last, reached);
}

ProviderConfig provider_from_env(const Env& env, std::string_view prefix,
                                 std::string_view default_base) {
  const std::string p(prefix);
  const std::string variable = p + "_API_BASE";
  const std::string raw = env.string(variable, default_base);
  auto normalized = detail::normalize_base_url(detail::trim(raw));
  if (!normalized) {
    throw ConfigError(variable + " must be an http(s) base URL, got '" + raw + "'");
  }
  ProviderConfig config;
  config.base_url = std::move(*normalized);
  config.options.timeout_ms = static_cast<int>(env.integer(p + "_TIMEOUT_MS", 10000, 1, 600000));
  config.options.circuit_open_ms =
      static_cast<int>(env.integer("CIRCUIT_OPEN_MS", 5000, 0, 3600000));
  return config;
}

}  // namespace emporium::http
