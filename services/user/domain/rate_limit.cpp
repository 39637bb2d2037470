#include "domain/rate_limit.hpp"

#include "domain/validation.hpp"

#include <emporium/util/crypto.hpp>

namespace emporium::user::domain {
namespace {

// Keys stay short whatever a client sends as the login email.
std::string bounded(std::string_view text) {
  if (text.size() <= kMaxEmailBytes) return std::string(text);
  return "sha256:" + sha256_hex(text);
}

}  // namespace

bool window_expired(const std::optional<WindowState>& state, const Limit& limit,
                    std::int64_t now_ms) {
  if (!state) return true;
  // A window start well in the future means a clock step back: start over rather than block.
  if (state->window_start_ms > now_ms + kClockSkewToleranceMs) return true;
  return now_ms - state->window_start_ms >= limit.window_s * 1000;
}

Verdict check(const std::optional<WindowState>& state, const Limit& limit, std::int64_t now_ms) {
  if (limit.max <= 0 || window_expired(state, limit, now_ms)) return {};
  if (state->count < limit.max) return {};
  const std::int64_t end_ms = state->window_start_ms + limit.window_s * 1000;
  const std::int64_t remaining_ms = end_ms - now_ms;
  std::int64_t seconds = (remaining_ms + 999) / 1000;
  if (seconds < 1) seconds = 1;
  return {false, seconds};
}

WindowState record(const std::optional<WindowState>& state, const Limit& limit,
                   std::int64_t now_ms) {
  if (window_expired(state, limit, now_ms)) return {now_ms, 1};
  return {state->window_start_ms, state->count + 1};
}

std::string login_email_key(std::string_view email, std::string_view client_address) {
  return "login:email:" + bounded(email) + "|" + std::string(client_address);
}

std::string login_addr_key(std::string_view client_address) {
  return "login:addr:" + std::string(client_address);
}

std::string register_addr_key(std::string_view client_address) {
  return "register:addr:" + std::string(client_address);
}

std::string password_user_key(std::string_view user_id) {
  return "password:user:" + bounded(user_id);
}

}  // namespace emporium::user::domain
