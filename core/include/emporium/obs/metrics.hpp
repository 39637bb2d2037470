// Prometheus metrics. Request metrics are labelled by route *template* (never the raw path),
// method and status.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
}

namespace emporium::obs {

inline constexpr const char* kHttpRequestsTotal = "http_requests_total";
inline constexpr const char* kHttpRequestDuration = "http_request_duration_seconds";

// A counter a component keeps itself (an HTTP client's stats), read when /metrics is scraped.
// Plain data, so a component can offer its counters without linking the metrics library.
struct CounterSample {
  std::string name;  // family name, ending in _total
  std::string help;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
using CounterSource = std::function<std::vector<CounterSample>()>;

class Metrics {
 public:
  explicit Metrics(std::string service);
  ~Metrics();

  void record_request(std::string_view method, std::string_view route, int status, double seconds);
  // Adds `amount` (1 unless given) to a service counter `name{label=value}` (created on first use).
  void increment(const std::string& name, const std::string& help, const std::string& label,
                 const std::string& value, double amount = 1);
  // Adds counters read from `source` at every render() (e.g. http::HttpClient::counter_source()).
  // Samples of one name from several sources render as one family; the name must not be one the
  // registry already has. `source` is called on the scraping thread, so it must be cheap and
  // thread-safe, and own what it reads (it may outlive the component).
  void add_counter_source(CounterSource source);
  // Records `seconds` in a service histogram `name{label=value}` (created on first use), with
  // buckets from 5 ms to 60 s, for background work (a queue handler calling a provider).
  void observe(const std::string& name, const std::string& help, const std::string& label,
               const std::string& value, double seconds);
  // Sets a service gauge `name{label=value}` (created on first use).
  void set_gauge(const std::string& name, const std::string& help, const std::string& label,
                 const std::string& value, double amount);
  // Prometheus text exposition format.
  std::string render() const;
  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emporium::obs
