#include "emporium/error/errors.hpp"

#include <gtest/gtest.h>

namespace emporium {
namespace {

TEST(Errors, FieldErrorsCollectsEveryFieldThenThrowsOne400) {
  FieldErrors errors;
  EXPECT_NO_THROW(errors.throw_if_any());
  errors.add("name", "must not be empty");
  errors.add("items[2].quantity", "must be at least 1");
  try {
    errors.throw_if_any();
    FAIL() << "expected a throw";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "validation_failed");
    ASSERT_EQ(e.errors().size(), 2u);
    EXPECT_EQ(e.errors()[1].field, "items[2].quantity");
    EXPECT_EQ(e.detail(), "name: must not be empty (and 1 more)");
  }
}

TEST(Errors, DetailDoesNotRepeatAFieldNameTheMessageAlreadyHas) {
  FieldErrors errors;
  errors.add("email", "email must be a valid address");
  try {
    errors.throw_if_any();
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.detail(), "email must be a valid address");
  }
}

TEST(Errors, RetryAfterIsAtLeastOneSecond) {
  auto e = too_many_requests("slow down", 0);
  ASSERT_EQ(e.headers().size(), 1u);
  EXPECT_EQ(e.headers()[0].first, "Retry-After");
  EXPECT_EQ(e.headers()[0].second, "1");
  EXPECT_EQ(service_unavailable("busy", 7).headers()[0].second, "7");
}

TEST(Errors, MethodNotAllowedCarriesAllow) {
  auto e = method_not_allowed("GET, PUT");
  EXPECT_EQ(e.status(), 405);
  EXPECT_EQ(e.headers()[0].second, "GET, PUT");
}

}  // namespace
}  // namespace emporium
