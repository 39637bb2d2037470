// The order and its life (DESIGN §12), pure: statuses, the transition table, the order document's
// values. No I/O; store/ persists these, orders.cpp decides with them.
#pragma once

#include <emporium/error/errors.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::order::domain {

inline constexpr std::size_t kMaxLines = 100;
inline constexpr std::int64_t kMaxLineQuantity = 1000;

enum class Status { Pending, Paid, Shipped, Delivered, Cancelled, PaymentFailed, Expired };

std::string_view status_name(Status status);  // "Pending", "PaymentFailed", …
std::optional<Status> parse_status(std::string_view text);
// "Pending, Paid, …": for messages naming the statuses a client may send.
std::string status_list();

// The transition table:
//   Pending       → Paid, Cancelled, PaymentFailed, Expired
//   PaymentFailed → Pending (a new payment attempt), Cancelled, Expired
//   Paid          → Shipped, Cancelled (with a refund)
//   Shipped       → Delivered
//   Delivered, Cancelled, Expired: final.
// PaymentFailed → Cancelled / Expired extend DESIGN §12's list: a customer whose card was
// declined may give up, and an abandoned one must still give its stock back.
bool can_transition(Status from, Status to);
bool is_final(Status status);
// 409 `transition_not_allowed`, naming both states.
HttpError transition_refused(Status from, Status to);

// An order that still holds stock it has not paid for: the reservation is held, not committed.
inline bool is_unpaid(Status status) {
  return status == Status::Pending || status == Status::PaymentFailed;
}

struct Line {
  std::string product_id;
  std::string name;
  std::int64_t price = 0;  // minor units, as held by the reservation
  std::int64_t quantity = 0;
};

struct HistoryEntry {
  Status status = Status::Pending;
  std::int64_t at_ms = 0;
};

struct Order {
  std::string id;
  std::string user_id;
  std::vector<Line> lines;
  std::int64_t total = 0;  // minor units: Σ price × quantity
  std::string currency;
  Status status = Status::Pending;
  std::vector<HistoryEntry> history;
  std::optional<std::string> shipping_address;  // JSON text as the client sent it
  bool from_cart = false;
  std::int64_t expires_at_ms = 0;
  // The payment in flight (payment-service's lease): expiry waits until payment_lease_until_ms.
  std::optional<std::string> payment_lease_id;
  std::int64_t payment_lease_until_ms = 0;
  std::optional<std::string> paid_payment_id;    // the payment that made it Paid
  std::optional<std::string> failed_payment_id;  // the last payment that failed
  std::optional<std::string> failure_reason;
  // {"userId","name","email","phone"} as user-service had it at placement (JSON text); events
  // carry it. Absent when user-service could not be asked.
  std::optional<std::string> customer;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 0;

  bool lease_active(std::int64_t now_ms) const {
    return payment_lease_id.has_value() && payment_lease_until_ms > now_ms;
  }
};

// Σ price × quantity, checked (MoneyOverflow).
std::int64_t total_of(const std::vector<Line>& lines);

}  // namespace emporium::order::domain
