// JSON parsing with a depth limit and output that tolerates invalid UTF-8.
#include "emporium/json/json.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

namespace emporium {

namespace {

struct TooDeep {};
struct HasNul {};

}  // namespace

Json parse_json(std::string_view text) {
  // The callback sees the nesting depth as the parser descends; abort past the limit before
  // building anything deeper.
  // NUL inside a string is refused too: PostgreSQL cannot store it in text, and no field needs it.
  auto guard = [](int depth, Json::parse_event_t event, Json& parsed) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw TooDeep{};
    }
    if ((event == Json::parse_event_t::key || event == Json::parse_event_t::value) &&
        parsed.is_string() &&
        parsed.get_ref<const std::string&>().find('\0') != std::string::npos) {
      throw HasNul{};
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), guard, /*allow_exceptions=*/true);
  } catch (const TooDeep&) {
    throw bad_request("JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  } catch (const HasNul&) {
    throw bad_request("JSON strings must not contain the NUL character (\\u0000)");
  } catch (const Json::out_of_range&) {
    // A number beyond double's range (1e400) is reported by the parser as out_of_range.
    throw bad_request("A number in the JSON body is out of range");
  } catch (const Json::parse_error& e) {
    // nlohmann reports invalid UTF-8 as a parse error of a string; its text stays in the log.
    std::string what = e.what();
    if (what.find("UTF-8") != std::string::npos || what.find("utf-8") != std::string::npos) {
      throw bad_request("Request body is not valid UTF-8");
    }
    throw bad_request("Malformed JSON at byte " + std::to_string(e.byte));
  } catch (const Json::exception&) {
    throw bad_request("Malformed JSON");
  }
}

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<std::string> read_string(const Json& body, const char* field, FieldErrors& errors,
                                       std::size_t min_len, std::size_t max_len) {
  if (!body.is_object()) return std::nullopt;
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    errors.add(field, "must be a string");
    return std::nullopt;
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() < min_len) {
    errors.add(field, min_len == 1 ? "must not be empty"
                                   : "must be at least " + std::to_string(min_len) + " characters");
    return std::nullopt;
  }
  if (s.size() > max_len) {
    errors.add(field, "must be at most " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> read_integer(const Json& body, const char* field, FieldErrors& errors,
                                         std::int64_t min, std::int64_t max) {
  if (!body.is_object()) return std::nullopt;
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  std::int64_t value = 0;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      errors.add(field, "must be at most " + std::to_string(max));
      return std::nullopt;
    }
    value = it->get<std::int64_t>();
  } else if (it->is_number_float()) {
    double d = it->get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9.0e15) {
      errors.add(field, "must be an integer");
      return std::nullopt;
    }
    value = static_cast<std::int64_t>(d);
  } else {
    errors.add(field, "must be an integer");
    return std::nullopt;
  }
  if (value < min) {
    errors.add(field, "must be at least " + std::to_string(min));
    return std::nullopt;
  }
  if (value > max) {
    errors.add(field, "must be at most " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

}  // namespace emporium
