// One Database interface over SQLite and PostgreSQL, chosen by DATABASE_URL (DESIGN §4 db).
//
// - SQL uses `$1…$N` placeholders on both backends (SQLite rewrites them to `?N`, so `$2 … $1`
//   binds right).
// - Work runs in transactions that the layer may run again: on SQLITE_BUSY, 40001 or 40P01 the
//   function is retried with jittered exponential back-off while the transaction's lock budget
//   (Options::lock_timeout_ms) lasts, then db::Unavailable (503, Retry-After, mapped by the App)
//   is thrown, never a 500.
// - Every wait has a deadline (Options): pool acquisition, SQLite lock waits (in-process write
//   gate and busy handler), PostgreSQL connects and every round trip (a silent server makes the
//   session be dropped), so a frozen server, a held lock or a broken disk ends a request with
//   db::Unavailable instead of hanging it.
// - SQLite write transactions start with BEGIN IMMEDIATE; PostgreSQL write transactions run at
//   REPEATABLE READ, so a read-then-write on a row another transaction changed is retried instead
//   of losing an update.
#pragma once

#include "emporium/db/change_feed.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace emporium::db {

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using Params = std::vector<Value>;

// Helpers to build parameters from optionals.
template <class T>
Value nullable(const std::optional<T>& v) {
  if (!v) return nullptr;
  return Value(*v);
}

class Row {
 public:
  explicit Row(std::vector<Value> cells) : cells_(std::move(cells)) {}
  std::size_t size() const { return cells_.size(); }
  bool is_null(std::size_t i) const;
  // Conversions accept what either backend returns (PostgreSQL text, SQLite typed values).
  std::string text(std::size_t i) const;      // NULL -> ""
  std::int64_t integer(std::size_t i) const;  // NULL -> 0
  double real(std::size_t i) const;
  std::optional<std::string> opt_text(std::size_t i) const;
  std::optional<std::int64_t> opt_integer(std::size_t i) const;

 private:
  std::vector<Value> cells_;
};

struct Result {
  std::vector<Row> rows;
  std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE

  bool empty() const { return rows.empty(); }
  const Row& one() const;  // throws std::logic_error when empty
};

class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A UNIQUE constraint failed (SQLite SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY, PostgreSQL 23505).
class UniqueViolation : public DbError {
 public:
  using DbError::DbError;
};
// A CHECK constraint failed (SQLite SQLITE_CONSTRAINT_CHECK, PostgreSQL 23514).
class CheckViolation : public DbError {
 public:
  using DbError::DbError;
};
// The database cannot serve the request now, through no fault of the request: connection lost or
// frozen, a statement, lock or pool deadline passed, conflicts still failing at the end of the
// retry budget, storage full, unwritable or moved. The App maps it (once, in app.cpp) to 503 with
// `Retry-After`; the database layer never throws HttpError.
class Unavailable : public DbError {
 public:
  explicit Unavailable(const std::string& message, long retry_after_seconds = 1)
      : DbError(message), retry_after_seconds_(retry_after_seconds) {}
  long retry_after_seconds() const { return retry_after_seconds_; }

 private:
  long retry_after_seconds_;
};

// A statement runner bound to one connection inside one transaction.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result query(std::string_view sql, const Params& params = {}) = 0;
  std::int64_t exec(std::string_view sql, const Params& params = {}) {
    return query(sql, params).affected;
  }
};

enum class Backend { Sqlite, Postgres };
// Write: PostgreSQL REPEATABLE READ, so a read-then-write conflict is retried.
// WriteCommitted: PostgreSQL READ COMMITTED, for transactions that cannot lose an update there:
// every change is one conditional statement that decides by its affected rows
// (`UPDATE … WHERE on_hand - held >= $q`, re-checked on the latest row version), or the
// transaction first writes one row that every writer of the same data also writes first (a lock
// that queues them instead of failing them with 40001; docs/architecture.md). SQLite runs both as
// BEGIN IMMEDIATE.
// Read: PostgreSQL runs each statement on its own (autocommit): cheapest for one statement.
// Snapshot: several reads that must agree with each other (a response built from several
// queries: a page and its total, an order and its lines): PostgreSQL
// `REPEATABLE READ READ ONLY`, one snapshot for the whole function. SQLite runs Read and Snapshot
// as a deferred BEGIN, which in WAL mode reads one snapshot from its first statement on.
enum class TxKind { Read, Write, WriteCommitted, Snapshot };

struct Migration {
  int version;
  std::string name;
  std::string sql;  // may hold several statements
};
struct MigrationSet {
  std::vector<Migration> sqlite;
  std::vector<Migration> postgres;
};

// Deadlines (DESIGN §4): every wait of the layer ends, with db::Unavailable where a request
// waits. Environment names are those ServiceConfig reads.
struct Options {
  int pool_size = 8;
  // SQLite: the longest single wait for a lock before the attempt counts as a conflict (within
  // lock_timeout_ms, which bounds the whole transaction).
  int busy_timeout_ms = 5000;
  // Attempts of one transaction at most; 0: only lock_timeout_ms bounds the retries.
  int max_attempts = 0;
  // DB_STATEMENT_TIMEOUT_MS. PostgreSQL: the server's statement_timeout; the client gives up on a
  // round trip (and drops the session) 1 s later, when the server does not answer at all.
  int statement_timeout_ms = 5000;
  // DB_LOCK_TIMEOUT_MS: the whole wait of one transaction for locks and conflicts — SQLite's
  // in-process write gate, busy waits and retries; PostgreSQL's lock_timeout and the retries of
  // 40001/40P01.
  int lock_timeout_ms = 5000;
  // DB_ACQUIRE_TIMEOUT_MS: waiting for a pooled connection.
  int acquire_timeout_ms = 2000;
  // DB_CONNECT_TIMEOUT_MS. PostgreSQL: making a session (TCP, authentication, session settings).
  int connect_timeout_ms = 3000;
};

class Database {
 public:
  virtual ~Database() = default;

  // `sqlite:///abs/path.db`, `sqlite:relative/path.db`, `postgresql://…` (or `postgres://…`).
  // Throws std::invalid_argument for anything else (including `sqlite://host/…`) and for options
  // out of range; DbError when a SQLite file cannot be opened for writing (read-only file,
  // immutable attribute, read-only mount): a service that cannot write must not start.
  static std::unique_ptr<Database> open(const std::string& url, const Options& options = {});

  virtual Backend backend() const = 0;

  // Applies the backend's migrations not yet recorded in `schema_migrations`, under a lock
  // (BEGIN EXCLUSIVE / pg_advisory_lock) so instances starting together do not race, and ends with
  // a real write (the `emporium_health` row), so a database that cannot be written stops start-up
  // with the reason.
  virtual void migrate(const MigrationSet& migrations) = 0;

  // Runs `fn` in one transaction and commits; rolls back if it throws. May call `fn` again on a
  // retryable conflict, so `fn` must not have effects outside the transaction.
  virtual void transact(TxKind kind, const std::function<void(Tx&)>& fn) = 0;

  template <class F>
  auto with_tx(TxKind kind, F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    using R = decltype(fn(std::declval<Tx&>()));
    if constexpr (std::is_void_v<R>) {
      transact(kind, fn);
    } else {
      std::optional<R> out;
      transact(kind, [&](Tx& tx) { out.emplace(fn(tx)); });
      return std::move(*out);
    }
  }

  // One statement in its own read transaction.
  Result query(std::string_view sql, const Params& params = {}) {
    return with_tx(TxKind::Read, [&](Tx& tx) { return tx.query(sql, params); });
  }

  // True when a trivial query succeeds (used by /readyz); false within the deadlines, never throws.
  virtual bool ping() = 0;

  // A feed of the changes to one table's rows, on a connection of its own (db/change_feed.hpp),
  // not started yet. Throws DbError when the SQLite file cannot be opened.
  virtual std::unique_ptr<ChangeFeed> change_feed(const ChangeFeedSpec& spec) = 0;

  // True when a tiny real write commits (an upsert into the core-owned table `emporium_health`),
  // within the statement/lock deadlines: catches a full disk, an unwritable or moved SQLite file,
  // a read-only PostgreSQL. Used by /readyz's "can write" check; never throws.
  bool can_write();
};

}  // namespace emporium::db
