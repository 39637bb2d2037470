// The pure cart rules: subtotal in cents, pricing with availability and stale marking. (The store
// currency's money rules are core's: core/tests/money_test.cpp.)
#include "domain/cart.hpp"

#include <emporium/money/arithmetic.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace emporium::cart::domain {
namespace {

const std::string id_a = "aaaaaaaaaaaaaaaaaaaaaaaa";
const std::string id_b = "bbbbbbbbbbbbbbbbbbbbbbbb";
const std::string id_c = "cccccccccccccccccccccccc";

Cart sample_cart() {
  Cart cart;
  cart.id = "0123456789abcdef01234567";
  cart.user_id = "76543210fedcba9876543210";
  cart.updated_at_ms = 1'700'000'000'123;
  cart.version = 4;
  cart.lines = {{id_a, 2, "Mug", 1999}, {id_b, 1, "Shirt", 2500}, {id_c, 3, "Pen", 105}};
  return cart;
}

TEST(Subtotal, SumsAvailableLinesInCents) {
  std::vector<PricedLine> lines = {{id_a, 3, "a", 1999, true},  // 0.1 + 0.2 style sums stay exact
                                   {id_b, 7, "b", 10, true},
                                   {id_c, 2, "c", 100000, false}};
  EXPECT_EQ(subtotal(lines), 3 * 1999 + 70);
  EXPECT_EQ(subtotal({}), 0);
}

TEST(Subtotal, LargestCartDoesNotOverflow) {
  std::vector<PricedLine> lines(kMaxLines,
                                PricedLine{id_a, kMaxLineQuantity, "x", 9'999'999'999, true});
  EXPECT_EQ(subtotal(lines), 9'999'999'999LL * kMaxLineQuantity * kMaxLines);
}

// A line beyond the caps (a corrupted snapshot, another service's bug) must not wrap into a
// plausible subtotal: the checked arithmetic throws. An unavailable line is not counted at all.
TEST(Subtotal, OverflowThrowsInsteadOfWrapping) {
  const std::int64_t huge = std::numeric_limits<std::int64_t>::max() / 2 + 1;
  EXPECT_THROW(subtotal({{id_a, 2, "a", huge, true}}), MoneyOverflow);
  EXPECT_THROW(subtotal({{id_a, 1, "a", huge, true}, {id_b, 1, "b", huge, true}}), MoneyOverflow);
  EXPECT_EQ(subtotal({{id_a, 1, "a", 5, true}, {id_b, 2, "b", huge, false}}), 5);
}

TEST(PriceCart, CurrentPricesAndNamesReplaceTheSnapshot) {
  const Cart cart = sample_cart();
  const PricedCart priced = price_cart(
      cart, std::vector<Product>{
                {id_c, "Pen v2", 120, 5}, {id_a, "Mug", 2199, 10}, {id_b, "Shirt", 2500, 1}});
  EXPECT_FALSE(priced.stale);
  ASSERT_EQ(priced.lines.size(), 3U);
  EXPECT_EQ(priced.lines[0].product_id, id_a);  // the cart's order, not the catalog's
  EXPECT_EQ(priced.lines[0].price, 2199);
  EXPECT_EQ(priced.lines[2].name, "Pen v2");
  EXPECT_EQ(priced.lines[2].price, 120);
  for (const auto& line : priced.lines) EXPECT_TRUE(line.available);
  EXPECT_EQ(priced.subtotal, 2 * 2199 + 2500 + 3 * 120);
  EXPECT_EQ(priced.id, cart.id);
  EXPECT_EQ(priced.user_id, cart.user_id);
  EXPECT_EQ(priced.version, 4);
  EXPECT_EQ(priced.updated_at_ms, cart.updated_at_ms);
}

TEST(PriceCart, DeletedAndSoldOutLinesAreUnavailableAndLeaveTheSubtotal) {
  const PricedCart priced = price_cart(
      sample_cart(), std::vector<Product>{{id_b, "Shirt", 3000, 0}, {id_c, "Pen", 105, 9}});
  ASSERT_EQ(priced.lines.size(), 3U);
  // id_a was deleted: snapshot name and price, unavailable.
  EXPECT_FALSE(priced.lines[0].available);
  EXPECT_EQ(priced.lines[0].name, "Mug");
  EXPECT_EQ(priced.lines[0].price, 1999);
  // id_b is sold out: current price, unavailable.
  EXPECT_FALSE(priced.lines[1].available);
  EXPECT_EQ(priced.lines[1].price, 3000);
  EXPECT_TRUE(priced.lines[2].available);
  EXPECT_EQ(priced.subtotal, 3 * 105);
  EXPECT_FALSE(priced.stale);
}

TEST(PriceCart, UnavailableCatalogMeansStoredPricesAndStale) {
  const PricedCart priced = price_cart(sample_cart(), std::nullopt);
  EXPECT_TRUE(priced.stale);
  ASSERT_EQ(priced.lines.size(), 3U);
  EXPECT_EQ(priced.lines[0].price, 1999);
  EXPECT_EQ(priced.lines[1].name, "Shirt");
  for (const auto& line : priced.lines) EXPECT_TRUE(line.available);
  EXPECT_EQ(priced.subtotal, 2 * 1999 + 2500 + 3 * 105);
}

TEST(PriceCart, EmptyCart) {
  Cart cart = sample_cart();
  cart.lines.clear();
  const PricedCart priced = price_cart(cart, std::vector<Product>{});
  EXPECT_TRUE(priced.lines.empty());
  EXPECT_EQ(priced.subtotal, 0);
  EXPECT_FALSE(priced.stale);
}

}  // namespace
}  // namespace emporium::cart::domain
