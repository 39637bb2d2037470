// JSON-lines logger over spdlog (stdout sink, pattern "%v": we write the whole object ourselves).
#include "emporium/obs/log.hpp"

#include "emporium/util/time.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>

namespace emporium::obs {

namespace {

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}

}  // namespace

Level parse_level(std::string_view text) {
  if (text == "debug") return Level::Debug;
  if (text == "info") return Level::Info;
  if (text == "warn" || text == "warning") return Level::Warn;
  if (text == "error") return Level::Error;
  throw std::invalid_argument("expected debug, info, warn or error");
}

struct Logger::Impl {
  std::shared_ptr<spdlog::logger> logger;
};

Logger::Logger(std::string service, Level level)
    : impl_(std::make_unique<Impl>()), service_(std::move(service)), level_(level) {
  static std::atomic<int> counter{0};
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  impl_->logger = std::make_shared<spdlog::logger>(
      "emporium-" + std::to_string(counter.fetch_add(1)), std::move(sink));
  impl_->logger->set_pattern("%v");
  impl_->logger->set_level(spdlog::level::trace);
  impl_->logger->flush_on(spdlog::level::trace);
}

Logger::~Logger() = default;

void Logger::log(Level level, std::string_view msg, const Json& fields) const {
  if (!enabled(level)) return;
  Json line = Json::object();
  line["ts"] = iso8601(now_ms());
  line["level"] = level_name(level);
  line["service"] = service_;
  line["msg"] = msg;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  impl_->logger->info(dump_json(line));
}

}  // namespace emporium::obs
