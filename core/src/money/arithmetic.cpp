// Checked money arithmetic: the overflow builtins compute the exact result and report whether it
// fit, without undefined behaviour on the way.
#include "emporium/money/arithmetic.hpp"

#include <string>

namespace emporium {

std::int64_t line_total(std::int64_t price_minor, std::int64_t quantity) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(price_minor, quantity, &out)) {
    throw MoneyOverflow("money overflow: " + std::to_string(price_minor) + " x " +
                        std::to_string(quantity));
  }
  return out;
}

std::int64_t add_money(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    throw MoneyOverflow("money overflow: " + std::to_string(a) + " + " + std::to_string(b));
  }
  return out;
}

std::int64_t sum_line_totals(std::span<const LineAmount> lines) {
  std::int64_t total = 0;
  for (const LineAmount& line : lines) {
    total = add_money(total, line_total(line.price_minor, line.quantity));
  }
  return total;
}

}  // namespace emporium
