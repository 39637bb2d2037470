// Small text helpers shared by the services' list endpoints (query parameters and Link headers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium {

// A count from a query parameter: decimal digits only ("2", not "+2", "2.0" or " 2"), at most 10
// of them, within [min, max]; nullopt otherwise.
std::optional<std::int64_t> parse_count(std::string_view text, std::int64_t min, std::int64_t max);

// RFC 3986 percent-encoding of everything but the unreserved characters, for query values.
std::string percent_encode(std::string_view text);

}  // namespace emporium
