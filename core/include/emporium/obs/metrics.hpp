// Prometheus metrics. Request metrics are labelled by route *template* (never the raw path),
// method and status.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
}

namespace emporium::obs {

inline constexpr const char* kHttpRequestsTotal = "http_requests_total";
inline constexpr const char* kHttpRequestDuration = "http_request_duration_seconds";

class Metrics {
 public:
  explicit Metrics(std::string service);
  ~Metrics();

  void record_request(std::string_view method, std::string_view route, int status, double seconds);
  // Adds 1 to a service counter `name{label=value}` (created on first use).
  void increment(const std::string& name, const std::string& help, const std::string& label,
                 const std::string& value);
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
