// Structured logs: one JSON object per line on stdout, each carrying the service name and, for
// request-scoped lines, the request id.
#pragma once

#include "emporium/json/json.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace emporium::obs {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
Level parse_level(std::string_view text);  // throws std::invalid_argument

class Logger {
 public:
  Logger(std::string service, Level level);
  ~Logger();

  bool enabled(Level level) const { return level >= level_; }
  // `fields` (an object) is merged into {"ts","level","service","msg"}.
  void log(Level level, std::string_view msg, const Json& fields = Json::object()) const;
  void debug(std::string_view msg, const Json& fields = Json::object()) const {
    log(Level::Debug, msg, fields);
  }
  void info(std::string_view msg, const Json& fields = Json::object()) const {
    log(Level::Info, msg, fields);
  }
  void warn(std::string_view msg, const Json& fields = Json::object()) const {
    log(Level::Warn, msg, fields);
  }
  void error(std::string_view msg, const Json& fields = Json::object()) const {
    log(Level::Error, msg, fields);
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string service_;
  Level level_;
};

}  // namespace emporium::obs
