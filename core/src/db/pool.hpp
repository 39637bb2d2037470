// Pieces both database backends share (private to core/src/db): a fixed set of connection slots
// that worker threads borrow, and the bounded retry loop of transact().
#pragma once

#include "emporium/db/database.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace emporium::db {

// A statement hit SQLITE_BUSY/SQLITE_LOCKED or SQLSTATE 40001/40P01: the transaction must be
// rolled back and run again. Derives from DbError so that, should it ever escape, it is logged
// like any other database failure.
class RetryableConflict : public DbError {
 public:
  using DbError::DbError;
};

// The core-owned table behind Database::can_write(): one row rewritten by every readiness check.
inline constexpr const char* kCreateHealthTable =
    "CREATE TABLE IF NOT EXISTS emporium_health (id INTEGER PRIMARY KEY, checked_at TEXT NOT NULL)";
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

  // Blocks until a slot is free.
  Lease acquire();
  // Gives up after `timeout` (ping must not queue behind a saturated pool).
  std::optional<Lease> try_acquire_for(std::chrono::milliseconds timeout);

 private:
  void release(std::size_t index);

  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::size_t> free_;
};

// Calls `attempt` until it returns true (committed); `false` means a retryable conflict, after
// which it sleeps a jittered, exponentially growing delay (≈2 ms doubling up to 50 ms). After
// `max_attempts` conflicts it throws Unavailable (503 with Retry-After, mapped by the App).
void run_with_retries(int max_attempts, const std::function<bool()>& attempt);

}  // namespace emporium::db
