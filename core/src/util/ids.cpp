// Document ids shaped like MongoDB ObjectIds (DESIGN §5): 4-byte big-endian seconds, 5 random bytes
// drawn once per process, 3-byte counter with a random start. The timestamp prefix keeps ids
// roughly ordered by creation; the random part keeps instances of one service from colliding.
#include "emporium/util/ids.hpp"

#include "emporium/util/crypto.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace emporium {
namespace {

constexpr char kHex[] = "0123456789abcdef";

struct ProcessState {
  std::array<unsigned char, 5> random{};
  std::atomic<std::uint32_t> counter{0};

  ProcessState() {
    const std::string bytes = random_bytes(8);
    for (std::size_t i = 0; i < random.size(); ++i)
      random[i] = static_cast<unsigned char>(bytes[i]);
    counter.store((static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[5])) << 16) |
                  (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[6])) << 8) |
                  static_cast<unsigned char>(bytes[7]));
  }
};

// Function-local static: initialised once, thread-safe, and only when the first id is made.
ProcessState& state() {
  static ProcessState instance;
  return instance;
}

void put_byte(std::string& out, std::size_t& pos, unsigned value) {
  out[pos++] = kHex[(value >> 4) & 0xf];
  out[pos++] = kHex[value & 0xf];
}

}  // namespace

std::string new_object_id() {
  ProcessState& s = state();
  const auto seconds =
      static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  // Only the low 24 bits are used, so wrapping of the 32-bit atomic is harmless.
  const std::uint32_t count = s.counter.fetch_add(1, std::memory_order_relaxed) & 0xffffffu;

  std::string out(24, '0');
  std::size_t pos = 0;
  for (int shift = 24; shift >= 0; shift -= 8) put_byte(out, pos, (seconds >> shift) & 0xffu);
  for (unsigned char b : s.random) put_byte(out, pos, b);
  for (int shift = 16; shift >= 0; shift -= 8) put_byte(out, pos, (count >> shift) & 0xffu);
  return out;
}

bool is_object_id(std::string_view text) {
  if (text.size() != 24) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace emporium
