#include "emporium/json/json.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

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

// The problem detail a client would read, or "ok".
std::string detail_of(std::string_view text) {
  try {
    parse_json(text);
    return "ok";
  } catch (const HttpError& e) {
    return e.detail();
  }
}

const std::string kTooDeep = "JSON is nested deeper than 32 levels";
const std::string kNul = "JSON strings must not contain the NUL character (\\u0000)";

std::string nested(int levels, std::string_view open, std::string_view inner,
                   std::string_view close) {
  std::string out;
  for (int i = 0; i < levels; ++i) out += open;
  out += inner;
  for (int i = 0; i < levels; ++i) out += close;
  return out;
}

// Seconds parse_json takes on `text` (the document is freed outside the measured time).
double seconds_to_parse(const std::string& text, Json& out) {
  const auto start = std::chrono::steady_clock::now();
  out = parse_json(text);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A bound on a hang, not a speed test: generous for a release build, and more so unoptimised with
// sanitizers on a busy machine (a linear parse of 1 MiB takes ~0.05 s and ~2-5 s respectively).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kHangBoundSeconds = 30.0;
#else
constexpr double kHangBoundSeconds = 5.0;
#endif

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

TEST(Json, DepthIsCountedAcrossArraysAndObjects) {
  // 32 containers in all is the limit, whatever mix of [ and { makes them.
  EXPECT_EQ(detail_of(nested(16, "{\"a\":[", "1", "]}")), "ok");
  EXPECT_EQ(detail_of(nested(16, "{\"a\":[", "{}", "]}")), kTooDeep);
  EXPECT_EQ(detail_of(nested(32, "{\"a\":", "1", "}")), "ok");
  EXPECT_EQ(detail_of(nested(33, "{\"a\":", "1", "}")), kTooDeep);
  EXPECT_EQ(detail_of(nested(32, "[", "", "]")), "ok");
  EXPECT_EQ(detail_of(nested(33, "[", "", "]")), kTooDeep);
  // Depth comes back down: many siblings at depth 32 are fine.
  EXPECT_EQ(detail_of(nested(31, "[", "[],[],[],[]", "]")), "ok");
}

TEST(Json, BracketsInsideStringsDoNotCount) {
  const std::string brackets(100, '[');
  EXPECT_EQ(detail_of("{\"a\":\"" + brackets + "\"}"), "ok");
  EXPECT_EQ(detail_of("{\"" + brackets + "\":\"" + std::string(100, '{') + "\"}"), "ok");
  // An escaped quote does not end the string ...
  EXPECT_EQ(detail_of("{\"a\":\"\\\"" + brackets + "\"}"), "ok");
  // ... an escaped backslash does not escape the quote after it.
  EXPECT_EQ(detail_of("[\"\\\\\"," + nested(32, "[", "", "]") + "]"), kTooDeep);
  EXPECT_EQ(detail_of("[\"\\\\\"," + nested(31, "[", "", "]") + "]"), "ok");
  // Closers inside strings do not lower the depth either.
  EXPECT_EQ(detail_of(nested(32, "[", "\"]]]]]]]]\",[]", "]")), kTooDeep);
}

TEST(Json, NulEscapesAndRawNul) {
  EXPECT_EQ(detail_of(R"({"a":"x\u0000y"})"), kNul);
  // An escaped backslash followed by the text u0000 is not a NUL.
  const auto literal = parse_json(R"({"a":"x\\u0000y"})");
  EXPECT_EQ(literal["a"], "x\\u0000y");
  EXPECT_EQ(detail_of(R"({"a":"\\\u0000"})"), kNul);
  // Other \u escapes near it are fine.
  EXPECT_EQ(parse_json(R"(["\u0041\u00e9\u0001"])")[0], "A\xC3\xA9\x01");
  EXPECT_EQ(detail_of(R"(["\u000"])").rfind("Malformed JSON", 0), 0u);
  // A raw NUL byte inside a string is named; outside one it is malformed JSON.
  EXPECT_EQ(detail_of(std::string("{\"a\":\"x\0y\"}", 11)), kNul);
  EXPECT_EQ(detail_of(std::string("{\"a\":1\0}", 8)).rfind("Malformed JSON", 0), 0u);
}

TEST(Json, MalformedKeepsItsMessages) {
  EXPECT_EQ(detail_of("{\"a\":}"), "Malformed JSON at byte 6");
  EXPECT_EQ(detail_of("{\"a\":\"\xff\"}"), "Request body is not valid UTF-8");
  EXPECT_EQ(detail_of("[1e400]"), "A number in the JSON body is out of range");
  // Unbalanced closers do not confuse the depth count.
  EXPECT_EQ(detail_of("]]]]" + nested(32, "[", "", "]")).rfind("Malformed JSON", 0), 0u);
}

// The callback parser held a worker ~57 s (release build) on each of these 1 MiB bodies: its
// end_object re-scanned the parent, quadratic in the number of siblings.
TEST(Json, OneMebibyteOfEmptyContainersParsesWithoutHanging) {
  constexpr std::size_t kSize = 1024 * 1024;
  std::string array = "{\"a\":[{}";
  std::size_t elements = 1;
  for (; array.size() < kSize - 8; ++elements) array += ",{}";
  array += "]}";
  std::string keys = "{";
  for (int i = 0; keys.size() < kSize - 16; ++i) keys += "\"k" + std::to_string(i) + "\":{},";
  keys += "\"end\":{}}";

  Json from_array, from_keys;
  EXPECT_LT(seconds_to_parse(array, from_array), kHangBoundSeconds);
  EXPECT_EQ(from_array["a"].size(), elements);
  EXPECT_LT(seconds_to_parse(keys, from_keys), kHangBoundSeconds);
  EXPECT_TRUE(from_keys.contains("end"));
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
