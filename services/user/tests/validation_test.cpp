#include "domain/validation.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium::user::domain {
namespace {

TEST(Validation, LowerAsciiLeavesNonAsciiBytes) {
  EXPECT_EQ(lower_ascii("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(lower_ascii("\xC3\x89MILE"), "\xC3\x89mile");  // É is not ASCII: kept
}

TEST(Validation, NamesCountCharactersNotBytes) {
  EXPECT_FALSE(check_name("A"));
  EXPECT_FALSE(check_name(std::string(100, 'x')));
  EXPECT_EQ(*check_name(std::string(101, 'x')), "name must be at most 100 characters");
  std::string hundred_e_acute;
  for (int i = 0; i < 100; ++i) hundred_e_acute += "\xC3\xA9";  // 200 bytes, 100 characters
  EXPECT_FALSE(check_name(hundred_e_acute));
  EXPECT_EQ(*check_name(""), "name must not be empty");
  EXPECT_EQ(*check_name("a\x01"
                        "b"),
            "name must not contain control characters");
}

TEST(Validation, NamesAreTrimmed) {
  EXPECT_EQ(trim_name("  Ada Lovelace \t"), "Ada Lovelace");
  EXPECT_EQ(trim_name("   "), "");
  EXPECT_TRUE(check_name(trim_name("   ")));
}

TEST(Validation, PasswordBounds) {
  EXPECT_EQ(*check_password("1234567"), "password must be at least 8 characters");
  EXPECT_FALSE(check_password("12345678"));
  EXPECT_FALSE(check_password(std::string(1024, 'p')));
  EXPECT_EQ(*check_password(std::string(1025, 'p')), "password must be at most 1024 bytes");
}

TEST(Validation, Roles) {
  EXPECT_TRUE(is_valid_role("customer"));
  EXPECT_TRUE(is_valid_role("admin"));
  EXPECT_FALSE(is_valid_role("Admin"));
  EXPECT_FALSE(is_valid_role("internal"));
  EXPECT_EQ(*check_role("root"), "role must be one of: customer, admin");
}

}  // namespace
}  // namespace emporium::user::domain
