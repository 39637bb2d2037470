// JSON in and out of the services: nlohmann/json with a depth limit, UTF-8 checks and output that
// never throws on bad UTF-8 (DESIGN §4 json).
#pragma once

#include "emporium/error/errors.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 32;

// Parses a request body. Throws bad_request (400) for malformed JSON, invalid UTF-8 or nesting
// deeper than kMaxJsonDepth; the message says what is wrong without echoing library text.
Json parse_json(std::string_view text);

// Serializes for a client or a log; invalid UTF-8 is replaced, never thrown.
std::string dump_json(const Json& value);

// Field readers for request DTOs. Each records a FieldError and returns nullopt when the member is
// present but of the wrong type or out of range; absent members return nullopt without an error
// (callers add "is required" themselves when needed).
std::optional<std::string> read_string(const Json& body, const char* field, FieldErrors& errors,
                                       std::size_t min_len, std::size_t max_len);
// Integers: JSON integers, or floats with no fractional part (2.0); strings are refused.
std::optional<std::int64_t> read_integer(const Json& body, const char* field, FieldErrors& errors,
                                         std::int64_t min, std::int64_t max);
// Prices: emporium/money/currency.hpp.

}  // namespace emporium
