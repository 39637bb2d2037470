// Time helpers: everything is UTC; timestamps are computed in C++, never in SQL.
#pragma once

#include <cstdint>
#include <string>

namespace emporium {

// Milliseconds since the Unix epoch (system clock).
std::int64_t now_ms();
// ISO 8601 with milliseconds: 2026-11-24T18:24:25.123Z
std::string iso8601(std::int64_t epoch_ms);

}  // namespace emporium
