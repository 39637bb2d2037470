// Store currency and prices (DESIGN §5): ISO 4217 exponents, exact reading of JSON and query
// prices, printing in major units.
#include "emporium/money/currency.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace emporium {
namespace {

// ISO 4217 currencies without a minor unit (the zero-decimal list payment providers use).
constexpr std::array<std::string_view, 16> kZeroDecimal = {"bif", "clp", "djf", "gnf", "isk", "jpy",
                                                           "kmf", "krw", "pyg", "rwf", "ugx", "vnd",
                                                           "vuv", "xaf", "xof", "xpf"};
// Three-decimal currencies: refused, since prices carry at most two decimals.
constexpr std::array<std::string_view, 7> kThreeDecimal = {"bhd", "iqd", "jod", "kwd",
                                                           "lyd", "omr", "tnd"};

constexpr std::int64_t kMaxMajorUnits = 99'999'999;
// Larger amounts are out of range whatever their decimals; below it, amount × 100 stays far inside
// the integers a double holds exactly (2^53), so the rounding and the check in read_minor are
// exact.
constexpr double kLargestCheckedAmount = 1e12;

bool contains(const auto& list, std::string_view code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

std::int64_t minor_per_major(const Currency& currency) {
  return currency.exponent == 0 ? 1 : 100;
}

enum class Problem { None, NotANumber, OutOfRange, TooManyDecimals };

struct Reading {
  std::int64_t minor = 0;
  Problem problem = Problem::None;
};

Reading read_minor(const Json& value, const Currency& currency) {
  if (!value.is_number()) return {0, Problem::NotANumber};
  const double amount = value.get<double>();
  if (!std::isfinite(amount) || amount < 0 || amount > kLargestCheckedAmount) {
    return {0, Problem::OutOfRange};
  }
  // A JSON parser yields the double nearest to the decimal text, so the text had at most
  // `exponent` decimals exactly when the amount is the double nearest to minor / scale. (Casting
  // x*100 truncates 19.99 to 1998; a tolerance on the difference grows with the amount and lets
  // 12345.678 through.)
  const auto scale = static_cast<double>(minor_per_major(currency));
  const std::int64_t minor = std::llround(amount * scale);
  if (static_cast<double>(minor) / scale != amount) return {0, Problem::TooManyDecimals};
  if (minor > max_price_minor(currency)) return {0, Problem::OutOfRange};
  return {minor, Problem::None};
}

}  // namespace

std::optional<Currency> currency_from_code(std::string_view code) {
  if (code.size() != 3) return std::nullopt;
  std::string lower;
  for (char c : code) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c < 'a' || c > 'z') return std::nullopt;
    lower.push_back(c);
  }
  if (contains(kThreeDecimal, lower)) return std::nullopt;
  return Currency{lower, contains(kZeroDecimal, lower) ? 0 : 2};
}

std::int64_t max_price_minor(const Currency& currency) {
  return currency.exponent == 0 ? kMaxMajorUnits : kMaxMajorUnits * 100 + 99;
}

std::optional<std::int64_t> read_price(const Json& body, const char* field,
                                       const Currency& currency, FieldErrors& errors) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  const Reading reading = read_minor(*it, currency);
  switch (reading.problem) {
    case Problem::None: return reading.minor;
    case Problem::NotANumber: errors.add(field, "must be a number"); break;
    case Problem::OutOfRange:
      errors.add(field,
                 "must be between 0 and " + price_json(max_price_minor(currency), currency).dump());
      break;
    case Problem::TooManyDecimals:
      errors.add(field, currency.exponent == 0 ? "must be a whole number of " + currency.code
                                               : std::string("must have at most two decimals"));
      break;
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_price_text(std::string_view text, const Currency& currency) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 9) return std::nullopt;
  if (dot != std::string_view::npos &&
      (fraction.empty() || fraction.size() > static_cast<std::size_t>(currency.exponent))) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  for (int i = 0; i < currency.exponent; ++i) {
    const auto index = static_cast<std::size_t>(i);
    int digit = 0;
    if (index < fraction.size()) {
      const char c = fraction[index];
      if (c < '0' || c > '9') return std::nullopt;
      digit = c - '0';
    }
    value = value * 10 + digit;
  }
  if (value > max_price_minor(currency)) return std::nullopt;
  return value;
}

std::optional<std::int64_t> price_from_json(const Json& value, const Currency& currency) {
  const Reading reading = read_minor(value, currency);
  if (reading.problem != Problem::None) return std::nullopt;
  return reading.minor;
}

Json price_json(std::int64_t minor, const Currency& currency) {
  const std::int64_t scale = minor_per_major(currency);
  if (minor % scale == 0) return Json(minor / scale);
  // Shortest round-trip double printing gives 19.99, not 19.989999…
  return Json(static_cast<double>(minor) / static_cast<double>(scale));
}

}  // namespace emporium
