// Strong entity tags and the RFC 9110 conditional checks (product and order documents).
#include "emporium/http/etag.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium::http {
namespace {

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

}  // namespace
}  // namespace emporium::http
