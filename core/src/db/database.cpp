// Database::open (DATABASE_URL dispatch), Row/Result conversions, and the pool and retry loop
// both backends share.
#include "emporium/db/database.hpp"

#include "db/pool.hpp"
#include "db/postgres_database.hpp"
#include "db/sqlite_database.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/util/time.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

namespace emporium::db {

namespace {

std::optional<std::int64_t> parse_int64(std::string_view s) {
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

// An integral double within int64 range, or nullopt.
std::optional<std::int64_t> integral(double d) {
  // 2^63 is exactly representable; the range check must exclude it.
  constexpr double kLimit = 9223372036854775808.0;
  if (!std::isfinite(d) || d != std::trunc(d) || d < -kLimit || d >= kLimit) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

std::string format_double(double d) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, p) : std::string();
}

std::invalid_argument bad_url(const std::string& why) {
  return std::invalid_argument("DATABASE_URL " + why +
                               " (expected sqlite:///abs/path.db, sqlite:relative/path.db or "
                               "postgresql://…)");
}

}  // namespace

// ---- Row / Result ----

bool Row::is_null(std::size_t i) const {
  return std::holds_alternative<std::nullptr_t>(cells_.at(i));
}

std::string Row::text(std::size_t i) const {
  const Value& v = cells_.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (auto* d = std::get_if<double>(&v)) return format_double(*d);
  return {};
}

std::int64_t Row::integer(std::size_t i) const {
  const Value& v = cells_.at(i);
  if (auto* n = std::get_if<std::int64_t>(&v)) return *n;
  if (std::holds_alternative<std::nullptr_t>(v)) return 0;
  if (auto* d = std::get_if<double>(&v)) {
    if (auto n = integral(*d)) return *n;
  } else {
    const auto& s = std::get<std::string>(v);
    if (auto n = parse_int64(s)) return *n;
    // PostgreSQL booleans arrive as t/f, SUM(bigint) as numeric ("15" or "15.00").
    if (s == "t") return 1;
    if (s == "f") return 0;
    if (auto d = parse_double(s)) {
      if (auto n = integral(*d)) return *n;
    }
  }
  throw DbError("column " + std::to_string(i) + " does not hold an integer");
}

double Row::real(std::size_t i) const {
  const Value& v = cells_.at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
  if (std::holds_alternative<std::nullptr_t>(v)) return 0;
  if (auto d = parse_double(std::get<std::string>(v))) return *d;
  throw DbError("column " + std::to_string(i) + " does not hold a number");
}

std::optional<std::string> Row::opt_text(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return text(i);
}

std::optional<std::int64_t> Row::opt_integer(std::size_t i) const {
  if (is_null(i)) return std::nullopt;
  return integer(i);
}

const Row& Result::one() const {
  if (rows.empty()) throw std::logic_error("query returned no row");
  return rows.front();
}

// ---- Database::open ----

std::unique_ptr<Database> Database::open(const std::string& url, const Options& options) {
  if (options.pool_size < 1 || options.max_attempts < 0 || options.busy_timeout_ms < 0 ||
      options.statement_timeout_ms < 1 || options.lock_timeout_ms < 1 ||
      options.acquire_timeout_ms < 1 || options.connect_timeout_ms < 1) {
    throw std::invalid_argument(
        "database options: pool_size and every *_timeout_ms but busy_timeout_ms must be >= 1, "
        "max_attempts and busy_timeout_ms >= 0");
  }
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    std::string_view rest = std::string_view(url).substr(kSqlite.size());
    if (rest.starts_with("//")) {
      // sqlite://host/… names a host SQLite cannot reach; only an empty authority is a path.
      rest.remove_prefix(2);
      if (!rest.starts_with('/')) throw bad_url("must not name a host for sqlite");
    }
    if (rest.empty() || rest == "/") throw bad_url("has no SQLite file path");
    if (rest.find('?') != std::string_view::npos) {
      throw bad_url("must not carry query parameters for sqlite");
    }
    // Every pooled connection would get its own private in-memory database.
    if (rest == ":memory:") throw bad_url("cannot use an in-memory SQLite database");
    return open_sqlite(std::string(rest), options);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return open_postgres(url, options);
  }
  throw bad_url("has an unsupported scheme");
}

// ---- migrations ----

std::vector<const Migration*> in_version_order(const std::vector<Migration>& list) {
  std::vector<const Migration*> todo;
  todo.reserve(list.size());
  for (const Migration& m : list) todo.push_back(&m);
  std::sort(todo.begin(), todo.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  for (std::size_t i = 1; i < todo.size(); ++i) {
    if (todo[i]->version == todo[i - 1]->version) {
      throw DbError("migrations: version " + std::to_string(todo[i]->version) + " appears twice");
    }
  }
  return todo;
}

// ---- readiness ----

bool Database::can_write() {
  try {
    transact(TxKind::Write, [](Tx& tx) { tx.exec(kHealthUpsert, {iso8601(now_ms())}); });
    return true;
  } catch (...) {
    return false;
  }
}

// ---- deadlines, slots, gate ----

int ms_until(Deadline deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<std::int64_t>(ms, std::numeric_limits<int>::max()));
}

ConnectionSlots::ConnectionSlots(std::size_t size) {
  free_.reserve(size);
  // Reverse so that slot 0 is handed out first (keeps a lightly loaded pool on few connections).
  for (std::size_t i = size; i > 0; --i) free_.push_back(i - 1);
}

ConnectionSlots::Lease ConnectionSlots::acquire(Deadline deadline) {
  if (auto lease = try_acquire_until(deadline)) return std::move(*lease);
  throw Unavailable("database pool: no connection became free within DB_ACQUIRE_TIMEOUT_MS", 1);
}

std::optional<ConnectionSlots::Lease> ConnectionSlots::try_acquire_until(Deadline deadline) {
  std::unique_lock lock(mutex_);
  if (!freed_.wait_until(lock, deadline, [&] { return !free_.empty(); })) return std::nullopt;
  std::size_t index = free_.back();
  free_.pop_back();
  return Lease(this, index);
}

void ConnectionSlots::release(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(index);
  }
  freed_.notify_one();
}

WriteGate::Pass WriteGate::enter(Deadline deadline) {
  std::unique_lock lock(mutex_);
  const std::uint64_t ticket = next_ticket_++;
  if (!turn_.wait_until(lock, deadline, [&] { return serving_ == ticket; })) {
    abandoned_.insert(ticket);
    throw Unavailable("database busy: the write lock stayed taken for DB_LOCK_TIMEOUT_MS", 1);
  }
  return Pass(this);
}

void WriteGate::leave() {
  {
    std::lock_guard lock(mutex_);
    ++serving_;
    skip_abandoned();
  }
  turn_.notify_all();
}

void WriteGate::skip_abandoned() {
  for (auto it = abandoned_.find(serving_); it != abandoned_.end();
       it = abandoned_.find(serving_)) {
    abandoned_.erase(it);
    ++serving_;
  }
}

// ---- retries ----

void run_with_retries(Deadline deadline, int max_attempts, const std::function<bool()>& attempt) {
  // Per-thread generator: jitter only needs to differ between threads, not to be unpredictable.
  thread_local std::minstd_rand rng(std::random_device{}());
  for (int n = 1;; ++n) {
    if (attempt()) return;
    if (max_attempts > 0 && n >= max_attempts) break;
    // Jitter keeps the losers of one conflict from colliding again in lockstep.
    const int cap_us = 1'000 << std::min(n - 1, 7);  // 1 ms … 128 ms
    std::uniform_int_distribution<int> pick(cap_us / 4, std::min(cap_us, 100'000));
    const auto delay = std::chrono::microseconds(pick(rng));
    if (Clock::now() + delay >= deadline) break;
    std::this_thread::sleep_for(delay);
  }
  throw Unavailable("database busy: conflicts or locks outlasted the retry budget", 1);
}

}  // namespace emporium::db
