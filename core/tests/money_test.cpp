// Store currency and prices: exponents from the code, exact reading of JSON and query prices at
// any magnitude, and printing that reads back to the same minor units. Checked totals: exact at
// the DESIGN §5 caps, MoneyOverflow (never a wrapped value) past the 64-bit range.
#include "emporium/money/arithmetic.hpp"
#include "emporium/money/currency.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <utility>
#include <vector>

namespace emporium {
namespace {

Currency usd() {
  return {"usd", 2};
}
Currency jpy() {
  return {"jpy", 0};
}

// The single message `read_price` records for `value`, or "" when it records none.
std::string error_of(const Json& value, const Currency& currency) {
  FieldErrors errors;
  static_cast<void>(read_price(Json{{"price", value}}, "price", currency, errors));
  if (errors.empty()) return "";
  EXPECT_EQ(errors.list().size(), 1u) << value.dump();
  EXPECT_EQ(errors.list().at(0).field, "price") << value.dump();
  return errors.list().at(0).message;
}

TEST(Money, CurrencyCodesAndExponents) {
  EXPECT_EQ(currency_from_code("usd")->exponent, 2);
  EXPECT_EQ(currency_from_code("EUR")->code, "eur");
  EXPECT_EQ(currency_from_code("jpy")->exponent, 0);
  EXPECT_EQ(currency_from_code("krw")->exponent, 0);
  EXPECT_FALSE(currency_from_code("us"));
  EXPECT_FALSE(currency_from_code("usd1"));
  EXPECT_FALSE(currency_from_code("u$d"));
  EXPECT_FALSE(currency_from_code("u1d"));
  EXPECT_FALSE(currency_from_code("kwd"));  // three decimals
  EXPECT_EQ(max_price_minor(usd()), 9'999'999'999);
  EXPECT_EQ(max_price_minor(jpy()), 99'999'999);
}

TEST(Money, ReadsJsonPricesInMinorUnits) {
  FieldErrors errors;
  EXPECT_EQ(read_price(Json{{"price", 19.99}}, "price", usd(), errors), 1999);
  EXPECT_EQ(read_price(Json{{"price", 0}}, "price", usd(), errors), 0);
  EXPECT_EQ(read_price(Json{{"price", 99999999.99}}, "price", usd(), errors), 9999999999);
  EXPECT_EQ(read_price(Json{{"price", 1500}}, "price", jpy(), errors), 1500);
  EXPECT_EQ(read_price(Json{{"price", nullptr}}, "price", usd(), errors), std::nullopt);
  EXPECT_EQ(read_price(Json::object(), "price", usd(), errors), std::nullopt);
  EXPECT_TRUE(errors.empty());

  for (const Json& bad : {Json(1.999), Json(-1), Json("5"), Json(100000000)}) {
    FieldErrors e;
    EXPECT_FALSE(read_price(Json{{"price", bad}}, "price", usd(), e)) << bad.dump();
    EXPECT_EQ(e.list().size(), 1u) << bad.dump();
  }
  EXPECT_EQ(error_of(Json("5"), usd()), "must be a number");
  EXPECT_EQ(error_of(Json(1.999), usd()), "must have at most two decimals");
  EXPECT_EQ(error_of(Json(100000000), usd()), "must be between 0 and 99999999.99");
  EXPECT_EQ(error_of(Json(10.5), jpy()), "must be a whole number of jpy");
  EXPECT_EQ(error_of(Json(100000000), jpy()), "must be between 0 and 99999999");
}

TEST(Money, StringsNegativesAndThreeDecimalsEachRecordAnError) {
  FieldErrors errors;
  const Json body = parse_json(R"({"a":19.999,"b":"19.99","c":-1})");
  EXPECT_EQ(read_price(body, "a", usd(), errors), std::nullopt);
  EXPECT_EQ(read_price(body, "b", usd(), errors), std::nullopt);
  EXPECT_EQ(read_price(body, "c", usd(), errors), std::nullopt);
  EXPECT_EQ(errors.list().size(), 3u);
}

TEST(Money, MoreThanTwoDecimalsIsRefusedAtAnyMagnitude) {
  // A tolerance relative to the amount would read 12345.678 as 12345.68.
  for (double bad :
       {12345.678, 5000.001, 4999.999, 99999999.994, 1000.005, 250000.5001, 1.005, 0.001, 1e-7}) {
    EXPECT_EQ(error_of(Json(bad), usd()), "must have at most two decimals") << bad;
  }
  // The same from request text, as clients send it.
  for (const char* bad :
       {"12345.678", "5000.001", "4999.999", "99999999.994", "250000.5001", "1.005"}) {
    FieldErrors e;
    EXPECT_EQ(read_price(parse_json(std::string("{\"p\":") + bad + "}"), "p", usd(), e),
              std::nullopt)
        << bad;
    EXPECT_EQ(e.list().size(), 1u) << bad;
  }
  for (const auto& [good, minor] :
       std::vector<std::pair<double, std::int64_t>>{{0.1, 10},
                                                    {0.29, 29},
                                                    {19.99, 1999},
                                                    {4586.13, 458613},
                                                    {99999999.99, 9999999999},
                                                    {12345.67, 1234567},
                                                    {1e3, 100000},
                                                    {-0.0, 0}}) {
    FieldErrors e;
    EXPECT_EQ(read_price(Json{{"price", good}}, "price", usd(), e), minor) << good;
    EXPECT_TRUE(e.empty()) << good;
  }
  FieldErrors errors;
  EXPECT_EQ(read_price(parse_json(R"({"p":99999999.99})"), "p", usd(), errors), 9999999999);
  EXPECT_EQ(read_price(parse_json(R"({"p":1e2})"), "p", usd(), errors), 10000);
  EXPECT_TRUE(errors.empty());
  for (const Json& huge : {Json(1e300), Json(std::numeric_limits<double>::infinity()),
                           Json(18446744073709551615ULL), Json(-5), Json(100000000)}) {
    EXPECT_EQ(error_of(huge, usd()), "must be between 0 and 99999999.99") << huge.dump();
  }
}

TEST(Money, EveryCentUpToAThousandIsExactBothWays) {
  // Casting x*100 is wrong for 4,586 of these (DESIGN §5). Read from request text, printed, and
  // read back from the printed JSON as the cart reads product-service's prices.
  for (std::int64_t cents = 0; cents <= 100000; ++cents) {
    const std::string text = std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") +
                             std::to_string(cents % 100);
    const Json body = parse_json("{\"p\":" + text + "}");
    FieldErrors errors;
    ASSERT_EQ(read_price(body, "p", usd(), errors), cents) << text;
    const Json printed = parse_json(dump_json(price_json(cents, usd())));
    ASSERT_EQ(printed.get<double>(), body["p"].get<double>()) << text;
    ASSERT_EQ(price_from_json(printed, usd()), cents) << text;
  }
}

TEST(Money, ParsesQueryPrices) {
  EXPECT_EQ(parse_price_text("10", usd()), 1000);
  EXPECT_EQ(parse_price_text("10.5", usd()), 1050);
  EXPECT_EQ(parse_price_text("10.05", usd()), 1005);
  EXPECT_EQ(parse_price_text("0", usd()), 0);
  EXPECT_EQ(parse_price_text("99999999.99", usd()), 9999999999);
  for (const char* bad :
       {"", "-1", "+1", "1e3", "1.", ".5", "1.234", " 1", "abc", "100000000", "0x10", "1,5"}) {
    EXPECT_FALSE(parse_price_text(bad, usd())) << bad;
  }
  EXPECT_EQ(parse_price_text("1500", jpy()), 1500);
  EXPECT_FALSE(parse_price_text("1500.5", jpy()));
}

TEST(Money, PricesFromAnotherServicesJson) {
  EXPECT_EQ(price_from_json(Json(19.99), usd()), 1999);
  EXPECT_EQ(price_from_json(Json(0.29), usd()), 29);
  EXPECT_EQ(price_from_json(Json(20), usd()), 2000);
  EXPECT_EQ(price_from_json(Json(99999999.99), usd()), 9'999'999'999);
  EXPECT_FALSE(price_from_json(Json(100000000), usd()));
  EXPECT_FALSE(price_from_json(Json(1.999), usd()));
  EXPECT_FALSE(price_from_json(Json(-1), usd()));
  EXPECT_FALSE(price_from_json(Json("19.99"), usd()));
  EXPECT_FALSE(price_from_json(Json(nullptr), usd()));
  EXPECT_EQ(price_from_json(Json(1999), jpy()), 1999);
  EXPECT_FALSE(price_from_json(Json(19.5), jpy()));
  EXPECT_FALSE(price_from_json(Json(100000000), jpy()));
}

TEST(Money, RendersMajorUnits) {
  EXPECT_EQ(dump_json(price_json(1999, usd())), "19.99");
  EXPECT_EQ(dump_json(price_json(2000, usd())), "20");
  EXPECT_EQ(dump_json(price_json(1999, jpy())), "1999");
  EXPECT_EQ(price_json(1999, usd()), Json(19.99));
  EXPECT_EQ(price_json(1999, jpy()), Json(1999));
}

// DESIGN §5 caps: a price of 99,999,999.99, 1000 units a line, 100 lines.
constexpr std::int64_t kMaxPrice = 9'999'999'999;
constexpr std::int64_t kMaxQuantity = 1000;
constexpr std::size_t kMaxLines = 100;

TEST(MoneyArithmetic, LineTotalsAndSumsAreExactAtTheCaps) {
  EXPECT_EQ(line_total(1999, 3), 5997);
  EXPECT_EQ(line_total(0, kMaxQuantity), 0);
  EXPECT_EQ(line_total(kMaxPrice, kMaxQuantity), 9'999'999'999'000);
  EXPECT_EQ(add_money(5997, 3), 6000);
  EXPECT_EQ(sum_line_totals({}), 0);
  const std::vector<LineAmount> largest(kMaxLines, LineAmount{kMaxPrice, kMaxQuantity});
  EXPECT_EQ(sum_line_totals(largest), 999'999'999'900'000);
  // The largest total prints exactly in major units (it is below 2^53).
  EXPECT_EQ(dump_json(price_json(999'999'999'900'000, usd())), "9999999999000");
  EXPECT_EQ(dump_json(price_json(999'999'999'900'001, usd())), "9999999999000.01");
  const std::vector<LineAmount> mixed = {{1999, 2}, {105, 1000}, {kMaxPrice, 1}};
  EXPECT_EQ(sum_line_totals(mixed), 3998 + 105'000 + kMaxPrice);
}

TEST(MoneyArithmetic, OverflowThrowsInsteadOfWrapping) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  // The largest product that fits, then one unit past it.
  EXPECT_EQ(line_total(kMax / 1000, 1000), kMax / 1000 * 1000);
  EXPECT_THROW(line_total(kMax / 1000 + 1, 1000), MoneyOverflow);
  EXPECT_THROW(line_total(kMaxPrice, 1'000'000'000), MoneyOverflow);  // a reservation's line cap
  EXPECT_THROW(line_total(std::numeric_limits<std::int64_t>::min(), -1), MoneyOverflow);
  EXPECT_EQ(add_money(kMax - 1, 1), kMax);
  EXPECT_THROW(add_money(kMax, 1), MoneyOverflow);
  // Lines that fit one by one but not together.
  const std::vector<LineAmount> lines = {{kMax / 2, 1}, {kMax / 2, 1}, {2, 1}};
  EXPECT_THROW(sum_line_totals(lines), MoneyOverflow);
  // Far beyond the caps: 100 lines of 10^7 units at the largest price.
  const std::vector<LineAmount> beyond(kMaxLines, LineAmount{kMaxPrice, 10'000'000});
  EXPECT_THROW(sum_line_totals(beyond), MoneyOverflow);
  // It is a logic error (a broken invariant, a logged 500), never an HttpError.
  EXPECT_THROW(line_total(kMax, 2), std::logic_error);
}

}  // namespace
}  // namespace emporium
