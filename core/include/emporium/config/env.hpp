// Configuration from the environment and an optional `.env` file (read first; the environment
// wins). Every accessor validates and throws ConfigError naming the variable, so a bad value stops
// start-up with a message an operator can act on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace emporium {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Env {
 public:
  // Reads `dotenv_path` if it exists (KEY=VALUE lines, `#` comments, optional quotes), then the
  // process environment on top.
  static Env load(const std::string& dotenv_path = ".env");
  // For tests: exactly these variables.
  static Env from_map(std::map<std::string, std::string> values);

  std::optional<std::string> get(std::string_view name) const;
  std::string string(std::string_view name, std::string_view fallback) const;
  std::string required(std::string_view name) const;
  std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) const;
  bool boolean(std::string_view name, bool fallback) const;
  // Comma-separated, trimmed, empty items dropped.
  std::vector<std::string> list(std::string_view name, std::string_view fallback) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace emporium
