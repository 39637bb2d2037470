// JSON parsing with a depth limit (checked by a linear pre-scan) and output that tolerates
// invalid UTF-8.
#include "emporium/json/json.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

namespace emporium {

namespace {

enum class ScanIssue { None, TooDeep, HasNul };

// One linear pass over the raw text, before the parser sees it: the nesting depth of `[` and `{`
// outside strings, and NUL inside them (a `\u0000` escape or a raw NUL byte). Syntax and UTF-8
// are left to the parser. This replaces nlohmann's callback parser, whose end_object/end_array
// re-scan the parent container: quadratic, ~57 s for a 1 MiB body of empty objects.
ScanIssue prescan(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\0') return ScanIssue::HasNul;  // raw: malformed JSON, but say what is wrong
      if (c == '"') {
        in_string = false;
      } else if (c == '\\' && i + 1 < text.size()) {
        // The escaped character is consumed here, so `\"` stays inside the string and `\\`
        // followed by `u0000` is a backslash and plain text, not a NUL.
        ++i;
        if (text[i] == 'u' && text.substr(i + 1, 4) == "0000") return ScanIssue::HasNul;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) return ScanIssue::TooDeep;
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to report.
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return ScanIssue::None;
}

}  // namespace

Json parse_json(std::string_view text) {
  switch (prescan(text)) {
    case ScanIssue::TooDeep:
      throw bad_request("JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    case ScanIssue::HasNul:
      // PostgreSQL cannot store NUL in text, and no field needs it.
      throw bad_request("JSON strings must not contain the NUL character (\\u0000)");
    case ScanIssue::None: break;
  }
  try {
    // No callback: nlohmann's plain DOM parser is linear in the size of the text.
    return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/true);
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
