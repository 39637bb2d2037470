// Pieces both database backends share (private to core/src/db): a fixed set of connection slots
// that worker threads borrow until a deadline, SQLite's in-process write gate, and the retry loop
// of transact(), bounded by time.
#pragma once

#include "emporium/db/database.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace emporium::db {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline after_ms(int ms) {
  return Clock::now() + std::chrono::milliseconds(ms);
}

// Milliseconds left until `deadline`, rounded up (0 once it has passed), for poll().
int ms_until(Deadline deadline);

// A statement hit SQLITE_BUSY/SQLITE_LOCKED or SQLSTATE 40001/40P01: the transaction must be
// rolled back and run again. Derives from DbError so that, should it ever escape, it is logged
// like any other database failure.
class RetryableConflict : public DbError {
 public:
  using DbError::DbError;
};

// Core-owned tables (core/migrations: emporium_health, idempotency keys, work queues, …) have a
// migration namespace of their own: their versions are recorded in `emporium_core_migrations`,
// never in a service's `schema_migrations`, so core version 3 and a service's version 3 do not
// collide. migrate() applies the core's first, then the service's, under the same lock.
namespace core_schema {
MigrationSet migrations();  // generated from core/migrations by cmake/EmbedMigrations.cmake
}
inline constexpr const char* kCoreMigrationsTable = "emporium_core_migrations";
inline constexpr const char* kServiceMigrationsTable = "schema_migrations";

// `list` sorted by version; throws DbError when a version appears twice.
std::vector<const Migration*> in_version_order(const std::vector<Migration>& list);

// The row behind Database::can_write() (table made by core migration 1).
inline constexpr const char* kHealthUpsert =
    "INSERT INTO emporium_health (id, checked_at) VALUES (1, $1) "
    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at";

// Slots 0…size-1, each owned by at most one thread at a time. The backend keeps one connection
// per slot; a Lease is the right to use that connection.
class ConnectionSlots {
 public:
  class Lease {
   public:
    Lease(ConnectionSlots* slots, std::size_t index) : slots_(slots), index_(index) {}
    Lease(Lease&& other) noexcept : slots_(other.slots_), index_(other.index_) {
      other.slots_ = nullptr;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (slots_ != nullptr) slots_->release(index_);
    }
    std::size_t index() const { return index_; }

   private:
    ConnectionSlots* slots_;
    std::size_t index_;
  };

  explicit ConnectionSlots(std::size_t size);

  // Waits until a slot is free; Unavailable once `deadline` passes (every worker stuck on a
  // frozen server must not queue the next caller forever).
  Lease acquire(Deadline deadline);
  std::optional<Lease> try_acquire_until(Deadline deadline);

 private:
  void release(std::size_t index);

  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::size_t> free_;
};

// One writer at a time, first come first served, each waiting until its own deadline. SQLite has
// one write lock per file: with the gate, only the writer inside holds a pooled connection while
// it waits for that lock (perhaps held by another process), the other writers wait here without
// one, and readers keep the rest of the pool (WAL readers need no lock).
class WriteGate {
 public:
  class Pass {
   public:
    explicit Pass(WriteGate* gate) : gate_(gate) {}
    Pass(Pass&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    Pass& operator=(Pass&&) = delete;
    ~Pass() {
      if (gate_ != nullptr) gate_->leave();
    }

   private:
    WriteGate* gate_;
  };

  // Unavailable once `deadline` passes before it is this caller's turn.
  Pass enter(Deadline deadline);

 private:
  void leave();
  void skip_abandoned();  // with mutex_ held

  std::mutex mutex_;
  std::condition_variable turn_;
  std::uint64_t next_ticket_ = 0;
  std::uint64_t serving_ = 0;          // the ticket inside the gate, or next to enter it
  std::set<std::uint64_t> abandoned_;  // tickets whose holder gave up waiting
};

// Calls `attempt` until it returns true (committed); `false` means a retryable conflict, after
// which it sleeps a jittered, exponentially growing delay (≈1 ms doubling up to 100 ms). It throws
// Unavailable (503 with Retry-After, mapped by the App) when the next sleep would pass `deadline`
// (the transaction's lock budget) or after `max_attempts` attempts (0: no count limit). A hot row
// thus fails a request only when it stays contended for the whole budget.
void run_with_retries(Deadline deadline, int max_attempts, const std::function<bool()>& attempt);

}  // namespace emporium::db
