// Pure domain logic: currency and prices, field validation, stock lines and reservations, ETags,
// listing parameters. No I/O.
#include "domain/currency.hpp"
#include "domain/etag.hpp"
#include "domain/list_query.hpp"
#include "domain/stock.hpp"
#include "domain/validation.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <set>

namespace emporium::product::domain {
namespace {

std::set<std::string> fields_of(const FieldErrors& errors) {
  std::set<std::string> out;
  for (const auto& e : errors.list()) out.insert(e.field);
  return out;
}

Currency usd() {
  return {"usd", 2};
}
Currency jpy() {
  return {"jpy", 0};
}

// ---- currency ----

TEST(CurrencyTest, CodesAndExponents) {
  EXPECT_EQ(currency_from_code("usd")->exponent, 2);
  EXPECT_EQ(currency_from_code("EUR")->code, "eur");
  EXPECT_EQ(currency_from_code("jpy")->exponent, 0);
  EXPECT_EQ(currency_from_code("krw")->exponent, 0);
  EXPECT_FALSE(currency_from_code("us"));
  EXPECT_FALSE(currency_from_code("usd1"));
  EXPECT_FALSE(currency_from_code("u$d"));
  EXPECT_FALSE(currency_from_code("kwd"));  // three decimals
}

TEST(CurrencyTest, ReadsJsonPricesInMinorUnits) {
  FieldErrors errors;
  EXPECT_EQ(read_price(Json{{"price", 19.99}}, "price", usd(), errors), 1999);
  EXPECT_EQ(read_price(Json{{"price", 0}}, "price", usd(), errors), 0);
  EXPECT_EQ(read_price(Json{{"price", 99999999.99}}, "price", usd(), errors), 9999999999);
  EXPECT_EQ(read_price(Json{{"price", 1500}}, "price", jpy(), errors), 1500);
  EXPECT_TRUE(errors.empty());

  for (const Json& bad : {Json{{"price", 1.999}}, Json{{"price", -1}}, Json{{"price", "5"}},
                          Json{{"price", 100000000}}}) {
    FieldErrors e;
    EXPECT_FALSE(read_price(bad, "price", usd(), e)) << bad.dump();
    EXPECT_EQ(fields_of(e), std::set<std::string>{"price"}) << bad.dump();
  }
  FieldErrors e;
  EXPECT_FALSE(read_price(Json{{"price", 10.5}}, "price", jpy(), e));
  EXPECT_EQ(e.list().at(0).message, "must be a whole number of jpy");
}

TEST(CurrencyTest, MoreThanTwoDecimalsIsRefusedAtAnyMagnitude) {
  // A tolerance relative to the amount would read 12345.678 as 12345.68.
  for (double bad :
       {12345.678, 5000.001, 4999.999, 99999999.994, 1000.005, 250000.5001, 0.001, 1e-7}) {
    FieldErrors e;
    EXPECT_FALSE(read_price(Json{{"price", bad}}, "price", usd(), e)) << bad;
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
  // Every cent from 0.00 to 1000.00 reads back exactly.
  for (std::int64_t cents = 0; cents <= 100000; ++cents) {
    FieldErrors e;
    const double value = std::stod(std::to_string(cents / 100) + "." +
                                   (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100));
    ASSERT_EQ(read_price(Json{{"price", value}}, "price", usd(), e), cents) << value;
  }
  for (const Json& huge : {Json(1e300), Json(std::numeric_limits<double>::infinity()),
                           Json(18446744073709551615ULL), Json(-5), Json(100000000)}) {
    FieldErrors e;
    EXPECT_FALSE(read_price(Json{{"price", huge}}, "price", usd(), e)) << huge.dump();
    EXPECT_EQ(e.list().size(), 1u);
  }
}

TEST(CurrencyTest, ParsesQueryPrices) {
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

TEST(CurrencyTest, RendersMajorUnits) {
  EXPECT_EQ(price_json(1999, usd()).dump(), "19.99");
  EXPECT_EQ(price_json(2000, usd()).dump(), "20");
  EXPECT_EQ(price_json(1999, jpy()).dump(), "1999");
}

// ---- validation ----

TEST(ValidationTest, CreateNeedsEveryRequiredField) {
  FieldErrors errors;
  read_product_fields(Json::object(), Mode::Create, usd(), errors);
  EXPECT_EQ(fields_of(errors), (std::set<std::string>{"name", "price", "category", "stock"}));
}

TEST(ValidationTest, CreateReadsAndNormalisesFields) {
  FieldErrors errors;
  const Json body = {{"name", "  Classic Tee  "},
                     {"price", 19.99},
                     {"category", " shirts "},
                     {"stock", 5},
                     {"sku", " TS-1 "},
                     {"images", {"https://x.io/a.png"}},
                     {"_id", "x"},
                     {"__v", 9},
                     {"currency", "eur"}};
  const ProductFields f = read_product_fields(body, Mode::Create, usd(), errors);
  ASSERT_TRUE(errors.empty()) << errors.list().at(0).field;
  EXPECT_EQ(f.name, "Classic Tee");
  EXPECT_EQ(f.description, "");
  EXPECT_EQ(f.price_minor, 1999);
  EXPECT_EQ(f.category, "shirts");
  EXPECT_EQ(f.stock, 5);
  EXPECT_EQ(f.sku, "TS-1");
  ASSERT_TRUE(f.images);
  EXPECT_EQ(f.images->size(), 1u);
}

TEST(ValidationTest, CollectsEveryBadField) {
  FieldErrors errors;
  const Json body = {{"name", ""},
                     {"description", std::string(5001, 'd')},
                     {"price", 1.234},
                     {"category", std::string(101, 'c')},
                     {"stock", -1},
                     {"sku", std::string(65, 's')},
                     {"images", {"https://ok.example/a.png", "ftp://x/y", 5}}};
  read_product_fields(body, Mode::Create, usd(), errors);
  EXPECT_EQ(fields_of(errors), (std::set<std::string>{"name", "description", "price", "category",
                                                      "stock", "sku", "images[1]", "images[2]"}));
}

TEST(ValidationTest, LengthsCountCharactersNotBytes) {
  FieldErrors errors;
  std::string name;
  for (int i = 0; i < 200; ++i) name += "é";  // 400 bytes, 200 characters
  read_product_fields(Json{{"name", name}}, Mode::Update, usd(), errors);
  EXPECT_TRUE(errors.empty());
  read_product_fields(Json{{"name", name + "é"}}, Mode::Update, usd(), errors);
  EXPECT_EQ(fields_of(errors), std::set<std::string>{"name"});
}

TEST(ValidationTest, StockBoundsAndIntegers) {
  for (const Json& ok : {Json(0), Json(1000000000), Json(2.0)}) {
    FieldErrors errors;
    EXPECT_TRUE(read_product_fields(Json{{"stock", ok}}, Mode::Update, usd(), errors).stock);
    EXPECT_TRUE(errors.empty());
  }
  for (const Json& bad : {Json(-1), Json(1000000001), Json(2.5), Json("2"), Json(true)}) {
    FieldErrors errors;
    read_product_fields(Json{{"stock", bad}}, Mode::Update, usd(), errors);
    EXPECT_EQ(fields_of(errors), std::set<std::string>{"stock"}) << bad.dump();
  }
}

TEST(ValidationTest, UpdateTakesAnySubsetAndClearsSku) {
  FieldErrors errors;
  auto f = read_product_fields(Json{{"sku", nullptr}}, Mode::Update, usd(), errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(f.sku_present);
  EXPECT_FALSE(f.sku);
  EXPECT_FALSE(f.name);
  EXPECT_FALSE(f.stock);
  f = read_product_fields(Json::object(), Mode::Update, usd(), errors);
  EXPECT_FALSE(f.sku_present);
  EXPECT_FALSE(f.images);
}

TEST(ValidationTest, ImageUrls) {
  EXPECT_TRUE(is_valid_image_url("https://cdn.example.com/a.png"));
  EXPECT_TRUE(is_valid_image_url("HTTP://example.com"));
  EXPECT_TRUE(is_valid_image_url("http://[::1]:8080/x"));
  EXPECT_TRUE(is_valid_image_url("https://user@host:443/p?q=1#f"));
  EXPECT_FALSE(is_valid_image_url("ftp://example.com/a.png"));
  EXPECT_FALSE(is_valid_image_url("https://"));
  EXPECT_FALSE(is_valid_image_url("https:///path"));
  EXPECT_FALSE(is_valid_image_url("https://exa mple.com"));
  EXPECT_FALSE(is_valid_image_url("javascript:alert(1)"));
  EXPECT_FALSE(is_valid_image_url("https://x.com/" + std::string(2048, 'a')));
  FieldErrors errors;
  read_product_fields(Json{{"images", Json::array()}}, Mode::Update, usd(), errors);
  EXPECT_TRUE(errors.empty());
  read_product_fields(Json{{"images", std::vector<std::string>(21, "https://x.io/a")}},
                      Mode::Update, usd(), errors);
  read_product_fields(Json{{"images", "https://x.io/a"}}, Mode::Update, usd(), errors);
  EXPECT_EQ(errors.list().size(), 2u);
}

TEST(ValidationTest, ControlCharactersAndUtf8) {
  EXPECT_TRUE(
      check_name("a\x01"
                 "b"));
  EXPECT_FALSE(check_description("line one\nline two\ttab"));
  EXPECT_TRUE(is_valid_utf8("café 😀"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
}

TEST(ValidationTest, ExpectedVersion) {
  FieldErrors errors;
  EXPECT_EQ(read_expected_version(Json{{"__v", 3}}, errors), 3);
  EXPECT_FALSE(read_expected_version(Json::object(), errors));
  EXPECT_TRUE(errors.empty());
  EXPECT_FALSE(read_expected_version(Json{{"__v", "3"}}, errors));
  EXPECT_EQ(fields_of(errors), std::set<std::string>{"__v"});
}

// ---- stock ----

TEST(StockTest, MergesLinesAndSortsByProduct) {
  const auto merged = merge_lines({{"bbbbbbbbbbbbbbbbbbbbbbbb", 2},
                                   {"aaaaaaaaaaaaaaaaaaaaaaaa", 1},
                                   {"bbbbbbbbbbbbbbbbbbbbbbbb", 3}});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0], (Line{"aaaaaaaaaaaaaaaaaaaaaaaa", 1}));
  EXPECT_EQ(merged[1], (Line{"bbbbbbbbbbbbbbbbbbbbbbbb", 5}));
}

TEST(StockTest, HashIdentifiesTheRequest) {
  const std::vector<Line> a = {{"aaaaaaaaaaaaaaaaaaaaaaaa", 1}};
  const std::vector<Line> b = {{"aaaaaaaaaaaaaaaaaaaaaaaa", 2}};
  EXPECT_EQ(lines_hash(ReservationKind::Reserve, a), lines_hash(ReservationKind::Reserve, a));
  EXPECT_NE(lines_hash(ReservationKind::Reserve, a), lines_hash(ReservationKind::Reserve, b));
  EXPECT_NE(lines_hash(ReservationKind::Reserve, a), lines_hash(ReservationKind::Deduct, a));
}

TEST(StockTest, ReadsReserveRequests) {
  FieldErrors errors;
  const Json body = {{"reservationId", "order-1"},
                     {"items",
                      {{{"productId", "aaaaaaaaaaaaaaaaaaaaaaaa"}, {"quantity", 1}},
                       {{"productId", "aaaaaaaaaaaaaaaaaaaaaaaa"}, {"quantity", 2.0}}}}};
  const auto request = read_reserve_request(body, errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->reservation_id, "order-1");
  ASSERT_EQ(request->lines.size(), 1u);
  EXPECT_EQ(request->lines[0].quantity, 3);
}

TEST(StockTest, ReserveRequestErrorsNameTheLine) {
  FieldErrors errors;
  const Json body = {{"reservationId", "bad id!"},
                     {"items",
                      {{{"productId", "nope"}, {"quantity", 1}},
                       {{"productId", "aaaaaaaaaaaaaaaaaaaaaaaa"}, {"quantity", 0}},
                       {{"productId", "aaaaaaaaaaaaaaaaaaaaaaaa"}},
                       {{"productId", "aaaaaaaaaaaaaaaaaaaaaaaa"}, {"quantity", "2"}},
                       5}}};
  EXPECT_FALSE(read_reserve_request(body, errors));
  EXPECT_EQ(fields_of(errors),
            (std::set<std::string>{"reservationId", "items[0].productId", "items[1].quantity",
                                   "items[2].quantity", "items[3].quantity", "items[4]"}));
  FieldErrors empty;
  EXPECT_FALSE(read_reserve_request(Json{{"reservationId", "x"}, {"items", Json::array()}}, empty));
  EXPECT_EQ(fields_of(empty), std::set<std::string>{"items"});
}

TEST(StockTest, ReadsDeductRequests) {
  FieldErrors errors;
  const auto request = read_deduct_request(Json{{"reservationId", "o1"}, {"quantity", 2}}, errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->quantity, 2);
  EXPECT_FALSE(read_deduct_request(Json{{"quantity", 2}}, errors));
  EXPECT_EQ(fields_of(errors), std::set<std::string>{"reservationId"});
  FieldErrors missing;
  EXPECT_FALSE(read_deduct_request(Json{{"reservationId", "o1"}}, missing));
  EXPECT_EQ(fields_of(missing), std::set<std::string>{"quantity"});
}

TEST(StockTest, DeltaOutcomes) {
  EXPECT_EQ(check_delta(10, 4, -6, kMaxStock), DeltaOutcome::Ok);
  EXPECT_EQ(check_delta(10, 4, -7, kMaxStock), DeltaOutcome::BelowHeld);
  EXPECT_EQ(check_delta(10, 4, kMaxStock - 6, kMaxStock), DeltaOutcome::Ok);
  EXPECT_EQ(check_delta(10, 4, kMaxStock - 5, kMaxStock), DeltaOutcome::AboveMax);
}

TEST(StockTest, ReservationIds) {
  EXPECT_TRUE(is_valid_reservation_id("65a1b2c3d4e5f60718293a4b"));
  EXPECT_TRUE(is_valid_reservation_id("order:1.retry_2-x"));
  EXPECT_FALSE(is_valid_reservation_id(""));
  EXPECT_FALSE(is_valid_reservation_id(std::string(65, 'a')));
  EXPECT_FALSE(is_valid_reservation_id("a b"));
  EXPECT_FALSE(is_valid_reservation_id("a/b"));
}

// ---- etag ----

TEST(EtagTest, StrongTagsFromIdAndVersion) {
  EXPECT_EQ(etag("abc", 3), "\"abc-3\"");
}

TEST(EtagTest, IfMatchUsesStrongComparison) {
  const std::string tag = etag("abc", 3);
  EXPECT_TRUE(if_match_satisfied("\"abc-3\"", tag));
  EXPECT_TRUE(if_match_satisfied(" \"x\", \"abc-3\" ", tag));
  EXPECT_TRUE(if_match_satisfied("*", tag));
  EXPECT_FALSE(if_match_satisfied("W/\"abc-3\"", tag));
  EXPECT_FALSE(if_match_satisfied("\"abc-2\"", tag));
  EXPECT_FALSE(if_match_satisfied("abc-3", tag));
  EXPECT_FALSE(if_match_satisfied("", tag));
}

TEST(EtagTest, IfNoneMatchUsesWeakComparison) {
  const std::string tag = etag("abc", 3);
  EXPECT_TRUE(if_none_match_hits("\"abc-3\"", tag));
  EXPECT_TRUE(if_none_match_hits("W/\"abc-3\"", tag));
  EXPECT_TRUE(if_none_match_hits("*", tag));
  EXPECT_FALSE(if_none_match_hits("\"abc-4\"", tag));
}

// ---- list query ----

ListQuery parse(const std::map<std::string, std::string>& params, FieldErrors& errors,
                const Currency& currency = usd()) {
  return parse_list_query(
      [&](std::string_view name) -> std::optional<std::string> {
        const auto it = params.find(std::string(name));
        if (it == params.end()) return std::nullopt;
        return it->second;
      },
      currency, errors);
}

TEST(ListQueryTest, Defaults) {
  FieldErrors errors;
  const ListQuery q = parse({}, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(q.page, 1);
  EXPECT_EQ(q.limit, 20);
  EXPECT_EQ(q.effective_sort(), Sort::CreatedAsc);
  EXPECT_TRUE(q.tokens.empty());
  EXPECT_FALSE(q.category);
  EXPECT_FALSE(q.in_stock);
}

TEST(ListQueryTest, ReadsEveryParameter) {
  FieldErrors errors;
  const ListQuery q = parse({{"q", "Red T-Shirt"},
                             {"category", "shirts"},
                             {"minPrice", "5"},
                             {"maxPrice", "19.99"},
                             {"inStock", "true"},
                             {"sort", "-price"},
                             {"page", "3"},
                             {"limit", "50"}},
                            errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(q.tokens, (std::vector<std::string>{"red", "t", "shirt"}));
  EXPECT_EQ(q.category, "shirts");
  EXPECT_EQ(q.min_price_minor, 500);
  EXPECT_EQ(q.max_price_minor, 1999);
  EXPECT_EQ(q.in_stock, true);
  EXPECT_EQ(q.sort, Sort::PriceDesc);
  EXPECT_EQ(q.offset(), 100);
}

TEST(ListQueryTest, EveryBadValueNamesItsParameter) {
  FieldErrors errors;
  parse({{"category", ""},
         {"minPrice", "-1"},
         {"maxPrice", "abc"},
         {"inStock", "yes"},
         {"ids", "nope"},
         {"sort", "popularity"},
         {"page", "0"},
         {"limit", "101"}},
        errors);
  EXPECT_EQ(fields_of(errors), (std::set<std::string>{"category", "minPrice", "maxPrice", "inStock",
                                                      "ids", "sort", "page", "limit"}));
}

TEST(ListQueryTest, RejectsOtherBadValues) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"limit", "0"},
                                                        {"limit", "1.5"},
                                                        {"limit", "+5"},
                                                        {"page", "-1"},
                                                        {"page", "x"},
                                                        {"q", "\xff"},
                                                        {"q", "a b c d e f g h i j k"},
                                                        {"q", std::string(501, 'a')},
                                                        {"ids", ""},
                                                        {"ids", "AAAAAAAAAAAAAAAAAAAAAAAA"},
                                                        {"ids", "aaaaaaaaaaaaaaaaaaaaaaaa,"},
                                                        {"inStock", "TRUE"},
                                                        {"sort", "Price"},
                                                        {"category", "\xc3"}}) {
    FieldErrors errors;
    parse({{key, value}}, errors);
    EXPECT_EQ(fields_of(errors), std::set<std::string>{key}) << key << "=" << value;
  }
  FieldErrors errors;
  parse({{"minPrice", "10"}, {"maxPrice", "5"}}, errors);
  EXPECT_EQ(fields_of(errors), std::set<std::string>{"maxPrice"});
}

TEST(ListQueryTest, Ids) {
  FieldErrors errors;
  std::string many;
  for (int i = 0; i < 100; ++i) many += (i ? "," : "") + std::string(24, 'a');
  const ListQuery q = parse({{"ids", many}}, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(q.ids.size(), 1u);  // duplicates collapse
  EXPECT_EQ(q.limit, 100);      // a cart's worth by default
  parse({{"ids", many + "," + std::string(24, 'b')}}, errors);
  EXPECT_EQ(fields_of(errors), std::set<std::string>{"ids"});
  FieldErrors spaced;
  const ListQuery s = parse({{"ids", std::string(24, 'a') + ", " + std::string(24, 'b')}}, spaced);
  EXPECT_TRUE(spaced.empty());
  EXPECT_EQ(s.ids.size(), 2u);
}

TEST(ListQueryTest, SearchWithoutWordsIsNoFilter) {
  FieldErrors errors;
  const ListQuery q = parse({{"q", " %'\"\\ "}}, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(q.tokens.empty());
}

TEST(ListQueryTest, LinksKeepTheFilters) {
  FieldErrors errors;
  const ListQuery q = parse(
      {{"q", "red shirt"}, {"category", "a&b"}, {"minPrice", "5.5"}, {"sort", "name"}}, errors);
  EXPECT_EQ(list_query_string(q, usd(), 2),
            "q=red%20shirt&category=a%26b&minPrice=5.50&sort=name&limit=20&page=2");
}

}  // namespace
}  // namespace emporium::product::domain
