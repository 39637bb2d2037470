// Fixed-window rate limiting, pure arithmetic. The counters themselves live in the database so
// every instance sees them (DESIGN §7); the store reads a WindowState, these functions decide, the
// store writes the result back in the same transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::user::domain {

struct Limit {
  std::int64_t max = 0;       // events allowed per window; 0 blocks nothing (limit disabled)
  std::int64_t window_s = 0;  // window length in seconds
};

struct WindowState {
  std::int64_t window_start_ms = 0;
  std::int64_t count = 0;
};

struct Verdict {
  bool allowed = true;
  std::int64_t retry_after_s = 0;  // > 0 when not allowed: whole seconds until the window ends
};

// A window may start slightly after `now`: parallel attempts read the clock before they queue on
// the counter's row, and instances read their own clocks. Only a start further ahead than this is
// taken for a clock step back, which starts a new window rather than blocking for long.
inline constexpr std::int64_t kClockSkewToleranceMs = 60'000;

// True when `state` belongs to a window that has ended at `now_ms` (or there is none).
bool window_expired(const std::optional<WindowState>& state, const Limit& limit,
                    std::int64_t now_ms);

// May one more event happen now?
Verdict check(const std::optional<WindowState>& state, const Limit& limit, std::int64_t now_ms);

// The state after recording one event now: a new window starting now if the old one ended.
WindowState record(const std::optional<WindowState>& state, const Limit& limit,
                   std::int64_t now_ms);

// Counter keys. The email key is per (email, client address), DESIGN §6.
std::string login_email_key(std::string_view email, std::string_view client_address);
std::string login_addr_key(std::string_view client_address);
std::string register_addr_key(std::string_view client_address);
// Wrong `currentPassword` answers on PUT /me, per user.
std::string password_user_key(std::string_view user_id);

}  // namespace emporium::user::domain
