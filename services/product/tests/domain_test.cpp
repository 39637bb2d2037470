// Pure domain logic: field validation, stock lines and reservations, ETags, listing parameters.
// No I/O. (The currency and price rules are core's: core/tests/money_test.cpp.)
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
