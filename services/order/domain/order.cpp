#include "domain/order.hpp"

#include <emporium/money/arithmetic.hpp>

#include <array>
#include <utility>

namespace emporium::order::domain {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 7> kNames{{
    {Status::Pending, "Pending"},
    {Status::Paid, "Paid"},
    {Status::Shipped, "Shipped"},
    {Status::Delivered, "Delivered"},
    {Status::Cancelled, "Cancelled"},
    {Status::PaymentFailed, "PaymentFailed"},
    {Status::Expired, "Expired"},
}};

struct Edge {
  Status from;
  Status to;
};

constexpr std::array<Edge, 10> kTransitions{{
    {Status::Pending, Status::Paid},
    {Status::Pending, Status::Cancelled},
    {Status::Pending, Status::PaymentFailed},
    {Status::Pending, Status::Expired},
    {Status::PaymentFailed, Status::Pending},
    {Status::PaymentFailed, Status::Cancelled},
    {Status::PaymentFailed, Status::Expired},
    {Status::Paid, Status::Shipped},
    {Status::Paid, Status::Cancelled},
    {Status::Shipped, Status::Delivered},
}};

}  // namespace

std::string_view status_name(Status status) {
  for (const auto& [s, name] : kNames) {
    if (s == status) return name;
  }
  return "Unknown";
}

std::optional<Status> parse_status(std::string_view text) {
  for (const auto& [s, name] : kNames) {
    if (name == text) return s;
  }
  return std::nullopt;
}

std::string status_list() {
  std::string out;
  for (const auto& [s, name] : kNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool can_transition(Status from, Status to) {
  for (const auto& edge : kTransitions) {
    if (edge.from == from && edge.to == to) return true;
  }
  return false;
}

bool is_final(Status status) {
  for (const auto& edge : kTransitions) {
    if (edge.from == status) return false;
  }
  return true;
}

HttpError transition_refused(Status from, Status to) {
  HttpError error = conflict("Cannot change an order from " + std::string(status_name(from)) +
                                 " to " + std::string(status_name(to)),
                             "transition_not_allowed");
  error.with_extra("from", std::string(status_name(from)));
  error.with_extra("to", std::string(status_name(to)));
  return error;
}

std::int64_t total_of(const std::vector<Line>& lines) {
  std::vector<LineAmount> amounts;
  amounts.reserve(lines.size());
  for (const auto& line : lines) amounts.push_back({line.price, line.quantity});
  return sum_line_totals(amounts);
}

}  // namespace emporium::order::domain
