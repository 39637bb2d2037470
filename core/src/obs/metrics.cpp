// Prometheus metrics with prometheus-cpp's core (no civetweb: /metrics is served by our router).
#include "emporium/obs/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <mutex>
#include <unordered_map>

namespace emporium::obs {

struct Metrics::Impl {
  std::string service;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* durations = nullptr;
  // Family::Add hashes labels under a lock; cache the series per label set.
  std::mutex mutex;
  std::unordered_map<std::string, prometheus::Counter*> request_series;
  std::unordered_map<std::string, prometheus::Histogram*> duration_series;
  std::unordered_map<std::string, prometheus::Family<prometheus::Counter>*> custom_families;
  std::unordered_map<std::string, prometheus::Counter*> custom_series;
  std::vector<CounterSource> sources;  // guarded by `mutex`
  std::unordered_map<std::string, prometheus::Family<prometheus::Gauge>*> gauge_families;
  std::unordered_map<std::string, prometheus::Gauge*> gauge_series;
  std::unordered_map<std::string, prometheus::Family<prometheus::Histogram>*> histogram_families;
  std::unordered_map<std::string, prometheus::Histogram*> histogram_series;
};

namespace {

// The series `name{label=value}` of a family built on first use by `builder`; the caller holds
// Impl::mutex. `add_args` follow the labels in Family::Add (a histogram's buckets).
template <class Metric, class Builder, class... AddArgs>
Metric* series_of(std::unordered_map<std::string, prometheus::Family<Metric>*>& families,
                  std::unordered_map<std::string, Metric*>& series, prometheus::Registry& registry,
                  Builder builder, const std::string& name, const std::string& help,
                  const std::string& label, const std::string& value, const AddArgs&... add_args) {
  std::string key = name + '\0' + label + '\0' + value;
  auto it = series.find(key);
  if (it != series.end()) return it->second;
  auto fit = families.find(name);
  if (fit == families.end()) {
    fit = families.emplace(name, &builder.Name(name).Help(help).Register(registry)).first;
  }
  Metric* metric = &fit->second->Add({{label, value}}, add_args...);
  series.emplace(std::move(key), metric);
  return metric;
}

}  // namespace

Metrics::Metrics(std::string service) : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->requests = &prometheus::BuildCounter()
                         .Name(kHttpRequestsTotal)
                         .Help("HTTP requests by route template, method and status")
                         .Register(*impl_->registry);
  impl_->durations = &prometheus::BuildHistogram()
                          .Name(kHttpRequestDuration)
                          .Help("HTTP request handling time by route template")
                          .Register(*impl_->registry);
}

Metrics::~Metrics() = default;

void Metrics::record_request(std::string_view method, std::string_view route, int status,
                             double seconds) {
  std::string status_text = std::to_string(status);
  std::string key;
  key.reserve(method.size() + route.size() + 6);
  key.append(method).push_back(' ');
  key.append(route);
  prometheus::Counter* counter;
  prometheus::Histogram* histogram;
  {
    std::lock_guard lock(impl_->mutex);
    auto hit = impl_->duration_series.find(key);
    if (hit == impl_->duration_series.end()) {
      static const prometheus::Histogram::BucketBoundaries kBuckets{
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
      histogram = &impl_->durations->Add(
          {{"method", std::string(method)}, {"route", std::string(route)}}, kBuckets);
      impl_->duration_series.emplace(key, histogram);
    } else {
      histogram = hit->second;
    }
    key.push_back(' ');
    key.append(status_text);
    auto cit = impl_->request_series.find(key);
    if (cit == impl_->request_series.end()) {
      counter = &impl_->requests->Add({{"method", std::string(method)},
                                       {"route", std::string(route)},
                                       {"status", status_text}});
      impl_->request_series.emplace(key, counter);
    } else {
      counter = cit->second;
    }
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void Metrics::increment(const std::string& name, const std::string& help, const std::string& label,
                        const std::string& value, double amount) {
  prometheus::Counter* counter;
  {
    std::lock_guard lock(impl_->mutex);
    std::string key = name + '\0' + label + '\0' + value;
    auto it = impl_->custom_series.find(key);
    if (it == impl_->custom_series.end()) {
      auto fit = impl_->custom_families.find(name);
      if (fit == impl_->custom_families.end()) {
        auto* family = &prometheus::BuildCounter().Name(name).Help(help).Register(*impl_->registry);
        fit = impl_->custom_families.emplace(name, family).first;
      }
      counter = &fit->second->Add({{label, value}});
      impl_->custom_series.emplace(key, counter);
    } else {
      counter = it->second;
    }
  }
  counter->Increment(amount);
}

void Metrics::add_counter_source(CounterSource source) {
  std::lock_guard lock(impl_->mutex);
  impl_->sources.push_back(std::move(source));
}

void Metrics::observe(const std::string& name, const std::string& help, const std::string& label,
                      const std::string& value, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  prometheus::Histogram* histogram;
  {
    std::lock_guard lock(impl_->mutex);
    histogram = series_of(impl_->histogram_families, impl_->histogram_series, *impl_->registry,
                          prometheus::BuildHistogram(), name, help, label, value, kBuckets);
  }
  histogram->Observe(seconds);
}

void Metrics::set_gauge(const std::string& name, const std::string& help, const std::string& label,
                        const std::string& value, double amount) {
  prometheus::Gauge* gauge;
  {
    std::lock_guard lock(impl_->mutex);
    gauge = series_of(impl_->gauge_families, impl_->gauge_series, *impl_->registry,
                      prometheus::BuildGauge(), name, help, label, value);
  }
  gauge->Set(amount);
}

std::string Metrics::render() const {
  auto families = impl_->registry->Collect();
  std::vector<CounterSource> sources;
  {
    std::lock_guard lock(impl_->mutex);
    sources = impl_->sources;
  }
  // One family per name, however many sources report it (two clients, one family each metric).
  std::map<std::string, prometheus::MetricFamily> sampled;
  for (const auto& source : sources) {
    for (auto& sample : source()) {
      auto& family = sampled[sample.name];
      if (family.name.empty()) {
        family.name = sample.name;
        family.help = std::move(sample.help);
        family.type = prometheus::MetricType::Counter;
      }
      prometheus::ClientMetric metric;
      for (auto& [name, value] : sample.labels) {
        metric.label.push_back({std::move(name), std::move(value)});
      }
      metric.counter.value = sample.value;
      family.metric.push_back(std::move(metric));
    }
  }
  for (auto& [name, family] : sampled) families.push_back(std::move(family));
  prometheus::TextSerializer serializer;
  return serializer.Serialize(families);
}

prometheus::Registry& Metrics::registry() {
  return *impl_->registry;
}

}  // namespace emporium::obs
