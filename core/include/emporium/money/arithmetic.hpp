// Checked money arithmetic in integer minor units (DESIGN §5: totals are Σ price × quantity).
// Every product and sum is computed with the compiler's overflow builtins, so a total that would
// leave the 64-bit range throws MoneyOverflow instead of wrapping (signed overflow is undefined
// behaviour; a wrapped total would be charged).
//
// Within the caps of DESIGN §5 no overflow is possible: a price ≤ 9,999,999,999 minor units
// (99,999,999.99), a quantity ≤ 1000 per line and at most 100 lines give at most
// 999,999,999,900,000 — far below 2^63 and below 2^53, so price_json prints it exactly. Validated
// input therefore never throws; MoneyOverflow means an input escaped those caps (a bug or a
// corrupted row). It is a std::logic_error, not an HttpError: the App answers it once, as a logged
// 500 whose text never reaches the client, and no wrong total is ever answered or stored.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>

namespace emporium {

// A money computation whose exact result does not fit in std::int64_t.
class MoneyOverflow : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// price_minor × quantity, exact; throws MoneyOverflow when it does not fit.
std::int64_t line_total(std::int64_t price_minor, std::int64_t quantity);

// a + b (minor units), exact; throws MoneyOverflow when it does not fit.
std::int64_t add_money(std::int64_t a, std::int64_t b);

// One line of an order or cart as far as money is concerned.
struct LineAmount {
  std::int64_t price_minor = 0;
  std::int64_t quantity = 0;
};

// Σ price_minor × quantity over `lines`, exact; throws MoneyOverflow when a product or a partial
// sum does not fit. 0 for no lines.
std::int64_t sum_line_totals(std::span<const LineAmount> lines);

}  // namespace emporium
