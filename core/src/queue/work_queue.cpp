// Work queues: the claim/lease/settle rules of work_queue.hpp over the core-owned table
// `emporium_work_items` (core/migrations/*/003_work_items.sql).
#include "emporium/queue/work_queue.hpp"

#include "emporium/util/crypto.hpp"
#include "emporium/util/text.hpp"
#include "emporium/util/time.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

namespace emporium::queue {
namespace {

// ---- SQL ----
constexpr const char* kInsert =
    "INSERT INTO emporium_work_items (queue, payload, dedupe_key, state, attempts, max_attempts, "
    "run_after_ms, created_at_ms, updated_at_ms) "
    "VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING id";

// Both statements pick rows with a subquery that PostgreSQL runs with `FOR UPDATE SKIP LOCKED`
// (kSkipLocked appended): a row another claimer has locked is skipped, not waited for, and at
// READ COMMITTED a row another claimer took meanwhile is re-checked on its latest version and
// dropped. Without it, two claimers took the same rows (checked: TwoInstances… ran 6 items
// twice). SQLite's single writer runs one claimer at a time. Both return item_of's columns.
constexpr const char* kExpireHead =
    "UPDATE emporium_work_items SET "
    "state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, "
    "last_error = 'the lease of ' || COALESCE(lease_owner, '?') || "
    "' expired before a result was recorded', "
    "run_after_ms = $2, updated_at_ms = $2, "
    "finished_at_ms = CASE WHEN attempts >= max_attempts THEN $2 ELSE NULL END, "
    "lease_owner = NULL, lease_token = NULL, lease_until_ms = NULL "
    "WHERE id IN (SELECT id FROM emporium_work_items WHERE queue = $1 AND state = 'running' "
    "AND lease_until_ms <= $2 ORDER BY lease_until_ms, id LIMIT $3";
constexpr const char* kClaimHead =
    "UPDATE emporium_work_items SET state = 'running', attempts = attempts + 1, "
    "lease_owner = $3, lease_token = $4, lease_until_ms = $5, updated_at_ms = $2 "
    "WHERE id IN (SELECT id FROM emporium_work_items WHERE queue = $1 AND state = 'pending' "
    "AND run_after_ms <= $2 ORDER BY run_after_ms, id LIMIT $6";
constexpr const char* kSkipLocked = " FOR UPDATE SKIP LOCKED";
constexpr const char* kPickedTail =
    ") RETURNING id, queue, payload, state, attempts, max_attempts, run_after_ms, dedupe_key, "
    "last_error, lease_owner, lease_token, lease_until_ms, created_at_ms, updated_at_ms, "
    "finished_at_ms";

// Settling applies only under the claim's token, while the item is still running.
constexpr const char* kSettleDone =
    "UPDATE emporium_work_items SET state = 'done', updated_at_ms = $3, finished_at_ms = $3, "
    "lease_owner = NULL, lease_token = NULL, lease_until_ms = NULL "
    "WHERE id = $1 AND lease_token = $2 AND state = 'running'";
constexpr const char* kSettleRetry =
    "UPDATE emporium_work_items SET state = 'pending', updated_at_ms = $3, run_after_ms = $4, "
    "last_error = $5, lease_owner = NULL, lease_token = NULL, lease_until_ms = NULL "
    "WHERE id = $1 AND lease_token = $2 AND state = 'running'";
constexpr const char* kSettleFailed =
    "UPDATE emporium_work_items SET state = 'failed', updated_at_ms = $3, finished_at_ms = $3, "
    "last_error = $4, lease_owner = NULL, lease_token = NULL, lease_until_ms = NULL "
    "WHERE id = $1 AND lease_token = $2 AND state = 'running'";
// Not an attempt: the count taken by the claim is given back; the item keeps its place.
constexpr const char* kRelease =
    "UPDATE emporium_work_items SET state = 'pending', attempts = attempts - 1, "
    "updated_at_ms = $3, lease_owner = NULL, lease_token = NULL, lease_until_ms = NULL "
    "WHERE id = $1 AND lease_token = $2 AND state = 'running'";

constexpr const char* kGet =
    "SELECT id, queue, payload, state, attempts, max_attempts, run_after_ms, dedupe_key, "
    "last_error, lease_owner, lease_token, lease_until_ms, created_at_ms, updated_at_ms, "
    "finished_at_ms FROM emporium_work_items WHERE id = $1 AND queue = $2";
constexpr const char* kList =
    "SELECT id, queue, payload, state, attempts, max_attempts, run_after_ms, dedupe_key, "
    "last_error, lease_owner, lease_token, lease_until_ms, created_at_ms, updated_at_ms, "
    "finished_at_ms FROM emporium_work_items WHERE queue = $1 AND state = $2 AND id > $3 "
    "ORDER BY id LIMIT $4";
constexpr const char* kRequeue =
    "UPDATE emporium_work_items SET state = 'pending', attempts = 0, run_after_ms = $3, "
    "updated_at_ms = $3, finished_at_ms = NULL WHERE id = $1 AND queue = $2 AND state = 'failed'";
constexpr const char* kDiscardPending =
    "DELETE FROM emporium_work_items WHERE id = $1 AND queue = $2 AND state = 'pending'";
constexpr const char* kCounts =
    "SELECT state, COUNT(*) FROM emporium_work_items "
    "WHERE queue = $1 AND state IN ('pending', 'running', 'failed') GROUP BY state";
constexpr const char* kPurgeDone =
    "DELETE FROM emporium_work_items WHERE id IN (SELECT id FROM emporium_work_items "
    "WHERE queue = $1 AND state = 'done' AND finished_at_ms <= $2 ORDER BY run_after_ms, id "
    "LIMIT $3)";

// A reason kept as last_error: bounded, and valid UTF-8 (PostgreSQL refuses anything else in
// text, and a provider's message may carry any bytes).
constexpr std::size_t kMaxErrorBytes = 2000;
std::string storable(std::string_view error) {
  std::string out(error.substr(0, kMaxErrorBytes));
  while (!out.empty() && !is_valid_utf8(out)) {
    // A cut inside a multi-byte character, or bytes that are not UTF-8 at all.
    if (is_valid_utf8(std::string_view(out).substr(0, out.size() - 1))) {
      out.pop_back();
    } else {
      for (char& c : out) {
        if (static_cast<unsigned char>(c) >= 0x80) c = '?';
      }
    }
  }
  return out;
}

State state_of(std::string_view name) {
  if (name == "pending") return State::Pending;
  if (name == "running") return State::Running;
  if (name == "done") return State::Done;
  if (name == "failed") return State::Failed;
  throw std::logic_error("emporium_work_items: unknown state " + std::string(name));
}

Item item_of(const db::Row& row) {
  Item item;
  item.id = row.integer(0);
  item.queue = row.text(1);
  item.payload = row.text(2);
  item.state = state_of(row.text(3));
  item.attempts = static_cast<int>(row.integer(4));
  item.max_attempts = static_cast<int>(row.integer(5));
  item.run_after_ms = row.integer(6);
  item.dedupe_key = row.opt_text(7);
  item.last_error = row.opt_text(8);
  item.lease_owner = row.opt_text(9);
  item.lease_token = row.text(10);
  item.lease_until_ms = row.integer(11);
  item.created_at_ms = row.integer(12);
  item.updated_at_ms = row.integer(13);
  item.finished_at_ms = row.opt_integer(14);
  return item;
}

}  // namespace

std::string_view state_name(State state) {
  switch (state) {
    case State::Pending: return "pending";
    case State::Running: return "running";
    case State::Done: return "done";
    case State::Failed: return "failed";
  }
  return "pending";
}

Outcome Outcome::done(std::string result) {
  Outcome o;
  o.result = std::move(result);
  return o;
}

Outcome Outcome::retry(std::string error, std::optional<std::int64_t> after_ms) {
  Outcome o;
  o.kind = Kind::Retry;
  o.error = std::move(error);
  o.retry_after_ms = after_ms;
  return o;
}

Outcome Outcome::fail(std::string error) {
  Outcome o;
  o.kind = Kind::Fail;
  o.error = std::move(error);
  return o;
}

std::int64_t backoff_ms(const Backoff& backoff, int attempt, double unit) {
  const std::int64_t cap = std::max<std::int64_t>(backoff.cap_ms, 0);
  std::int64_t ceiling = std::min(std::max<std::int64_t>(backoff.base_ms, 0), cap);
  // Doubling saturates at the cap (a cap near INT64_MAX must not overflow).
  for (int n = 1; n < attempt && ceiling < cap; ++n) {
    ceiling = ceiling > cap / 2 ? cap : std::min(ceiling * 2, cap);
  }
  const std::int64_t floor = ceiling / 2;
  const double u = std::clamp(unit, 0.0, 1.0);
  return floor + static_cast<std::int64_t>(u * static_cast<double>(ceiling - floor));
}

WorkQueue::WorkQueue(std::string name, db::Backend backend, Clock clock)
    : name_(std::move(name)), backend_(backend), clock_(clock ? std::move(clock) : Clock(now_ms)) {
  if (name_.empty()) throw std::invalid_argument("a work queue needs a name");
}

std::optional<std::int64_t> WorkQueue::enqueue(db::Tx& tx, std::string_view payload,
                                               const EnqueueOptions& options) const {
  if (options.max_attempts < 1) {
    throw std::invalid_argument("work queue " + name_ + ": max_attempts must be at least 1");
  }
  const std::int64_t now = clock_();
  const auto inserted =
      tx.query(kInsert, {name_, std::string(payload), db::nullable(options.dedupe_key),
                         std::int64_t{options.max_attempts},
                         options.run_after_ms > 0 ? options.run_after_ms : now, now});
  if (inserted.empty()) return std::nullopt;
  return inserted.one().integer(0);
}

std::vector<std::pair<Item, Settled>> WorkQueue::expire_leases(db::Tx& tx, int limit) const {
  const std::int64_t now = clock_();
  std::string sql = kExpireHead;
  if (backend_ == db::Backend::Postgres) sql += kSkipLocked;
  sql += kPickedTail;
  std::vector<std::pair<Item, Settled>> out;
  for (const auto& row : tx.query(sql, {name_, now, std::int64_t{limit}}).rows) {
    Item item = item_of(row);
    Settled settled;
    settled.state = item.state;
    settled.attempts = item.attempts;
    settled.error = item.last_error.value_or("");
    if (settled.state == State::Pending) settled.next_run_ms = now;
    out.emplace_back(std::move(item), std::move(settled));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first.id < b.first.id; });
  return out;
}

std::vector<Item> WorkQueue::claim(db::Tx& tx, std::string_view owner, int limit,
                                   std::int64_t lease_ms) const {
  const std::int64_t now = clock_();
  std::string sql = kClaimHead;
  if (backend_ == db::Backend::Postgres) sql += kSkipLocked;
  sql += kPickedTail;
  const auto result = tx.query(
      sql, {name_, now, std::string(owner), random_token(16), now + lease_ms, std::int64_t{limit}});
  std::vector<Item> items;
  items.reserve(result.rows.size());
  for (const auto& row : result.rows) items.push_back(item_of(row));
  // RETURNING has no order: run them oldest due first, as picked.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::pair{a.run_after_ms, a.id} < std::pair{b.run_after_ms, b.id};
  });
  return items;
}

Settled WorkQueue::decide(const Item& item, const Outcome& outcome, const Backoff& backoff,
                          double unit) const {
  Settled settled;
  settled.attempts = item.attempts;
  switch (outcome.kind) {
    case Outcome::Kind::Done:
      settled.state = State::Done;
      settled.result = outcome.result;
      return settled;
    case Outcome::Kind::Fail: settled.state = State::Failed; break;
    case Outcome::Kind::Retry:
      settled.state = item.attempts >= item.max_attempts ? State::Failed : State::Pending;
      break;
  }
  settled.error = storable(outcome.error.empty() ? "failed without a reason" : outcome.error);
  if (settled.state == State::Pending) {
    // A provider's Retry-After is honoured up to the back-off cap, and the sum saturates: a huge
    // value must not wrap into the past (an immediate retry loop).
    const std::int64_t cap = std::max<std::int64_t>(backoff.cap_ms, 0);
    const std::int64_t asked = std::clamp<std::int64_t>(outcome.retry_after_ms.value_or(0), 0, cap);
    const std::int64_t wait = std::max(backoff_ms(backoff, item.attempts, unit), asked);
    const std::int64_t now = clock_();
    settled.next_run_ms = wait > std::numeric_limits<std::int64_t>::max() - now
                              ? std::numeric_limits<std::int64_t>::max()
                              : now + wait;
  }
  return settled;
}

bool WorkQueue::settle(db::Tx& tx, const Item& item, const Settled& settled) const {
  const std::int64_t now = clock_();
  switch (settled.state) {
    case State::Done: return tx.exec(kSettleDone, {item.id, item.lease_token, now}) == 1;
    case State::Pending:
      return tx.exec(kSettleRetry,
                     {item.id, item.lease_token, now, settled.next_run_ms, settled.error}) == 1;
    case State::Failed:
      return tx.exec(kSettleFailed, {item.id, item.lease_token, now, settled.error}) == 1;
    case State::Running: break;
  }
  throw std::logic_error("work queue: an item cannot be settled as running");
}

bool WorkQueue::release(db::Tx& tx, const Item& item) const {
  return tx.exec(kRelease, {item.id, item.lease_token, clock_()}) == 1;
}

std::optional<Item> WorkQueue::get(db::Tx& tx, std::int64_t id) const {
  const auto found = tx.query(kGet, {id, name_});
  if (found.empty()) return std::nullopt;
  return item_of(found.one());
}

std::vector<Item> WorkQueue::list(db::Tx& tx, State state, int limit, std::int64_t after_id) const {
  std::vector<Item> out;
  for (const auto& row :
       tx.query(kList, {name_, std::string(state_name(state)), after_id, std::int64_t{limit}})
           .rows) {
    out.push_back(item_of(row));
  }
  return out;
}

bool WorkQueue::requeue(db::Tx& tx, std::int64_t id) const {
  return tx.exec(kRequeue, {id, name_, clock_()}) == 1;
}

bool WorkQueue::discard(db::Tx& tx, std::int64_t id) const {
  return tx.exec(kDiscardPending, {id, name_}) == 1;
}

Counts WorkQueue::counts(db::Tx& tx) const {
  Counts counts;
  for (const auto& row : tx.query(kCounts, {name_}).rows) {
    const State state = state_of(row.text(0));
    if (state == State::Pending) counts.pending = row.integer(1);
    if (state == State::Running) counts.running = row.integer(1);
    if (state == State::Failed) counts.failed = row.integer(1);
  }
  return counts;
}

std::int64_t WorkQueue::purge_done(db::Tx& tx, std::int64_t before_ms, int batch) const {
  return tx.exec(kPurgeDone, {name_, before_ms, std::int64_t{batch}});
}

}  // namespace emporium::queue
