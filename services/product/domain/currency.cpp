#include "domain/currency.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

namespace emporium::product::domain {
namespace {

// ISO 4217 currencies without a minor unit (the zero-decimal list payment providers use).
constexpr std::array<std::string_view, 16> kZeroDecimal = {"bif", "clp", "djf", "gnf", "isk", "jpy",
                                                           "kmf", "krw", "pyg", "rwf", "ugx", "vnd",
                                                           "vuv", "xaf", "xof", "xpf"};
// Three-decimal currencies: refused, since prices carry at most two decimals.
constexpr std::array<std::string_view, 7> kThreeDecimal = {"bhd", "iqd", "jod", "kwd",
                                                           "lyd", "omr", "tnd"};

constexpr std::int64_t kMaxMajorUnits = 99'999'999;

bool contains(const auto& list, std::string_view code) {
  return std::find(list.begin(), list.end(), code) != list.end();
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
  const std::int64_t max_minor = max_price_minor(currency);
  const std::string range = "must be between 0 and " + price_json(max_minor, currency).dump();
  if (!it->is_number()) {
    errors.add(field, "must be a number");
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    // Compare in major units first: scaling a huge integer would overflow.
    const bool negative = !it->is_number_unsigned() && it->get<std::int64_t>() < 0;
    const std::uint64_t major = negative ? 0 : it->get<std::uint64_t>();
    const std::int64_t scale = currency.exponent == 0 ? 1 : 100;
    if (negative || major > static_cast<std::uint64_t>(max_minor / scale)) {
      errors.add(field, range);
      return std::nullopt;
    }
    return static_cast<std::int64_t>(major) * scale;
  }
  // A fraction: decide on the shortest decimal text that reads back as the same double (what
  // the client wrote, for any price with up to 15 significant digits). Scaling by 100 and
  // rounding with a tolerance relative to the amount would take 12345.678 for 12345.68.
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < 0 || value > 1e12) {
    errors.add(field, range);
    return std::nullopt;
  }
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  if (ec != std::errc()) {
    errors.add(field, range);
    return std::nullopt;
  }
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  if (text.starts_with('-')) text.remove_prefix(1);  // -0.0
  const auto dot = text.find('.');
  const std::size_t decimals = dot == std::string_view::npos ? 0 : text.size() - dot - 1;
  if (decimals > static_cast<std::size_t>(currency.exponent)) {
    errors.add(field, currency.exponent == 0 ? "must be a whole number of " + currency.code
                                             : std::string("must have at most two decimals"));
    return std::nullopt;
  }
  const auto minor = parse_price_text(text, Currency{currency.code, currency.exponent});
  if (!minor) {
    errors.add(field, range);
    return std::nullopt;
  }
  return minor;
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
    const std::size_t index = static_cast<std::size_t>(i);
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

Json price_json(std::int64_t minor, const Currency& currency) {
  if (currency.exponent == 0) return Json(minor);
  return money_json(minor);
}

}  // namespace emporium::product::domain
