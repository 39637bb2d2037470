// UTC time helpers (DESIGN §5): timestamps are produced here, never by the database, so SQLite and
// PostgreSQL store identical text.
#include "emporium/util/time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace emporium {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso8601(std::int64_t epoch_ms) {
  // Floor division so times before 1970 still get a millisecond part in [0, 999].
  std::int64_t seconds = epoch_ms / 1000;
  std::int64_t millis = epoch_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);  // reentrant: std::gmtime shares a static buffer between threads
  char buf[96];       // room for any int year, so -Wformat-truncation stays quiet
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(millis));
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

}  // namespace emporium
