// The store currency (one per deployment, DESIGN §5) and prices in its minor units: the ISO 4217
// exponent decides how a JSON price maps to the stored integer and back (19.99 usd is 1999; 1999
// jpy is 1999). product-service applies the same rules to the prices it sends.
#pragma once

#include <emporium/json/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::cart::domain {

struct Currency {
  std::string code = "usd";  // lower-case ISO 4217
  int exponent = 2;          // minor-unit digits: 2 (usd, eur, …) or 0 (jpy, krw, …)
};

// Three ASCII letters, case-insensitive (the result is lower-cased); nullopt otherwise and for the
// three-decimal currencies (bhd, jod, kwd, …), which prices with at most two decimals cannot
// express.
std::optional<Currency> currency_from_code(std::string_view code);

// Largest price: 99,999,999.99 (two decimals) or 99,999,999 (no decimals), in minor units.
std::int64_t max_price_minor(const Currency& currency);

// A JSON price in major units as minor units; nullopt when it is not a number, has more decimals
// than the currency has, or is out of 0..max_price_minor.
std::optional<std::int64_t> price_from_json(const Json& value, const Currency& currency);

// Minor units as a JSON number in major units (1999 -> 19.99 usd, 1999 -> 1999 jpy).
Json price_json(std::int64_t minor, const Currency& currency);

}  // namespace emporium::cart::domain
