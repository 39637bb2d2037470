#include "domain/refresh.hpp"

namespace emporium::user::domain {

RefreshAction decide_refresh(const std::optional<RefreshToken>& token, std::int64_t now_ms,
                             std::int64_t reuse_grace_ms) {
  if (!token || token->revoked_at_ms || token->expires_at_ms <= now_ms) {
    return RefreshAction::Reject;
  }
  if (!token->used_at_ms) return RefreshAction::Rotate;
  const bool within_grace = now_ms - *token->used_at_ms <= reuse_grace_ms;
  if (within_grace && token->successor_sealed) return RefreshAction::Replay;
  return RefreshAction::Reuse;
}

}  // namespace emporium::user::domain
