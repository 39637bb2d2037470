// Small text helpers shared by the services' list endpoints (query parameters and Link headers).
#pragma once

#include "emporium/error/errors.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emporium {

// A count from a query parameter: decimal digits only ("2", not "+2", "2.0" or " 2"), at most 10
// of them, within [min, max]; nullopt otherwise.
std::optional<std::int64_t> parse_count(std::string_view text, std::int64_t min, std::int64_t max);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// A query string split at '&' and '=' and percent-decoded ('+' is a space, as in form-encoded
// queries). Parsing stops at the first parameter that cannot be used as text — a malformed
// %-escape, a decoded name or value that is not UTF-8 or that holds NUL — and `error` names it
// (decoded when its name decodes, else as sent) and says what to fix. Empty segments (`a=1&&b=2`)
// are skipped; a name without '=' has the empty value.
struct ParsedQuery {
  std::vector<std::pair<std::string, std::string>> params;
  std::optional<FieldError> error;
};
ParsedQuery parse_query(std::string_view query);

// RFC 3986 percent-encoding of everything but the unreserved characters, for query values.
std::string percent_encode(std::string_view text);

}  // namespace emporium
