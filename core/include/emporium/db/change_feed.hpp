// Which rows of a table changed, committed by any connection of any process sharing the database,
// so that a cache in memory can keep what did not change and drop what did (DESIGN §7: a product
// read served from memory must never be older than a write that was answered before it).
//
// The table's own triggers (a service migration) announce every change of a row by its key:
// - PostgreSQL: `pg_notify(<channel>, <key>)` (or `'*'` for "anything may have changed", e.g. a
//   bulk statement), delivered to the feed's LISTEN session in commit order. A sync is a barrier:
//   the feed NOTIFYs its own private channel and waits until that notification comes back; since
//   notifications arrive in commit order, every change committed before the barrier was sent has
//   been applied by then. Concurrent syncs share one barrier (at most one in flight).
// - SQLite: a change log table `<log_table> (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT)`
//   the triggers insert into. A sync reads `PRAGMA data_version` on the feed's own connection
//   (it moves when any other connection, in this process or another, committed) and, only when
//   it moved, the log rows after the last one seen. A gap in the log (pruned before this
//   instance read it) or a backlog over `max_backlog` resets the cache instead.
//
// Whenever the feed cannot vouch for having seen every change (the session was lost, a barrier
// did not come back in time, the database is unreachable), sync answers false: the caller must
// then not serve from its cache; the feed resets it once it is back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace emporium::db {

struct ChangeFeedSpec {
  std::string channel;    // PostgreSQL: the NOTIFY channel the triggers use
  std::string log_table;  // SQLite: the change log the triggers insert into
  // SQLite: more log rows than this behind at a sync: reset instead of reading them all.
  std::int64_t max_backlog = 10'000;
  // PostgreSQL: a barrier not back within this is a lost session (dropped and made again).
  int barrier_timeout_ms = 2000;
  // Between two attempts to make the feed's session again.
  int reconnect_delay_ms = 250;
};

struct ChangeHandlers {
  std::function<void(std::string_view key)> changed;  // this key's row changed
  std::function<void()> reset;                        // anything may have changed
};

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;

  // Starts the feed (PostgreSQL: its session thread). Handlers are called from the thread that
  // syncs or from the feed's own thread, never concurrently with each other.
  virtual void start(ChangeHandlers handlers) = 0;

  // Blocks until every change committed before the call has been passed to the handlers; true
  // then. False when the feed cannot tell (see above); bounded by the barrier timeout.
  virtual bool sync() = 0;

  // The same without blocking the caller: `done(synced)` is called once, from any thread (at
  // once, on the calling thread, when the answer is known without waiting).
  virtual void sync_async(std::function<void(bool synced)> done) = 0;

  // SQLite: deletes log rows so that the newest `keep` stay (other instances lagging further
  // behind reset their caches). PostgreSQL: nothing to prune. Never throws.
  virtual void prune(std::int64_t keep) = 0;

  // Stops the feed's thread; pending syncs answer false. Idempotent.
  virtual void stop() = 0;

  // Counters for metrics.
  struct Stats {
    std::uint64_t changes = 0;  // keys passed to `changed`
    std::uint64_t resets = 0;
    std::uint64_t syncs = 0;     // round trips made for syncs (barriers / log reads)
    std::uint64_t failures = 0;  // syncs answered false
  };
  virtual Stats stats() const = 0;
};

}  // namespace emporium::db
