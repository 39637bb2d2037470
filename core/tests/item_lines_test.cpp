#include "emporium/json/item_lines.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium {
namespace {

const std::string kA = "aaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kB = "bbbbbbbbbbbbbbbbbbbbbbbb";

std::vector<std::string> fields(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors.list()) out.push_back(e.field);
  return out;
}

TEST(ItemLines, MergesPerProductSortedById) {
  FieldErrors errors;
  const auto lines = read_item_lines(
      Json::parse(R"({"items":[{"productId":")" + kB + R"(","quantity":2},{"productId":")" + kA +
                  R"(","quantity":1},{"productId":")" + kB + R"(","quantity":3}]})"),
      errors);
  ASSERT_TRUE(lines) << errors.list().front().message;
  EXPECT_EQ(*lines, (std::vector<ItemLine>{{kA, 1}, {kB, 5}}));
}

TEST(ItemLines, RecordsEveryProblemUnderItsPath) {
  FieldErrors errors;
  const auto lines = read_item_lines(
      Json::parse(R"({"items":[{"productId":"nope","quantity":0},7,{"productId":")" + kA +
                  R"(","quantity":1.5},{"productId":")" + kA + R"("}]})"),
      errors);
  EXPECT_FALSE(lines);
  EXPECT_EQ(fields(errors),
            (std::vector<std::string>{"items[0].productId", "items[0].quantity", "items[1]",
                                      "items[2].quantity", "items[3].quantity"}));
}

TEST(ItemLines, RefusesAbsentEmptyAndTooManyLines) {
  for (const char* body : {R"({})", R"({"items":null})", R"({"items":[]})", R"({"items":{}})"}) {
    FieldErrors errors;
    EXPECT_FALSE(read_item_lines(Json::parse(body), errors)) << body;
    EXPECT_EQ(fields(errors), std::vector<std::string>{"items"}) << body;
  }
  Json many = Json::object();
  many["items"] = Json::array();
  for (int i = 0; i < 3; ++i) many["items"].push_back({{"productId", kA}, {"quantity", 1}});
  FieldErrors errors;
  EXPECT_FALSE(read_item_lines(many, errors, {.max_lines = 2}));
  EXPECT_EQ(fields(errors), std::vector<std::string>{"items"});
}

TEST(ItemLines, CapsTheMergedQuantityWhenAsked) {
  const Json body =
      Json::parse(R"({"items":[{"productId":")" + kA + R"(","quantity":600},{"productId":")" + kA +
                  R"(","quantity":600}]})");
  FieldErrors uncapped;
  const auto merged = read_item_lines(body, uncapped);
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->front().quantity, 1200);

  FieldErrors capped;
  EXPECT_FALSE(read_item_lines(body, capped, {.cap_merged = true}));
  ASSERT_EQ(fields(capped), std::vector<std::string>{"items"});
  EXPECT_NE(capped.list().front().message.find(kA), std::string::npos);
}

}  // namespace
}  // namespace emporium
