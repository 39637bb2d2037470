#include "domain/refresh.hpp"

#include <gtest/gtest.h>

namespace emporium::user::domain {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kGrace = 10'000;

RefreshToken fresh() {
  RefreshToken token;
  token.token_hash = "h";
  token.family_id = "f";
  token.user_id = "u";
  token.issued_at_ms = kT0;
  token.expires_at_ms = kT0 + 30LL * 24 * 3600 * 1000;
  return token;
}

TEST(Refresh, UnknownExpiredAndRevokedAreRejected) {
  EXPECT_EQ(decide_refresh(std::nullopt, kT0, kGrace), RefreshAction::Reject);
  RefreshToken expired = fresh();
  EXPECT_EQ(decide_refresh(expired, expired.expires_at_ms, kGrace), RefreshAction::Reject);
  RefreshToken revoked = fresh();
  revoked.revoked_at_ms = kT0 + 1;
  EXPECT_EQ(decide_refresh(revoked, kT0 + 2, kGrace), RefreshAction::Reject);
  // A revoked token is rejected even inside the grace window with a successor on record.
  revoked.used_at_ms = kT0 + 1;
  revoked.successor_sealed = "s";
  EXPECT_EQ(decide_refresh(revoked, kT0 + 2, kGrace), RefreshAction::Reject);
}

TEST(Refresh, FirstUseRotates) {
  EXPECT_EQ(decide_refresh(fresh(), kT0 + 1, kGrace), RefreshAction::Rotate);
}

TEST(Refresh, RetryWithinGraceReplaysOnce) {
  RefreshToken used = fresh();
  used.used_at_ms = kT0 + 1000;
  used.successor_sealed = "sealed";
  EXPECT_EQ(decide_refresh(used, kT0 + 1000 + kGrace, kGrace), RefreshAction::Replay);
  used.successor_sealed.reset();  // the replay clears it
  EXPECT_EQ(decide_refresh(used, kT0 + 2000, kGrace), RefreshAction::Reuse);
}

TEST(Refresh, UseAfterGraceIsReuse) {
  RefreshToken used = fresh();
  used.used_at_ms = kT0;
  used.successor_sealed = "sealed";
  EXPECT_EQ(decide_refresh(used, kT0 + kGrace + 1, kGrace), RefreshAction::Reuse);
}

TEST(Refresh, ZeroGraceMeansAnyReuseRevokes) {
  RefreshToken used = fresh();
  used.used_at_ms = kT0;
  used.successor_sealed = "sealed";
  EXPECT_EQ(decide_refresh(used, kT0 + 1, 0), RefreshAction::Reuse);
}

}  // namespace
}  // namespace emporium::user::domain
