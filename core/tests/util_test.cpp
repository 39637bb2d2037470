// Ids, time and crypto helpers.
#include "emporium/util/crypto.hpp"
#include "emporium/util/ids.hpp"
#include "emporium/util/text.hpp"
#include "emporium/util/time.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace emporium {
namespace {

TEST(ObjectId, HasTheDocumentedShape) {
  const std::string id = new_object_id();
  EXPECT_EQ(id.size(), 24u);
  EXPECT_TRUE(is_object_id(id));
}

TEST(ObjectId, StartsWithTheCurrentUnixSeconds) {
  const auto before = now_ms() / 1000;
  const std::string id = new_object_id();
  const auto after = now_ms() / 1000;
  const long long seconds = std::strtoll(id.substr(0, 8).c_str(), nullptr, 16);
  EXPECT_GE(seconds, before);
  EXPECT_LE(seconds, after);
}

TEST(ObjectId, IsUniqueAndSharesTheProcessPart) {
  std::set<std::string> seen;
  const std::string first = new_object_id();
  for (int i = 0; i < 10000; ++i) {
    const std::string id = new_object_id();
    EXPECT_TRUE(seen.insert(id).second) << id;
    // The 5 random bytes are drawn once per process.
    EXPECT_EQ(id.substr(8, 10), first.substr(8, 10));
  }
}

TEST(ObjectId, PrefixNeverDecreases) {
  std::string previous = new_object_id();
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_object_id();
    EXPECT_LE(previous.substr(0, 8), id.substr(0, 8));
    previous = id;
  }
}

TEST(ObjectId, CounterIncrementsByOne) {
  const std::string a = new_object_id();
  const std::string b = new_object_id();
  const long ca = std::strtol(a.substr(18).c_str(), nullptr, 16);
  const long cb = std::strtol(b.substr(18).c_str(), nullptr, 16);
  EXPECT_EQ(cb, (ca + 1) & 0xffffff);
}

TEST(ObjectId, RecognisesOnlyLowerCaseHexOfLength24) {
  EXPECT_TRUE(is_object_id("507f1f77bcf86cd799439011"));
  EXPECT_FALSE(is_object_id("507F1F77BCF86CD799439011"));
  EXPECT_FALSE(is_object_id("507f1f77bcf86cd79943901"));
  EXPECT_FALSE(is_object_id("507f1f77bcf86cd7994390111"));
  EXPECT_FALSE(is_object_id("507f1f77bcf86cd79943901g"));
  EXPECT_FALSE(is_object_id(""));
  EXPECT_FALSE(is_object_id(std::string("507f1f77bcf86cd79943901\0", 24)));
}

TEST(Time, FormatsIso8601WithMillisecondsInUtc) {
  EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601(1795544665123), "2026-11-24T18:24:25.123Z");
  EXPECT_EQ(iso8601(951782400007), "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(iso8601(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Time, NowIsTheSystemClock) {
  const auto system = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(std::llabs(now_ms() - system), 1000);
}

TEST(Crypto, RandomBytesHaveTheRequestedLengthAndDiffer) {
  EXPECT_EQ(random_bytes(0).size(), 0u);
  EXPECT_EQ(random_bytes(33).size(), 33u);
  EXPECT_NE(random_bytes(16), random_bytes(16));
}

TEST(Crypto, RandomTokenIsUnpaddedBase64Url) {
  const std::string token = random_token();
  EXPECT_EQ(token.size(), 43u);  // 32 bytes
  std::string decoded;
  ASSERT_TRUE(base64url_decode(token, decoded));
  EXPECT_EQ(decoded.size(), 32u);
  EXPECT_EQ(random_token(16).size(), 22u);
  EXPECT_NE(random_token(), random_token());
}

TEST(Crypto, Base64UrlMatchesRfc4648Vectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  // The URL-safe alphabet: 0xfb 0xff -> "-_8" (standard base64 would give "+/8=").
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Crypto, Base64UrlRoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); ++n) {
    const std::string input = all.substr(all.size() - n);
    std::string output;
    ASSERT_TRUE(base64url_decode(base64url_encode(input), output)) << n;
    EXPECT_EQ(output, input);
  }
}

TEST(Crypto, Base64UrlDecodeRejectsBadInput) {
  std::string out = "untouched";
  EXPECT_FALSE(base64url_decode("Zm9v+", out));  // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9/", out));
  EXPECT_FALSE(base64url_decode("Zg==", out));  // padding
  EXPECT_FALSE(base64url_decode("Zm8=", out));
  EXPECT_FALSE(base64url_decode("Zm9vY", out));  // length 4k+1 is impossible
  EXPECT_FALSE(base64url_decode("Z", out));
  EXPECT_FALSE(base64url_decode("Zm 9v", out));  // whitespace
  EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4), out));
  EXPECT_FALSE(base64url_decode("Zh", out));  // non-zero trailing bits: not canonical
  EXPECT_FALSE(base64url_decode("Zm9", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(base64url_decode("", out));
  EXPECT_TRUE(out.empty());
}

TEST(Crypto, Sha256HexMatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret-token", "secret-token"));
  EXPECT_FALSE(constant_time_equal("secret-token", "secret-tokeN"));
  EXPECT_FALSE(constant_time_equal("Secret-token", "secret-token"));
  EXPECT_FALSE(constant_time_equal("secret", "secret-token"));
  EXPECT_FALSE(constant_time_equal("secret-token", ""));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace emporium

namespace emporium {
namespace {

TEST(Text, ParseCountTakesDigitsOnly) {
  EXPECT_EQ(parse_count("2", 1, 100), 2);
  EXPECT_EQ(parse_count("100", 1, 100), 100);
  EXPECT_EQ(parse_count("101", 1, 100), std::nullopt);
  EXPECT_EQ(parse_count("0", 1, 100), std::nullopt);
  for (const char* bad : {"", "+2", "-2", "2.0", " 2", "2 ", "1e3", "99999999999"}) {
    EXPECT_EQ(parse_count(bad, 0, 1'000'000'000), std::nullopt) << bad;
  }
}

TEST(Text, PercentEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percent_encode("red shirt&x=1/é~._-"), "red%20shirt%26x%3D1%2F%C3%A9~._-");
}

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(Text, ParseQueryDecodesEveryParameter) {
  const ParsedQuery q =
      parse_query("q=red%20shirt&page=2&plus=a+b&q=second&empty=&flag&&%C3%A9=%e2%82%ac");
  EXPECT_FALSE(q.error);
  EXPECT_EQ(q.params, (Params{{"q", "red shirt"},
                              {"page", "2"},
                              {"plus", "a b"},
                              {"q", "second"},
                              {"empty", ""},
                              {"flag", ""},
                              {"\xC3\xA9", "\xE2\x82\xAC"}}));
  // '=' after the first belongs to the value; %25 is a literal percent sign.
  EXPECT_EQ(parse_query("a=b=c&p=100%25").params, (Params{{"a", "b=c"}, {"p", "100%"}}));
  EXPECT_TRUE(parse_query("").params.empty());
  EXPECT_FALSE(parse_query("").error);
}

TEST(Text, ParseQueryNamesTheParameterWithABadEscape) {
  // The bad one is named, whatever comes before or after it: nothing is dropped silently.
  for (const char* text : {"category=x&%zz", "%zz&category=x", "%zz=1", "%zz"}) {
    const ParsedQuery q = parse_query(text);
    ASSERT_TRUE(q.error) << text;
    EXPECT_EQ(q.error->field, "%zz") << text;
    EXPECT_EQ(q.error->message, "has a malformed percent-escape (%zz): write a literal % as %25");
  }
  for (const char* text :
       {"category=%zz", "category=a%2", "category=a%", "category=%%41", "category=%g0"}) {
    const ParsedQuery q = parse_query(text);
    ASSERT_TRUE(q.error) << text;
    EXPECT_EQ(q.error->field, "category") << text;
    EXPECT_TRUE(q.error->message.starts_with("has a malformed percent-escape (%")) << text;
  }
  EXPECT_EQ(parse_query("a=1&b=a%2").error->message,
            "has a malformed percent-escape (%2): write a literal % as %25");
}

TEST(Text, ParseQueryRefusesInvalidUtf8AndNul) {
  for (const char* text :
       {"q=%FF", "q=%C3", "q=%C0%AF", "q=%ED%A0%80", "q=\xff", "q=caf%C3%A9%FF"}) {
    const ParsedQuery q = parse_query(text);
    ASSERT_TRUE(q.error) << text;
    EXPECT_EQ(q.error->field, "q") << text;
    EXPECT_EQ(q.error->message, "must be UTF-8 text (percent-encode its bytes)") << text;
  }
  const ParsedQuery nul = parse_query("limit=5&q=a%00b");
  ASSERT_TRUE(nul.error);
  EXPECT_EQ(nul.error->field, "q");
  EXPECT_EQ(nul.error->message, "must not contain the NUL character (%00)");
  // In a name, the name is given as sent.
  const ParsedQuery bad_name = parse_query("a%FFb=1");
  ASSERT_TRUE(bad_name.error);
  EXPECT_EQ(bad_name.error->field, "a%FFb");
  EXPECT_EQ(bad_name.error->message, "name must be UTF-8 text (percent-encode its bytes)");
  // Valid multi-byte text and a literal "%00" (encoded as %2500) are fine.
  EXPECT_EQ(parse_query("q=%F0%9F%99%82%2500").params, (Params{{"q", "\xF0\x9F\x99\x82%00"}}));
}

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBF\xBD"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("a\xE2\x82"));         // truncated at the end
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xC3\x28"));          // bad continuation
}

}  // namespace
}  // namespace emporium
