#include "domain/validation.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium::user::domain {
namespace {

TEST(Validation, LowerAsciiLeavesNonAsciiBytes) {
  EXPECT_EQ(lower_ascii("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(lower_ascii("\xC3\x89MILE"), "\xC3\x89mile");  // É is not ASCII: kept
}

TEST(Validation, AcceptsOrdinaryAddresses) {
  for (const char* email : {"a@b.co", "alice@example.com", "first.last+tag@sub.example.org",
                            "o'brien@example.ie", "x_y-z@a-b.example", "1@2.example"}) {
    EXPECT_TRUE(is_valid_email(email)) << email;
    EXPECT_FALSE(check_email(email)) << email;
  }
}

TEST(Validation, RejectsMalformedAddresses) {
  for (const char* email : {"",
                            "plain",
                            "@example.com",
                            "alice@",
                            "alice@example",
                            "alice@@example.com",
                            "alice@exa mple.com",
                            ".alice@example.com",
                            "alice.@example.com",
                            "al..ice@example.com",
                            "alice@-example.com",
                            "alice@example-.com",
                            "alice@example..com",
                            "alice@.example.com",
                            "alice@example.com.",
                            "alice@127.0.0.1",
                            "al ice@example.com",
                            "alice@ex_ample.com",
                            "\xC3\xA9@example.com",
                            "alice@example.com\n",
                            "\"quoted\"@example.com"}) {
    EXPECT_FALSE(is_valid_email(email)) << email;
    EXPECT_TRUE(check_email(email)) << email;
  }
}

TEST(Validation, EmailLengthLimits) {
  const std::string local64(64, 'a');
  EXPECT_TRUE(is_valid_email(local64 + "@example.com"));
  EXPECT_FALSE(is_valid_email(local64 + "a@example.com"));

  std::string domain;
  while (domain.size() < 260) domain += std::string(60, 'd') + ".";
  domain += "com";
  const std::string too_long = "a@" + domain;
  ASSERT_GT(too_long.size(), kMaxEmailBytes);
  EXPECT_FALSE(is_valid_email(too_long));
  EXPECT_EQ(*check_email(too_long), "email must be at most 254 characters");
  EXPECT_EQ(*check_email("nope"), "email must be a valid address");
  EXPECT_EQ(*check_email(""), "email is required");
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

TEST(Validation, E164Phones) {
  for (const char* phone : {"+12", "+14155552671", "+442071838750", "+123456789012345"}) {
    EXPECT_TRUE(is_valid_phone(phone)) << phone;
  }
  for (const char* phone : {"", "+", "+1", "14155552671", "+04155552671", "+1234567890123456",
                            "+1 415 555 2671", "+1-415", "++14155552671", "+1415555267a"}) {
    EXPECT_FALSE(is_valid_phone(phone)) << phone;
    EXPECT_TRUE(check_phone(phone)) << phone;
  }
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
