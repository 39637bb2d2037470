#include "domain/stock.hpp"

#include <emporium/util/crypto.hpp>
#include <emporium/util/ids.hpp>

#include <algorithm>
#include <map>

namespace emporium::product::domain {

std::string_view kind_name(ReservationKind kind) {
  return kind == ReservationKind::Reserve ? "reserve" : "deduct";
}

std::string_view state_name(ReservationState state) {
  switch (state) {
    case ReservationState::Held: return "held";
    case ReservationState::Committed: return "committed";
    case ReservationState::Released: return "released";
  }
  return "held";
}

std::optional<ReservationState> parse_state(std::string_view text) {
  if (text == "held") return ReservationState::Held;
  if (text == "committed") return ReservationState::Committed;
  if (text == "released") return ReservationState::Released;
  return std::nullopt;
}

std::vector<Line> merge_lines(std::vector<Line> lines) {
  std::map<std::string, std::int64_t> sums;
  for (auto& line : lines) sums[std::move(line.product_id)] += line.quantity;
  std::vector<Line> out;
  out.reserve(sums.size());
  for (auto& [id, quantity] : sums) out.push_back({id, quantity});
  return out;
}

std::string lines_hash(ReservationKind kind, const std::vector<Line>& merged) {
  std::string canonical(kind_name(kind));
  for (const auto& line : merged) {
    canonical += '|' + line.product_id + ':' + std::to_string(line.quantity);
  }
  return sha256_hex(canonical);
}

bool is_valid_reservation_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxReservationIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

namespace {

std::optional<std::string> read_reservation_id(const Json& body, FieldErrors& errors) {
  const auto it = body.find("reservationId");
  if (it == body.end() || it->is_null()) {
    errors.add("reservationId", "is required");
  } else if (!it->is_string() || !is_valid_reservation_id(it->get_ref<const std::string&>())) {
    errors.add("reservationId", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'");
  } else {
    return it->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

std::optional<ReserveRequest> read_reserve_request(const Json& body, FieldErrors& errors) {
  ReserveRequest out;
  const std::size_t errors_before = errors.list().size();
  if (auto id = read_reservation_id(body, errors)) out.reservation_id = std::move(*id);

  const auto items = body.find("items");
  if (items == body.end() || items->is_null()) {
    errors.add("items", "is required");
  } else if (!items->is_array() || items->empty()) {
    errors.add("items", "must be a non-empty array");
  } else if (items->size() > kMaxReservationLines) {
    errors.add("items", "must hold at most " + std::to_string(kMaxReservationLines) + " lines");
  } else {
    std::vector<Line> lines;
    for (std::size_t i = 0; i < items->size(); ++i) {
      const Json& item = (*items)[i];
      const std::string prefix = "items[" + std::to_string(i) + "]";
      if (!item.is_object()) {
        errors.add(prefix, "must be an object with productId and quantity");
        continue;
      }
      Line line;
      const auto pid = item.find("productId");
      if (pid == item.end() || pid->is_null()) {
        errors.add(prefix + ".productId", "is required");
      } else if (!pid->is_string() || !is_object_id(pid->get_ref<const std::string&>())) {
        errors.add(prefix + ".productId", "must be a product id (24 lower-case hex characters)");
      } else {
        line.product_id = pid->get<std::string>();
      }
      FieldErrors quantity_errors;
      const auto quantity = read_integer(item, "quantity", quantity_errors, 1, kMaxLineQuantity);
      for (const auto& e : quantity_errors.list()) errors.add(prefix + "." + e.field, e.message);
      if (quantity_errors.empty() && !quantity) errors.add(prefix + ".quantity", "is required");
      if (quantity) line.quantity = *quantity;
      lines.push_back(std::move(line));
    }
    out.lines = merge_lines(std::move(lines));
  }
  if (errors.list().size() != errors_before) return std::nullopt;
  return out;
}

std::optional<DeductRequest> read_deduct_request(const Json& body, FieldErrors& errors) {
  DeductRequest out;
  const std::size_t errors_before = errors.list().size();
  if (auto id = read_reservation_id(body, errors)) out.reservation_id = std::move(*id);
  const auto quantity = read_integer(body, "quantity", errors, 1, kMaxLineQuantity);
  if (quantity) {
    out.quantity = *quantity;
  } else if (const auto it = body.find("quantity"); it == body.end() || it->is_null()) {
    errors.add("quantity", "is required");
  }
  if (errors.list().size() != errors_before) return std::nullopt;
  return out;
}

DeltaOutcome check_delta(std::int64_t on_hand, std::int64_t held, std::int64_t delta,
                         std::int64_t max_stock) {
  const std::int64_t after = on_hand + delta;
  if (after < held) return DeltaOutcome::BelowHeld;
  if (after - held > max_stock) return DeltaOutcome::AboveMax;
  return DeltaOutcome::Ok;
}

}  // namespace emporium::product::domain
