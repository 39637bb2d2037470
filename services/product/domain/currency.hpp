// The store currency (one per deployment, DESIGN §5) and prices in its minor units: the ISO 4217
// exponent decides how a JSON price or a `minPrice` query value maps to the stored integer and
// back.
#pragma once

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::product::domain {

struct Currency {
  std::string code = "usd";  // lowercase ISO 4217
  int exponent = 2;          // minor-unit digits: 2 (usd, eur, …) or 0 (jpy, krw, …)
};

// `code` is case-insensitive; the result is lower-cased. nullopt for anything that is not three
// ASCII letters, and for the three-decimal currencies (bhd, jod, kwd, omr, tnd, …), which prices
// with at most two decimals cannot express.
std::optional<Currency> currency_from_code(std::string_view code);

// Largest price in major units: 99,999,999.99 (two decimals) or 99,999,999 (no decimals).
std::int64_t max_price_minor(const Currency& currency);

// A JSON price in major units (at most `exponent` decimals, 0..max) as minor units, exact at any
// magnitude (12345.678 is refused, 99999999.99 accepted); records a FieldError under `field` and
// returns nullopt when it is malformed or out of range. Absent or null: nullopt without an error.
std::optional<std::int64_t> read_price(const Json& body, const char* field,
                                       const Currency& currency, FieldErrors& errors);

// A price from query text ("10", "10.5", "10.50"; no sign, exponent or spaces) as minor units.
std::optional<std::int64_t> parse_price_text(std::string_view text, const Currency& currency);

// Minor units as a JSON number in major units (1999 -> 19.99 for usd, 1999 -> 1999 for jpy).
Json price_json(std::int64_t minor, const Currency& currency);

}  // namespace emporium::product::domain
