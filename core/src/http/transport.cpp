// The outbound transport over libcurl easy handles (see transport.hpp).
#include "transport.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace emporium::http::detail {
namespace {

// An idle connection older than this is not reused. It stays below our servers' idle timeout
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

// Visible ASCII only: a path built from unchecked input must be percent-encoded by the caller.
bool safe_path(std::string_view s) {
  return s.starts_with('/') &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

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

}  // namespace

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

bool safe_header_text(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

void check_request(const std::string& client, Method method, std::string_view path,
                   std::string_view body, const Headers& headers) {
  if (!safe_path(path)) {
    std::string message = "malformed path for " + client + ": ";
    throw std::invalid_argument(message.append(path));
  }
  if (method == Method::Other ||
      ((method == Method::Get || method == Method::Head) && !body.empty())) {
    throw std::invalid_argument("unsupported method or body for " + client);
  }
  for (const auto& [key, value] : headers) {
    if (key.empty() || !safe_header_text(key) || !safe_header_text(value) ||
        key.find(':') != std::string::npos) {
      throw std::invalid_argument("malformed header for " + client + ": " + key);
    }
  }
}

void add_header(HeaderList& list, std::string_view name, std::string_view value) {
  std::string line(name);
  line += value.empty() ? ":" : ": ";
  line += value;
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) throw std::bad_alloc();
  // The returned head is the old one, or the first node of a list that was empty.
  (void)list.release();
  list.reset(grown);
}

struct Transport::Counters {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> attempts{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> breaker_opens{0};
  std::atomic<std::uint64_t> unavailable{0};
  std::atomic<std::uint64_t> timeouts{0};

  static void add(std::atomic<std::uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  ClientStats snapshot() const {
    constexpr auto kRelaxed = std::memory_order_relaxed;
    ClientStats s;
    s.calls = calls.load(kRelaxed);
    s.attempts = attempts.load(kRelaxed);
    s.failures = failures.load(kRelaxed);
    s.retries = retries.load(kRelaxed);
    s.breaker_opens = breaker_opens.load(kRelaxed);
    s.unavailable = unavailable.load(kRelaxed);
    s.timeouts = timeouts.load(kRelaxed);
    return s;
  }
};

// One base URL: its idle connections and its breaker.
struct Transport::Endpoint {
  explicit Endpoint(std::string url) : base_url(std::move(url)) {}

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

  enum class Permit { Denied, Normal, Probe };

  Permit admit(Clock::time_point now) {
    std::lock_guard lock(mutex);
    if (!open) return Permit::Normal;
    if (now < open_until || probe_in_flight) return Permit::Denied;
    probe_in_flight = true;  // half-open: exactly one request finds out whether it is back
    return Permit::Probe;
  }

  // Records an attempt's result; returns true when this opened the breaker.
  bool record(bool ok, bool probe, Clock::time_point now, const TransportOptions& options) {
    std::lock_guard lock(mutex);
    if (probe) probe_in_flight = false;
    if (ok) {
      // Any answer proves the endpoint serves, including one admitted before the breaker opened.
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

  Attempt perform(const Exchange& exchange, const TransportOptions& options) {
    CurlPtr handle = take();
    CURL* h = handle.get();
    // Clears every option of the previous call; the handle keeps its open connection.
    curl_easy_reset(h);

    std::string url = base_url;
    url += exchange.path;
    Sink sink;
    sink.limit = options.max_response_bytes;

    set(h, CURLOPT_URL, url.c_str());
    set(h, CURLOPT_PROTOCOLS_STR, "http,https");
    set(h, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: required with threads
    set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(exchange.timeout_ms));
    set(h, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::min(options.connect_timeout_ms, exchange.timeout_ms)));
    set(h, CURLOPT_MAXCONNECTS, 1L);
    set(h, CURLOPT_MAXAGE_CONN, kMaxConnectionAgeSeconds);
    set(h, CURLOPT_HTTPHEADER, exchange.headers);
    set(h, CURLOPT_WRITEFUNCTION, &on_body);
    set(h, CURLOPT_WRITEDATA, static_cast<void*>(&sink));
    set(h, CURLOPT_HEADERFUNCTION, &on_header);
    set(h, CURLOPT_HEADERDATA, static_cast<void*>(&sink));
    set(h, CURLOPT_PREREQFUNCTION, &on_prereq);
    set(h, CURLOPT_PREREQDATA, static_cast<void*>(&sink));
    if (exchange.fresh_connection) set(h, CURLOPT_FRESH_CONNECT, 1L);

    switch (exchange.method) {
      case Method::Get: set(h, CURLOPT_HTTPGET, 1L); break;
      case Method::Head: set(h, CURLOPT_NOBODY, 1L); break;
      case Method::Post: set(h, CURLOPT_POST, 1L); break;
      default: set(h, CURLOPT_CUSTOMREQUEST, std::string(method_name(exchange.method)).c_str());
    }
    const bool sends_body = !exchange.body.empty() || exchange.method == Method::Post ||
                            exchange.method == Method::Put || exchange.method == Method::Patch;
    if (sends_body) {
      set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(exchange.body.size()));
      set(h, CURLOPT_POSTFIELDS, exchange.body.data());
    }

    const CURLcode code = curl_easy_perform(h);
    Attempt attempt;
    if (code != CURLE_OK || sink.too_large) {
      // The handle is dropped with its connection: after a failure there is nothing worth keeping.
      attempt.delivery = sink.request_started ? Delivery::MaybeSent : Delivery::NotSent;
      attempt.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      return attempt;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    give_back(std::move(handle), static_cast<std::size_t>(options.pool_size));

    attempt.delivery = Delivery::Answered;
    attempt.status = static_cast<int>(status);
    attempt.body = std::move(sink.body);
    attempt.headers = std::move(sink.headers);
    return attempt;
  }
};

Transport::Transport(std::string name, std::string policy,
                     const std::vector<std::string>& base_urls, TransportOptions options)
    : name_(std::move(name)),
      policy_(std::move(policy)),
      options_(options),
      counters_(std::make_shared<Counters>()) {
  init_curl_once();
  for (const auto& url : base_urls) endpoints_.push_back(std::make_unique<Endpoint>(url));
}

Transport::~Transport() = default;

std::size_t Transport::size() const {
  return endpoints_.size();
}

const std::string& Transport::base_url(std::size_t endpoint) const {
  return endpoints_.at(endpoint)->base_url;
}

std::optional<Attempt> Transport::attempt(std::size_t index,
                                          const std::function<Exchange()>& prepare,
                                          FailureStatus failed) {
  Endpoint& endpoint = *endpoints_.at(index);
  const auto permit = endpoint.admit(Clock::now());
  if (permit == Endpoint::Permit::Denied) return std::nullopt;  // not even contacted
  const bool probe = permit == Endpoint::Permit::Probe;

  Attempt attempt;
  try {
    const Exchange exchange = prepare();
    if (exchange.retry) Counters::add(counters_->retries);
    Counters::add(counters_->attempts);
    attempt = endpoint.perform(exchange, options_);
  } catch (...) {
    // A local failure (out of memory, curl_easy_init) says nothing about the endpoint, but its
    // half-open probe slot must be freed or the endpoint would stay out for good.
    if (probe) endpoint.release_probe();
    throw;
  }

  const bool ok = attempt.delivery == Delivery::Answered && !failed(attempt.status);
  if (!ok) Counters::add(counters_->failures);
  if (attempt.timed_out) Counters::add(counters_->timeouts);
  if (endpoint.record(ok, probe, Clock::now(), options_)) Counters::add(counters_->breaker_opens);
  return attempt;
}

bool Transport::breaker_open(std::size_t endpoint) const {
  return endpoints_.at(endpoint)->is_open(Clock::now());
}

void Transport::count_call() {
  Counters::add(counters_->calls);
}

void Transport::count_unavailable() {
  Counters::add(counters_->unavailable);
}

ClientStats Transport::stats() const {
  return counters_->snapshot();
}

obs::CounterSource Transport::counter_source() const {
  struct Family {
    const char* name;
    const char* help;
    std::uint64_t ClientStats::*value;
  };
  static constexpr Family kFamilies[] = {
      {kClientCallsTotal, "Outbound HTTP calls", &ClientStats::calls},
      {kClientAttemptsTotal, "Outbound HTTP requests started (attempts of calls)",
       &ClientStats::attempts},
      {kClientFailuresTotal,
       "Outbound attempts that failed (no answer, or an answer that counts "
       "against the upstream)",
       &ClientStats::failures},
      {kClientRetriesTotal, "Outbound attempts after the first of a call", &ClientStats::retries},
      {kClientBreakerOpensTotal, "Times an outbound circuit breaker opened",
       &ClientStats::breaker_opens},
      {kClientTimeoutsTotal, "Outbound attempts ended by their deadline", &ClientStats::timeouts},
      {kClientUnavailableTotal, "Outbound calls that ended without an answer for the caller",
       &ClientStats::unavailable},
  };
  return [counters = counters_, name = name_, policy = policy_] {
    const ClientStats stats = counters->snapshot();
    std::vector<obs::CounterSample> samples;
    samples.reserve(std::size(kFamilies));
    for (const auto& family : kFamilies) {
      samples.push_back({family.name,
                         family.help,
                         {{"policy", policy}, {"upstream", name}},
                         static_cast<double>(stats.*family.value)});
    }
    return samples;
  };
}

}  // namespace emporium::http::detail
