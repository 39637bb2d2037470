#include "domain/money.hpp"

#include <emporium/error/errors.hpp>

#include <algorithm>
#include <array>

namespace emporium::cart::domain {
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

std::optional<std::int64_t> price_from_json(const Json& value, const Currency& currency) {
  // read_money applies DESIGN §5 (llround of x*100 with a two-decimals check); a zero-decimal
  // currency then needs whole units.
  const Json holder = Json{{"price", value}};
  FieldErrors errors;
  const std::int64_t max_cents =
      currency.exponent == 0 ? max_price_minor(currency) * 100 : max_price_minor(currency);
  const auto cents = read_money(holder, "price", errors, 0, max_cents);
  if (!errors.empty() || !cents) return std::nullopt;
  std::int64_t minor = *cents;
  if (currency.exponent == 0) {
    if (minor % 100 != 0) return std::nullopt;
    minor /= 100;
  }
  return minor;
}

Json price_json(std::int64_t minor, const Currency& currency) {
  if (currency.exponent == 0) return Json(minor);
  return money_json(minor);
}

}  // namespace emporium::cart::domain
