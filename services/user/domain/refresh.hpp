// Refresh-token rotation rules (DESIGN §6), pure: what to do with a presented refresh token.
#pragma once

#include "domain/user.hpp"

#include <cstdint>
#include <optional>

namespace emporium::user::domain {

enum class RefreshAction {
  Reject,  // unknown, expired or revoked: 401
  Rotate,  // first use: mark used, issue a successor in the same family
  Replay,  // a retry within the grace window: hand out the same successor once
  Reuse,   // a rotated token presented again: revoke the whole family, 401
};

RefreshAction decide_refresh(const std::optional<RefreshToken>& token, std::int64_t now_ms,
                             std::int64_t reuse_grace_ms);

}  // namespace emporium::user::domain
