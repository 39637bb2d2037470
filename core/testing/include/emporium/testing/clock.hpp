// A clock tests move by hand, in milliseconds since the epoch.
#pragma once

#include <atomic>
#include <cstdint>

namespace emporium::testing {

class FakeClock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now() const { return now_.load(); }
  void advance_ms(std::int64_t ms) { now_ += ms; }
  void advance_s(std::int64_t s) { now_ += s * 1000; }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace emporium::testing
