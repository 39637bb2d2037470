// Environment and `.env` configuration.
#include "emporium/config/env.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>

extern char** environ;

namespace emporium {

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

Env Env::load(const std::string& dotenv_path) {
  Env env;
  std::ifstream in(dotenv_path);
  std::string line;
  int number = 0;
  while (in && std::getline(in, line)) {
    ++number;
    auto text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    if (text.starts_with("export ")) text = trim(text.substr(7));
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError(dotenv_path + ":" + std::to_string(number) + ": expected KEY=VALUE");
    }
    auto key = trim(text.substr(0, eq));
    auto value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    env.values_[key] = value;
  }
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.values_[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return env;
}

Env Env::from_map(std::map<std::string, std::string> values) {
  Env env;
  for (auto& [k, v] : values) env.values_[k] = v;
  return env;
}

std::optional<std::string> Env::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string Env::string(std::string_view name, std::string_view fallback) const {
  auto v = get(name);
  return v ? *v : std::string(fallback);
}

std::string Env::required(std::string_view name) const {
  auto v = get(name);
  if (!v) throw ConfigError(std::string(name) + " is required but not set");
  return *v;
}

std::int64_t Env::integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                          std::int64_t max) const {
  auto v = get(name);
  if (!v) return fallback;
  std::int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    throw ConfigError(std::string(name) + " must be an integer, got '" + *v + "'");
  }
  if (out < min || out > max) {
    throw ConfigError(std::string(name) + " must be between " + std::to_string(min) + " and " +
                      std::to_string(max) + ", got " + *v);
  }
  return out;
}

bool Env::boolean(std::string_view name, bool fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  if (*v == "1" || *v == "true" || *v == "yes" || *v == "on") return true;
  if (*v == "0" || *v == "false" || *v == "no" || *v == "off") return false;
  throw ConfigError(std::string(name) + " must be true or false, got '" + *v + "'");
}

std::vector<std::string> Env::list(std::string_view name, std::string_view fallback) const {
  auto text = string(name, fallback);
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= text.size()) {
    auto j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    auto item = trim(std::string_view(text).substr(i, j - i));
    if (!item.empty()) out.push_back(std::move(item));
    i = j + 1;
  }
  return out;
}

}  // namespace emporium
