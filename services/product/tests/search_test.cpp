// Search (`q`): tokenization, and the same answers from SQLite FTS5 and PostgreSQL full-text
// search for ordinary and hostile input.
#include "domain/search.hpp"
#include "domain/validation.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <set>

namespace emporium::product {
namespace {

using testing::Backend;
using testing::TestDatabase;

TEST(SearchTokensTest, SplitsOnAsciiPunctuationAndLowerCasesAscii) {
  EXPECT_EQ(domain::tokenize("Red T-Shirt, size XL!"),
            (std::vector<std::string>{"red", "t", "shirt", "size", "xl"}));
  EXPECT_EQ(domain::tokenize("  "), std::vector<std::string>{});
  EXPECT_EQ(domain::tokenize("\"classic"), std::vector<std::string>{"classic"});
  EXPECT_EQ(domain::tokenize("red AND"), (std::vector<std::string>{"red", "and"}));
  EXPECT_EQ(domain::tokenize("%'\\_*:()^"), std::vector<std::string>{});
}

TEST(SearchTokensTest, KeepsUtf8WordsWhole) {
  // Bytes >= 0x80 are word characters: no Unicode folding or splitting.
  EXPECT_EQ(domain::tokenize("Café CAFÉ naïve—x 😀ok"),
            (std::vector<std::string>{"café", "cafÉ", "naïve—x", "😀ok"}));
}

TEST(SearchTokensTest, CutsLongWordsAtACharacterBoundary) {
  std::string word;
  for (int i = 0; i < 200; ++i) word += "é";  // 400 bytes
  const auto tokens = domain::tokenize(word);
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_LE(tokens[0].size(), domain::kMaxTokenBytes);
  EXPECT_EQ(tokens[0].size() % 2, 0u);
}

TEST(SearchTokensTest, SearchTextAndQueries) {
  EXPECT_EQ(domain::search_text("Red Shirt", "A red, soft shirt."), "red shirt a soft");
  EXPECT_EQ(domain::fts5_match({"red", "t"}), "\"red\"* \"t\"*");
  EXPECT_EQ(domain::pg_tsquery({"red", "t"}), "'red':* & 't':*");
}

// The fixture catalog; names identify the results.
const std::vector<std::pair<std::string, std::string>>& docs() {
  static const std::vector<std::pair<std::string, std::string>> list = {
      {"Classic Red T-Shirt", "Soft cotton tee"},  {"Blue Jeans", "Classic denim, slim fit"},
      {"Redwood Table", "Solid wood; seats 6"},    {"Café Mug", "Ceramic mug for café lovers 😀"},
      {"CAFÉ Poster", "Upper-case accent"},        {"Shirt AND Tie", "Formal set (NEAR perfect)"},
      {"100% Wool Scarf", "warm: 'cozy' \\ knit"}, {"Naïve Art Print", "Painting"},
  };
  return list;
}

std::vector<std::string> search(Catalog& catalog, const std::string& q) {
  FieldErrors errors;
  domain::ListQuery query = domain::parse_list_query(
      [&](std::string_view name) -> std::optional<std::string> {
        if (name == "q") return q;
        if (name == "limit") return std::string("100");
        return std::nullopt;
      },
      Currency{}, errors);
  EXPECT_TRUE(errors.empty()) << q;
  std::vector<std::string> names;
  for (const auto& p : catalog.list(query).products) names.push_back(p.name);
  return names;
}

// Ordinary words, query-language syntax of both databases, SQL, quotes, emoji, combining marks.
const std::vector<std::string>& queries() {
  static const std::vector<std::string> list = {"t-shirt",
                                                "\"classic",
                                                "red AND",
                                                "%",
                                                "'",
                                                "\\",
                                                "😀",
                                                "red",
                                                "RED",
                                                "re",
                                                "r",
                                                "classic",
                                                "classic red",
                                                "shirt",
                                                "café",
                                                "CAFÉ",
                                                "caf",
                                                "naïve",
                                                "nai",
                                                "and",
                                                "NEAR(",
                                                "near",
                                                "*",
                                                "red*",
                                                "\"red\"",
                                                "':*",
                                                "a & b | !c",
                                                "(shirt)",
                                                "shirt:*",
                                                "^red",
                                                "-red",
                                                "100",
                                                "100%",
                                                "wool scarf warm cozy knit",
                                                "col:red",
                                                "wood 6",
                                                "x y z",
                                                "\x01",
                                                "red NOT jeans",
                                                "OR",
                                                "select * from products",
                                                "'; drop table products; --",
                                                "😀ok",
                                                "e\xcc\x81"};
  return list;
}

class SearchTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
    catalog_ = std::make_unique<Catalog>(database_->db(), CatalogOptions{});
    for (const auto& [name, description] : docs()) {
      catalog_->create(testing::fields(name, 100, "misc", 1, description));
    }
  }
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_P(SearchTest, WordPrefixesInNameOrDescription) {
  using V = std::vector<std::string>;
  EXPECT_EQ(search(*catalog_, "red"), (V{"Classic Red T-Shirt", "Redwood Table"}));
  EXPECT_EQ(search(*catalog_, "RED shirt"), (V{"Classic Red T-Shirt"}));
  EXPECT_EQ(search(*catalog_, "t-shirt"), (V{"Classic Red T-Shirt", "Shirt AND Tie"}));
  EXPECT_EQ(search(*catalog_, "classic"), (V{"Classic Red T-Shirt", "Blue Jeans"}));
  EXPECT_EQ(search(*catalog_, "\"classic"), (V{"Classic Red T-Shirt", "Blue Jeans"}));
  EXPECT_EQ(search(*catalog_, "red AND"), V{});
  EXPECT_EQ(search(*catalog_, "shirt and"), (V{"Shirt AND Tie"}));
  EXPECT_EQ(search(*catalog_, "ood"), V{});  // prefixes only, no infix
  EXPECT_EQ(search(*catalog_, "café"), (V{"Café Mug"}));
  EXPECT_EQ(search(*catalog_, "CAFÉ"), (V{"CAFÉ Poster"}));  // no Unicode case folding
  EXPECT_EQ(search(*catalog_, "caf"), (V{"Café Mug", "CAFÉ Poster"}));
  EXPECT_EQ(search(*catalog_, "😀"), (V{"Café Mug"}));
  EXPECT_EQ(search(*catalog_, "100%"), (V{"100% Wool Scarf"}));
  EXPECT_EQ(search(*catalog_, "cozy"), (V{"100% Wool Scarf"}));
  EXPECT_EQ(search(*catalog_, "%").size(), docs().size());  // no words: no filter
  EXPECT_EQ(search(*catalog_, "'").size(), docs().size());
  EXPECT_EQ(search(*catalog_, "\\").size(), docs().size());
}

TEST_P(SearchTest, HostileInputNeverFails) {
  for (const auto& q : queries()) {
    EXPECT_NO_THROW(search(*catalog_, q)) << q;
  }
  std::string long_word(300, 'a');
  EXPECT_NO_THROW(search(*catalog_, long_word));
  std::string ten = "a b c d e f g h i j";
  EXPECT_NO_THROW(search(*catalog_, ten));
}

TEST_P(SearchTest, UpdatesAndDeletesReachTheIndex) {
  const auto mug = search(*catalog_, "mug");
  ASSERT_EQ(mug.size(), 1u);
  FieldErrors errors;
  domain::ListQuery query;
  query.tokens = {"mug"};
  const auto product = catalog_->list(query).products.at(0);
  domain::ProductFields rename;
  rename.name = "Tea Cup";
  rename.description = "Porcelain";
  catalog_->update(product.id, rename, {});
  EXPECT_EQ(search(*catalog_, "mug"), std::vector<std::string>{});
  EXPECT_EQ(search(*catalog_, "porcel"), std::vector<std::string>{"Tea Cup"});
  catalog_->remove(product.id);
  EXPECT_EQ(search(*catalog_, "porcel"), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Backends, SearchTest,
                         ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

// The same catalog on both databases answers every query identically.
TEST(SearchParityTest, BothDatabasesAgree) {
  EMPORIUM_REQUIRE_BACKEND(Backend::Postgres);
  TestDatabase sqlite(Backend::Sqlite);
  TestDatabase postgres(Backend::Postgres);
  Catalog a(sqlite.db(), CatalogOptions{});
  Catalog b(postgres.db(), CatalogOptions{});
  for (const auto& [name, description] : docs()) {
    a.create(testing::fields(name, 100, "misc", 1, description));
    b.create(testing::fields(name, 100, "misc", 1, description));
  }
  std::vector<std::string> all = queries();
  for (const auto& [name, description] : docs()) {
    for (const auto& token : domain::tokenize(std::string(name).append(" ").append(description))) {
      all.push_back(token);
      all.push_back(token.substr(0, 1));
      all.push_back(token.substr(0, 2) + " " + token);
    }
  }
  for (const auto& q : all) {
    if (!domain::is_valid_utf8(q)) continue;  // a 400 before any database sees it
    EXPECT_EQ(search(a, q), search(b, q)) << "q=" << q;
  }
}

}  // namespace
}  // namespace emporium::product
