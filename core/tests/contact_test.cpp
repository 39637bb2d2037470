// Contact checks shared by user-service and notification-service: email syntax and E.164 phones.
#include "emporium/util/contact.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium {
namespace {

TEST(Contact, AcceptsOrdinaryAddresses) {
  for (const char* email : {"a@b.co", "alice@example.com", "first.last+tag@sub.example.org",
                            "o'brien@example.ie", "x_y-z@a-b.example", "1@2.example"}) {
    EXPECT_TRUE(is_valid_email(email)) << email;
    EXPECT_FALSE(check_email(email)) << email;
  }
}

TEST(Contact, RejectsMalformedAddresses) {
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

TEST(Contact, EmailLengthLimits) {
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

TEST(Contact, E164Phones) {
  for (const char* phone : {"+12", "+14155552671", "+442071838750", "+123456789012345"}) {
    EXPECT_TRUE(is_valid_phone(phone)) << phone;
  }
  for (const char* phone : {"", "+", "+1", "14155552671", "+04155552671", "+1234567890123456",
                            "+1 415 555 2671", "+1-415", "++14155552671", "+1415555267a"}) {
    EXPECT_FALSE(is_valid_phone(phone)) << phone;
    EXPECT_TRUE(check_phone(phone)) << phone;
  }
}

TEST(Contact, HeaderBreakingCharactersAreNeverValid) {
  // notification-service puts a valid address in a mail header: CR, LF and spaces must not pass.
  EXPECT_FALSE(is_valid_email("alice@example.com\r\nBcc: eve@example.com"));
  EXPECT_FALSE(is_valid_email("alice@example.com\r"));
  EXPECT_FALSE(is_valid_email("<alice@example.com>"));
  EXPECT_FALSE(is_valid_phone("+14155552671\n"));
}

}  // namespace
}  // namespace emporium
