// The store currency (one per deployment, DESIGN §5) and prices in its minor units: the ISO 4217
// exponent decides how a JSON price or a query value maps to the stored integer and back (19.99 usd
// is 1999; 1999 jpy is 1999). product-service and shopping-cart-service share these rules, so a
// price product-service prints is the price the cart reads.
#pragma once

#include "emporium/error/errors.hpp"
#include "emporium/json/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium {

struct Currency {
  std::string code = "usd";  // lower-case ISO 4217
  int exponent = 2;          // minor-unit digits: 2 (usd, eur, …) or 0 (jpy, krw, …)
};

// `code` is case-insensitive; the result is lower-cased. nullopt for anything that is not three
// ASCII letters, and for the three-decimal currencies (bhd, jod, kwd, omr, tnd, …), which prices
// with at most two decimals cannot express.
std::optional<Currency> currency_from_code(std::string_view code);

// Largest price, in minor units: 99,999,999.99 (two decimals) or 99,999,999 (no decimals).
std::int64_t max_price_minor(const Currency& currency);

// A request body's price in major units (at most `exponent` decimals, 0..max) as minor units,
// exact at any magnitude (12345.678 is refused, 99999999.99 accepted); records a FieldError under
// `field` and returns nullopt when it is malformed or out of range. Absent or null: nullopt
// without an error.
std::optional<std::int64_t> read_price(const Json& body, const char* field,
                                       const Currency& currency, FieldErrors& errors);

// A price from query text ("10", "10.5", "10.50"; no sign, exponent or spaces) as minor units.
std::optional<std::int64_t> parse_price_text(std::string_view text, const Currency& currency);

// Another service's JSON price (a product document's `price`) as minor units, by the rules of
// read_price; nullopt when it is null or read_price would refuse it.
std::optional<std::int64_t> price_from_json(const Json& value, const Currency& currency);

// Minor units as a JSON number in major units (1999 -> 19.99 usd, 2000 -> 20 usd,
// 1999 -> 1999 jpy).
Json price_json(std::int64_t minor, const Currency& currency);

}  // namespace emporium
