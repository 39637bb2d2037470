#include "emporium/json/json.hpp"

#include <gtest/gtest.h>

namespace emporium {
namespace {

int status_of(std::string_view text) {
  try {
    parse_json(text);
    return 200;
  } catch (const HttpError& e) {
    return e.status();
  }
}

TEST(Json, ParsesObjects) {
  auto j = parse_json(R"({"a":[1,2,{"b":"c"}]})");
  EXPECT_EQ(j["a"][2]["b"], "c");
}

TEST(Json, MalformedIs400) {
  EXPECT_EQ(status_of("{"), 400);
  EXPECT_EQ(status_of("{\"a\":}"), 400);
  EXPECT_EQ(status_of(""), 400);
}

TEST(Json, DepthLimit) {
  std::string ok(kMaxJsonDepth, '['), ok_close(kMaxJsonDepth, ']');
  EXPECT_EQ(status_of(ok + ok_close), 200);
  std::string deep(kMaxJsonDepth + 1, '['), deep_close(kMaxJsonDepth + 1, ']');
  EXPECT_EQ(status_of(deep + deep_close), 400);
  std::string huge(100000, '[');
  EXPECT_EQ(status_of(huge), 400);
}

TEST(Json, InvalidUtf8Is400) {
  EXPECT_EQ(status_of("{\"a\":\"\xff\xfe\"}"), 400);
  EXPECT_EQ(status_of("{\"a\":\"\xc3\"}"), 400);
}

TEST(Json, NulInStringsIs400) {
  EXPECT_EQ(status_of(R"({"a":"x\u0000y"})"), 400);
  EXPECT_EQ(status_of(R"({"a\u0000":1})"), 400);
  EXPECT_EQ(status_of(R"({"a":["ok","\u0000"]})"), 400);
}

TEST(Json, DumpReplacesInvalidUtf8InsteadOfThrowing) {
  Json j = {{"a", std::string("x\xffy")}};
  std::string out;
  EXPECT_NO_THROW(out = dump_json(j));
  EXPECT_NE(out.find("x\xEF\xBF\xBDy"), std::string::npos);
}

TEST(Json, IntegersAcceptWholeFloatsAndRefuseStrings) {
  FieldErrors errors;
  auto body = parse_json(R"({"a":2.0,"b":"2","c":2.5,"d":7})");
  EXPECT_EQ(read_integer(body, "a", errors, 1, 10), 2);
  EXPECT_EQ(read_integer(body, "b", errors, 1, 10), std::nullopt);
  EXPECT_EQ(read_integer(body, "c", errors, 1, 10), std::nullopt);
  EXPECT_EQ(read_integer(body, "d", errors, 1, 5), std::nullopt);
  EXPECT_EQ(read_integer(body, "missing", errors, 1, 5), std::nullopt);
  ASSERT_EQ(errors.list().size(), 3u);
  EXPECT_EQ(errors.list()[0].field, "b");
  EXPECT_EQ(errors.list()[2].message, "must be at most 5");
}

TEST(Json, NumberBeyondDoubleRangeIs400) {
  EXPECT_EQ(status_of(R"({"price":1e400})"), 400);
  EXPECT_EQ(status_of(R"({"a":[-1e999]})"), 400);
}

TEST(Json, StringsCheckTypeAndLength) {
  FieldErrors errors;
  auto body = parse_json(R"({"a":"","b":5,"c":"abc"})");
  EXPECT_EQ(read_string(body, "a", errors, 1, 10), std::nullopt);
  EXPECT_EQ(read_string(body, "b", errors, 1, 10), std::nullopt);
  EXPECT_EQ(read_string(body, "c", errors, 1, 2), std::nullopt);
  EXPECT_EQ(read_string(body, "c", errors, 1, 3), "abc");
  EXPECT_EQ(errors.list().size(), 3u);
}

}  // namespace
}  // namespace emporium
