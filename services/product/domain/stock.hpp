// Stock arithmetic and reservations (DESIGN §5), pure: request lines are merged per product and
// sorted by product id (the order rows are locked in), a reservation is identified by the hash of
// its merged lines (a retry with the same lines replays, other lines are 422), and the state
// machine is held -> committed | released, each transition exactly once.
#pragma once

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::product::domain {

inline constexpr std::size_t kMaxReservationLines = 100;
inline constexpr std::int64_t kMaxLineQuantity = 1'000'000'000;
inline constexpr std::int64_t kMaxStockDelta = 1'000'000'000;
inline constexpr std::size_t kMaxReservationIdBytes = 64;

struct Line {
  std::string product_id;
  std::int64_t quantity = 0;
  bool operator==(const Line&) const = default;
};

// A line of a stored reservation: the units held and the product's name and price as they were
// when they were held, read by the statement that held them (DESIGN §12: the price charged is the
// price held). A replay or a commit answers with these, never with today's price.
struct HeldLine {
  std::string product_id;
  std::int64_t quantity = 0;
  std::string name;
  std::int64_t price_minor = 0;
  bool operator==(const HeldLine&) const = default;
};

struct ShortLine {
  std::string product_id;
  std::int64_t requested = 0;
  std::int64_t available = 0;  // 0 for unknown or deleted products
};

enum class ReservationKind { Reserve, Deduct };
enum class ReservationState { Held, Committed, Released };

std::string_view kind_name(ReservationKind kind);
std::string_view state_name(ReservationState state);
std::optional<ReservationState> parse_state(std::string_view text);

struct Reservation {
  std::string id;
  ReservationKind kind = ReservationKind::Reserve;
  ReservationState state = ReservationState::Held;
  std::string release_reason;  // "released" or "expired" once released
  std::string items_hash;
  std::vector<HeldLine> lines;  // merged, ascending product id, with their price snapshots
  std::int64_t expires_at_ms = 0;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> stock_after;  // deduct: the product's stock right after it
};

// Sums the quantities of lines naming the same product; the result is sorted by product id.
std::vector<Line> merge_lines(std::vector<Line> lines);

// SHA-256 of the kind and the merged lines: equal for the same request, different otherwise.
std::string lines_hash(ReservationKind kind, const std::vector<Line>& merged);

// Reservation ids are chosen by the caller (the order id): 1..64 of [A-Za-z0-9._:-].
bool is_valid_reservation_id(std::string_view id);

struct ReserveRequest {
  std::string reservation_id;
  std::vector<Line> lines;  // merged
};
// `{"reservationId", "items":[{"productId","quantity"}]}`; every problem is recorded in `errors`
// (`items[2].quantity`); nullopt when there was any.
std::optional<ReserveRequest> read_reserve_request(const Json& body, FieldErrors& errors);

struct DeductRequest {
  std::string reservation_id;
  std::int64_t quantity = 0;
};
std::optional<DeductRequest> read_deduct_request(const Json& body, FieldErrors& errors);

// What a stock delta does to a product with `on_hand` and `held` units.
enum class DeltaOutcome { Ok, BelowHeld, AboveMax };
DeltaOutcome check_delta(std::int64_t on_hand, std::int64_t held, std::int64_t delta,
                         std::int64_t max_stock);

}  // namespace emporium::product::domain
