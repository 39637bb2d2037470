// The internal HTTP client over libcurl easy handles (the policy is documented in client.hpp).
//
// One easy handle owns one keep-alive connection (CURLOPT_MAXCONNECTS 1), so a per-instance stack
// of idle handles is the connection pool. A handle is used by one thread at a time, which is all
// libcurl asks for thread safety besides CURLOPT_NOSIGNAL and a single curl_global_init.
#include "emporium/http/client.hpp"

#include "emporium/util/crypto.hpp"

#include <curl/curl.h>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace emporium::http {
namespace {

using Clock = std::chrono::steady_clock;

// An idle connection older than this is not reused. It stays below the server's idle timeout
// (60 s), so we rarely send on a connection the server is closing at that moment.
constexpr long kMaxConnectionAgeSeconds = 30;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never paired with curl_global_cleanup: clients live until exit, and cleanup while another
    // thread still holds a handle is undefined.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void append(SlistPtr& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) throw std::bad_alloc();
  // The returned head is the old one, or the first node of a list that was empty.
  (void)list.release();
  list.reset(grown);
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

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

// `http[s]://host[:port][/prefix]` without a trailing slash, or nullopt when `text` is not one.
std::optional<std::string> normalize_base_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  const auto& url = *parsed;
  auto scheme = url.scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)
    return std::nullopt;
  if (!url.has_authority() || url.encoded_host().empty() || url.has_userinfo()) return std::nullopt;
  if (url.has_port() && (url.port().empty() || url.port_number() == 0)) return std::nullopt;
  if (url.has_query() || url.has_fragment()) return std::nullopt;
  // Boost.URL takes "http://a:1,http://b:2" as host a, port 1 and path ",http://b:2": a comma
  // list in a single-URL variable must not pass as one URL.
  auto path = url.encoded_path();
  if (!path.empty() && !path.starts_with('/')) return std::nullopt;
  if (url.encoded_host().find('%') != std::string_view::npos) return std::nullopt;
  std::string out(text);
  while (out.ends_with('/')) out.pop_back();
  return out;
}

// Header names and values go on the wire verbatim: a CR or LF would let a value add headers.
bool safe_header_text(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// Visible ASCII only: a path built from unchecked input must be percent-encoded by the caller.
bool safe_path(std::string_view s) {
  return s.starts_with('/') &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// What one attempt on one instance came to.
enum class Outcome {
  Answer,       // a status the caller gets (anything but 502/503/504)
  Unavailable,  // 502/503/504: the instance answered that it cannot serve
  NotSent,      // failed before the request could leave (connect refused or timed out)
  MaybeSent,    // failed after the request may have reached the server
};

// libcurl callbacks' target for one attempt.
struct Sink {
  std::string body;
  Headers headers;
  std::size_t limit = 0;
  bool too_large = false;
  bool request_started = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& sink = *static_cast<Sink*>(user);
  const std::size_t len = size * count;
  if (sink.body.size() + len > sink.limit) {
    sink.too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink.body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& sink = *static_cast<Sink*>(user);
  const std::size_t len = size * count;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    sink.headers.clear();  // a new response (after 100 Continue): its headers replace the last
  } else if (auto colon = line.find(':'); colon != std::string_view::npos && colon > 0) {
    sink.headers.emplace_back(std::string(line.substr(0, colon)),
                              std::string(trim(line.substr(colon + 1))));
  }
  return len;
}

// Runs once a connection is ready and before the request is written: from here on the server may
// see the request, so a failure no longer proves it was never sent.
int on_prereq(void* user, char*, char*, int, int) {
  static_cast<Sink*>(user)->request_started = true;
  return CURL_PREREQFUNC_OK;
}

template <typename T>
void set(CURL* handle, CURLoption option, T value) {
  // Only a bad option or an out-of-memory fails here; both are bugs or a broken process.
  if (curl_easy_setopt(handle, option, value) != CURLE_OK) {
    throw std::runtime_error("curl_easy_setopt failed for option " + std::to_string(option));
  }
}

enum class Permit { Denied, Normal, Probe };

struct Instance {
  explicit Instance(std::string url) : base_url(std::move(url)) {}

  const std::string base_url;
  std::mutex mutex;  // guards everything below; held only for a few instructions
  std::vector<CurlPtr> idle;
  int consecutive_failures = 0;
  bool open = false;
  Clock::time_point open_until{};
  bool probe_in_flight = false;

  CurlPtr take() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CurlPtr handle = std::move(idle.back());
        idle.pop_back();
        return handle;
      }
    }
    CurlPtr handle(curl_easy_init());
    if (!handle) throw std::runtime_error("curl_easy_init failed");
    return handle;
  }

  void give_back(CurlPtr handle, std::size_t pool_size) {
    std::lock_guard lock(mutex);
    // Beyond the pool size the handle (and its connection) is closed: bursts do not leave
    // hundreds of idle connections on the upstream.
    if (idle.size() < pool_size) idle.push_back(std::move(handle));
  }

  Permit admit(Clock::time_point now) {
    std::lock_guard lock(mutex);
    if (!open) return Permit::Normal;
    if (now < open_until || probe_in_flight) return Permit::Denied;
    probe_in_flight = true;  // half-open: exactly one request finds out whether it is back
    return Permit::Probe;
  }

  // Records an attempt's result; returns true when this opened the breaker.
  bool record(bool ok, bool probe, Clock::time_point now, const ClientOptions& options) {
    std::lock_guard lock(mutex);
    if (probe) probe_in_flight = false;
    if (ok) {
      // Any answer proves the instance serves, including one admitted before the breaker opened.
      open = false;
      consecutive_failures = 0;
      return false;
    }
    if (open && !probe) return false;  // a late failure of a request sent before it opened
    if (probe || ++consecutive_failures >= options.failures_to_open) {
      open = true;
      open_until = now + std::chrono::milliseconds(options.circuit_open_ms);
      consecutive_failures = 0;
      return true;
    }
    return false;
  }

  void release_probe() {
    std::lock_guard lock(mutex);
    probe_in_flight = false;
  }

  bool is_open(Clock::time_point now) {
    std::lock_guard lock(mutex);
    return open && (now < open_until || probe_in_flight);
  }
};

struct Attempt {
  Outcome outcome = Outcome::NotSent;
  ClientResponse response;
};

}  // namespace

struct HttpClient::Impl {
  std::string name;
  std::vector<std::string> base_urls;
  ClientOptions options;
  std::vector<std::unique_ptr<Instance>> instances;
  std::atomic<std::uint64_t> next{0};  // round robin position

  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> attempts{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> breaker_opens{0};
  std::atomic<std::uint64_t> unavailable{0};

  HttpError unavailable_error() {
    unavailable.fetch_add(1, std::memory_order_relaxed);
    return service_unavailable(name + " is unavailable", 1);
  }

  SlistPtr build_headers(const ClientRequest& request, const std::string& traceparent) const {
    SlistPtr list;
    bool has_content_type = false;
    for (const auto& [key, value] : request.headers) {
      if (iequals(key, "Content-Type")) has_content_type = true;
      std::string line = key;
      line += ": ";
      line += value;
      append(list, line);
    }
    append(list, "X-Internal-Token: " + options.internal_token);
    if (!request.request_id.empty()) append(list, "X-Request-ID: " + request.request_id);
    append(list, "traceparent: " + traceparent);
    append(list, "Accept: application/json");
    if (!request.body.empty()) {
      if (!has_content_type) append(list, "Content-Type: application/json");
    } else if (!has_content_type) {
      // Without this libcurl labels an empty POST application/x-www-form-urlencoded.
      append(list, "Content-Type:");
    }
    // libcurl would otherwise wait up to a second for "100 Continue" before a large body.
    append(list, "Expect:");
    return list;
  }

  Attempt perform(Instance& instance, const ClientRequest& request, bool idempotent,
                  curl_slist* headers) const {
    CurlPtr handle = instance.take();
    CURL* h = handle.get();
    // Clears every option of the previous call; the handle keeps its open connection.
    curl_easy_reset(h);

    const std::string url = instance.base_url + request.path;
    Sink sink;
    sink.limit = options.max_response_bytes;

    set(h, CURLOPT_URL, url.c_str());
    set(h, CURLOPT_PROTOCOLS_STR, "http,https");
    set(h, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: required with threads
    set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ms));
    set(h, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::min(options.connect_timeout_ms, options.timeout_ms)));
    set(h, CURLOPT_MAXCONNECTS, 1L);
    set(h, CURLOPT_MAXAGE_CONN, kMaxConnectionAgeSeconds);
    set(h, CURLOPT_HTTPHEADER, headers);
    set(h, CURLOPT_WRITEFUNCTION, &on_body);
    set(h, CURLOPT_WRITEDATA, static_cast<void*>(&sink));
    set(h, CURLOPT_HEADERFUNCTION, &on_header);
    set(h, CURLOPT_HEADERDATA, static_cast<void*>(&sink));
    set(h, CURLOPT_PREREQFUNCTION, &on_prereq);
    set(h, CURLOPT_PREREQDATA, static_cast<void*>(&sink));
    if (!idempotent) {
      // On a reused connection that closes before any answer, libcurl re-sends the request on a
      // new one by itself. A fresh connection rules that hidden retry out.
      set(h, CURLOPT_FRESH_CONNECT, 1L);
    }

    switch (request.method) {
      case Method::Get: set(h, CURLOPT_HTTPGET, 1L); break;
      case Method::Head: set(h, CURLOPT_NOBODY, 1L); break;
      case Method::Post: set(h, CURLOPT_POST, 1L); break;
      default: set(h, CURLOPT_CUSTOMREQUEST, std::string(method_name(request.method)).c_str());
    }
    const bool sends_body = !request.body.empty() || request.method == Method::Post ||
                            request.method == Method::Put || request.method == Method::Patch;
    if (sends_body) {
      set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      set(h, CURLOPT_POSTFIELDS, request.body.data());
    }

    const CURLcode code = curl_easy_perform(h);
    Attempt attempt;
    if (code != CURLE_OK || sink.too_large) {
      // The handle is dropped with its connection: after a failure there is nothing worth keeping.
      attempt.outcome = sink.request_started ? Outcome::MaybeSent : Outcome::NotSent;
      return attempt;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    instance.give_back(std::move(handle), static_cast<std::size_t>(options.pool_size_per_instance));

    attempt.outcome =
        (status == 502 || status == 503 || status == 504) ? Outcome::Unavailable : Outcome::Answer;
    attempt.response.status = static_cast<int>(status);
    attempt.response.body = std::move(sink.body);
    attempt.response.headers = std::move(sink.headers);
    attempt.response.upstream = name;
    attempt.response.instance = instance.base_url;
    return attempt;
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
    throw HttpError(502, "bad_gateway", upstream + " sent an invalid response");
  }
}

HttpClient::HttpClient(std::string name, std::vector<std::string> base_urls, ClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  init_curl_once();
  if (base_urls.empty()) throw std::invalid_argument(name + ": no instance URL");
  if (options.timeout_ms < 1 || options.connect_timeout_ms < 1 || options.circuit_open_ms < 0 ||
      options.failures_to_open < 1 || options.max_attempts < 1 ||
      options.pool_size_per_instance < 0) {
    throw std::invalid_argument(name + ": invalid client options");
  }
  if (!safe_header_text(options.internal_token)) {
    throw std::invalid_argument(name + ": invalid internal token");
  }
  for (auto& url : base_urls) {
    auto normalized = normalize_base_url(url);
    if (!normalized) {
      std::string message = name + ": not an http(s) base URL: ";
      throw std::invalid_argument(message += url);
    }
    url = *normalized;
    impl_->instances.push_back(std::make_unique<Instance>(url));
  }
  impl_->name = std::move(name);
  impl_->base_urls = std::move(base_urls);
  impl_->options = std::move(options);
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

const std::string& HttpClient::name() const {
  return impl_->name;
}
const std::vector<std::string>& HttpClient::base_urls() const {
  return impl_->base_urls;
}

ClientStats HttpClient::stats() const {
  const auto& s = *impl_;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  return {s.calls.load(kRelaxed),   s.attempts.load(kRelaxed),      s.failures.load(kRelaxed),
          s.retries.load(kRelaxed), s.breaker_opens.load(kRelaxed), s.unavailable.load(kRelaxed)};
}

bool HttpClient::breaker_open(std::size_t index) const {
  return impl_->instances.at(index)->is_open(Clock::now());
}

ClientResponse HttpClient::call(const ClientRequest& request) const {
  auto& s = *impl_;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  if (!safe_path(request.path)) {
    throw std::invalid_argument("malformed path for " + s.name + ": " + request.path);
  }
  if (request.method == Method::Other ||
      ((request.method == Method::Get || request.method == Method::Head) &&
       !request.body.empty())) {
    throw std::invalid_argument("unsupported method or body for " + s.name);
  }
  for (const auto& [key, value] : request.headers) {
    if (key.empty() || !safe_header_text(key) || !safe_header_text(value) ||
        key.find(':') != std::string::npos) {
      throw std::invalid_argument("malformed header for " + s.name + ": " + key);
    }
  }
  if (!safe_header_text(request.request_id)) {
    throw std::invalid_argument("malformed request id for " + s.name);
  }
  s.calls.fetch_add(1, kRelaxed);
  const bool idempotent = request.is_idempotent();
  // One trace id for the whole call; each attempt is its own span.
  const std::string trace = make_traceparent(
      request.traceparent.empty() ? std::nullopt
                                  : std::optional<std::string_view>(request.traceparent));

  const std::size_t n = s.instances.size();
  const std::size_t start = static_cast<std::size_t>(s.next.fetch_add(1, kRelaxed) % n);
  int started = 0;     // attempts made in this call
  int maybe_sent = 0;  // attempts that may have reached a server
  for (std::size_t i = 0; i < n; ++i) {
    Instance& instance = *s.instances[(start + i) % n];
    const Permit permit = instance.admit(Clock::now());
    if (permit == Permit::Denied) continue;  // breaker open: the instance is not even contacted
    const bool probe = permit == Permit::Probe;

    if (started++ > 0) s.retries.fetch_add(1, kRelaxed);
    s.attempts.fetch_add(1, kRelaxed);
    Attempt attempt;
    try {
      auto headers = s.build_headers(request, started == 1 ? trace : make_traceparent(trace));
      attempt = s.perform(instance, request, idempotent, headers.get());
    } catch (...) {
      // A local failure (out of memory, curl_easy_init) says nothing about the instance, but its
      // half-open probe slot must be freed or the instance would stay out for good.
      if (probe) instance.release_probe();
      throw;
    }

    const bool ok = attempt.outcome == Outcome::Answer;
    if (!ok) s.failures.fetch_add(1, kRelaxed);
    if (instance.record(ok, probe, Clock::now(), s.options)) s.breaker_opens.fetch_add(1, kRelaxed);

    switch (attempt.outcome) {
      case Outcome::Answer: return std::move(attempt.response);
      case Outcome::NotSent: continue;  // safe for any method: the request never left
      case Outcome::Unavailable:
      case Outcome::MaybeSent:
        if (!idempotent || ++maybe_sent >= s.options.max_attempts) throw s.unavailable_error();
        continue;
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
    auto normalized = normalize_base_url(url);
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
