#include "domain/rate_limit.hpp"

#include <gtest/gtest.h>

namespace emporium::user::domain {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

TEST(RateLimit, NoStateIsAllowedAndStartsAWindow) {
  const Limit limit{3, 60};
  EXPECT_TRUE(check(std::nullopt, limit, kT0).allowed);
  const WindowState first = record(std::nullopt, limit, kT0);
  EXPECT_EQ(first.window_start_ms, kT0);
  EXPECT_EQ(first.count, 1);
}

TEST(RateLimit, BlocksAtTheLimitUntilTheWindowEnds) {
  const Limit limit{3, 60};
  std::optional<WindowState> state;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(check(state, limit, kT0 + i * 1000LL).allowed);
    state = record(state, limit, kT0 + i * 1000LL);
  }
  EXPECT_EQ(state->count, 3);
  EXPECT_EQ(state->window_start_ms, kT0);  // fixed window: later events do not move it

  const Verdict blocked = check(state, limit, kT0 + 10'000);
  EXPECT_FALSE(blocked.allowed);
  EXPECT_EQ(blocked.retry_after_s, 50);

  const Verdict last_ms = check(state, limit, kT0 + 59'999);
  EXPECT_FALSE(last_ms.allowed);
  EXPECT_EQ(last_ms.retry_after_s, 1);  // rounded up, never 0

  EXPECT_TRUE(check(state, limit, kT0 + 60'000).allowed);
  const WindowState next = record(state, limit, kT0 + 60'000);
  EXPECT_EQ(next.window_start_ms, kT0 + 60'000);
  EXPECT_EQ(next.count, 1);
}

TEST(RateLimit, RetryAfterRoundsUp) {
  const Limit limit{1, 900};
  const WindowState state{kT0, 1};
  EXPECT_EQ(check(state, limit, kT0 + 1).retry_after_s, 900);
  EXPECT_EQ(check(state, limit, kT0 + 1000).retry_after_s, 899);
  EXPECT_EQ(check(state, limit, kT0 + 1001).retry_after_s, 899);
}

TEST(RateLimit, ZeroMaxDisablesTheLimit) {
  const Limit limit{0, 60};
  EXPECT_TRUE(check(WindowState{kT0, 1'000'000}, limit, kT0 + 1).allowed);
}

TEST(RateLimit, AWindowStartedMomentsLaterIsTheCurrentOne) {
  // Parallel attempts read the clock before they queue; another may have started the window.
  const Limit limit{1, 60};
  const WindowState state{kT0 + 2'000, 1};
  EXPECT_FALSE(window_expired(state, limit, kT0));
  EXPECT_FALSE(check(state, limit, kT0).allowed);
  EXPECT_EQ(check(state, limit, kT0).retry_after_s, 62);
}

TEST(RateLimit, AWindowFromTheFutureStartsOver) {
  const Limit limit{1, 60};
  const WindowState state{kT0 + 3'600'000, 5};
  EXPECT_TRUE(window_expired(state, limit, kT0));
  EXPECT_TRUE(check(state, limit, kT0).allowed);
  EXPECT_EQ(record(state, limit, kT0).window_start_ms, kT0);
}

TEST(RateLimit, Keys) {
  EXPECT_EQ(login_email_key("a@b.co", "10.0.0.1"), "login:email:a@b.co|10.0.0.1");
  EXPECT_EQ(login_addr_key("10.0.0.1"), "login:addr:10.0.0.1");
  EXPECT_EQ(register_addr_key("::1"), "register:addr:::1");
  const std::string long_email(1000, 'x');
  const std::string key = login_email_key(long_email, "1.2.3.4");
  EXPECT_LT(key.size(), 120U);
  EXPECT_NE(key, login_email_key(std::string(1001, 'x'), "1.2.3.4"));
}

}  // namespace
}  // namespace emporium::user::domain
