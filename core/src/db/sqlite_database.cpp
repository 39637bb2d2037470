// SQLite backend: a fixed pool of connections to one file, each with its own cache of prepared
// statements. Concurrency rules (DESIGN §4 db): WAL so readers never wait for the writer, and
// write transactions take the write lock up front with BEGIN IMMEDIATE; a deferred BEGIN that
// reads then writes fails with SQLITE_BUSY under contention whatever the busy timeout.
//
// Faults (DESIGN §4): a write waits for the lock at most until the transaction's lock budget ends
// (an in-process gate lets one writer at a time hold a pooled connection while it waits, so
// readers keep the rest of the pool); storage faults — disk full, I/O errors, a file that became
// read-only — are db::Unavailable, not bugs; a write transaction whose file was moved or deleted
// while open does not commit (its rows would be lost with the unlinked file); a file that cannot
// be written refuses to open.
#include "db/sqlite_database.hpp"

#include "db/pool.hpp"
#include "emporium/util/time.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <set>
#include <thread>

#include <unordered_map>

namespace emporium::db {

namespace {

struct SqliteFree {
  void operator()(char* p) const { sqlite3_free(p); }
};

// Services use a fixed set of SQL texts; the bound only matters if someone builds SQL dynamically.
constexpr std::size_t kMaxCachedStatements = 256;

// Start-up (journal mode, migrations) waits this long for instances starting together.
constexpr auto kStartUpLockWait = std::chrono::seconds(60);
// Storage faults are not over in a second; the readiness check takes the instance out meanwhile.
constexpr long kStorageRetryAfterSeconds = 5;

// True for result codes that say the storage cannot serve writes now, through no fault of the
// request or the code: full disk, I/O errors, a file that became read-only or unopenable,
// corruption, memory. They end as db::Unavailable (503).
bool storage_fault(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_PERM: return true;
    default: return false;
  }
}

// Throws the exception matching an SQLite result code (extended codes are enabled).
[[noreturn]] void raise(sqlite3* db, int rc) {
  std::string msg = "sqlite: ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw RetryableConflict(msg);
  if (storage_fault(rc)) {
    throw Unavailable(msg + " (storage fault, code " + std::to_string(rc) + ")",
                      kStorageRetryAfterSeconds);
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    throw UniqueViolation(msg);
  }
  if (rc == SQLITE_CONSTRAINT_CHECK) throw CheckViolation(msg);
  throw DbError(msg);
}

class Connection {
 public:
  Connection(const std::string& path, const Options& options)
      : path_(path), busy_timeout_(options.busy_timeout_ms) {
    sqlite3* raw = nullptr;
    // The default URL is sqlite:var/<service>.db: create the folder on a fresh checkout.
    std::error_code dir_error;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, dir_error);
    // NOMUTEX: the pool hands a connection to one thread at a time, so SQLite's own
    // per-connection mutex would only cost time.
    int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);  // a handle is returned even on failure and must be closed
    if (rc != SQLITE_OK) {
      throw DbError("sqlite: cannot open " + path + ": " +
                    (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    // SQLite opens a file it may not write read-only without a word; every write would then
    // fail. Refuse now, naming the cause, so the service does not start (and look ready).
    if (sqlite3_db_readonly(raw, "main") == 1) {
      throw DbError("sqlite: " + path +
                    " is read-only (file permissions, an immutable attribute or a read-only "
                    "mount); the service must be able to write its database");
    }
    sqlite3_extended_result_codes(raw, 1);
    // Before journal_mode: switching to WAL needs a lock another process may briefly hold.
    sqlite3_busy_handler(raw, &Connection::on_busy, this);
    deadline_ = Clock::now() + kStartUpLockWait;
    set_wal();
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
  }

  // Lock waits (busy handler) of what runs next on this connection end at `deadline`.
  void set_deadline(Deadline deadline) { deadline_ = deadline; }

  // Unavailable when the database file was moved or deleted since it was opened, or its WAL was
  // deleted: SQLite would keep writing into the unlinked inodes, and a commit would be lost at the
  // next restart. Checked with the write lock held, right before COMMIT.
  void check_not_moved() {
    int moved = 0;
    if (sqlite3_file_control(db_.get(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK) {
      moved = 0;
    }
    // In WAL mode the -wal file exists as long as a connection is open; only a hand removes it.
    struct stat st {};
    const std::string wal = path_ + "-wal";
    if (moved == 0 && ::stat(wal.c_str(), &st) != 0 && errno == ENOENT) moved = 1;
    if (moved != 0) {
      throw Unavailable("sqlite: " + path_ +
                            " was moved or deleted while open; refusing to commit into the "
                            "unlinked file (restart the service once the file is back)",
                        kStorageRetryAfterSeconds);
    }
  }

  sqlite3* handle() const { return db_.get(); }

  // Runs one statement to completion; the statement is cached by its SQL text.
  Result run(std::string_view sql, const Params& params) {
    sqlite3* db = db_.get();
    sqlite3_stmt* stmt = prepare(sql);
    // A cached statement left un-reset would hold its read lock and its (borrowed) bindings.
    struct ResetGuard {
      sqlite3_stmt* stmt;
      ~ResetGuard() {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
      }
    } guard{stmt};

    const int expected = sqlite3_bind_parameter_count(stmt);
    if (static_cast<std::size_t>(expected) != params.size()) {
      throw DbError("sqlite: statement takes " + std::to_string(expected) + " parameters, got " +
                    std::to_string(params.size()));
    }
    for (int i = 0; i < expected; ++i) bind(stmt, i + 1, params[static_cast<std::size_t>(i)]);

    const sqlite3_int64 changes_before = sqlite3_total_changes64(db);
    Result result;
    const int columns = sqlite3_column_count(stmt);
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) raise(db, rc);
      std::vector<Value> cells;
      cells.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) cells.push_back(column(stmt, c));
      result.rows.emplace_back(std::move(cells));
    }
    // sqlite3_changes keeps the count of the last INSERT/UPDATE/DELETE, so a SELECT or DDL
    // would report a stale value; only trust it when this statement changed something.
    if (sqlite3_total_changes64(db) != changes_before) result.affected = sqlite3_changes64(db);
    return result;
  }

  // Runs SQL without parameters, possibly several statements (BEGIN/COMMIT, pragmas, migrations).
  void exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
    std::unique_ptr<char, SqliteFree> free_err(err);
    if (rc != SQLITE_OK) raise(db_.get(), rc);
  }

  // Ends any open transaction; errors are ignored because SQLite may already have rolled back
  // (it does so itself after SQLITE_FULL, IOERR or NOMEM).
  void rollback() noexcept {
    if (sqlite3_get_autocommit(db_.get()) == 0) {
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

 private:
  // Instances starting together on a fresh file race to switch it to WAL. SQLite answers some of
  // those races with SQLITE_BUSY without calling the busy handler (a connection that must
  // upgrade a lock another one waits on), so the switch is tried again until the start-up
  // deadline (CI saw "database locked while enabling WAL" with a single attempt).
  void set_wal() {
    for (int n = 1;; ++n) {
      try {
        Result r = run("PRAGMA journal_mode=WAL", {});
        if (r.empty() || r.one().text(0) != "wal") {
          throw DbError("sqlite: the database file cannot use WAL journaling");
        }
        return;
      } catch (const RetryableConflict&) {
        if (Clock::now() >= deadline_) {
          throw DbError("sqlite: database locked while enabling WAL");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5 * n, 50)));
      }
    }
  }

  // SQLite's busy handler: waits with growing sleeps while the lock is taken, until the current
  // deadline or busy_timeout_ms into this wait, whichever comes first; then SQLITE_BUSY.
  static int on_busy(void* self, int count) {
    auto* conn = static_cast<Connection*>(self);
    const auto now = Clock::now();
    if (count == 0) conn->busy_since_ = now;
    const Deadline limit = std::min(
        conn->deadline_, conn->busy_since_ + std::chrono::milliseconds(conn->busy_timeout_));
    if (now >= limit) return 0;
    static constexpr int kDelaysMs[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50};
    constexpr int kSteps = static_cast<int>(std::size(kDelaysMs));
    const auto delay = std::chrono::milliseconds(kDelaysMs[std::min(count, kSteps - 1)]);
    std::this_thread::sleep_for(std::min<Clock::duration>(delay, limit - now));
    return 1;
  }

  sqlite3_stmt* prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();

    const std::string rewritten = rewrite_placeholders(sql);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), rewritten.c_str(), static_cast<int>(rewritten.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, &tail);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) raise(db_.get(), rc);
    if (!stmt) throw DbError("sqlite: empty statement");
    // PostgreSQL refuses several commands in one parameterised query; refuse them here too
    // rather than silently ignoring all but the first.
    if (tail != nullptr && *tail != '\0') {
      sqlite3_stmt* extra = nullptr;
      sqlite3_prepare_v2(db_.get(), tail, -1, &extra, nullptr);
      StmtPtr extra_owner(extra);
      if (extra != nullptr) throw DbError("sqlite: one statement per query");
    }

    if (cache_.size() >= kMaxCachedStatements) cache_.clear();
    sqlite3_stmt* out = stmt.get();
    cache_.emplace(std::move(key), std::move(stmt));
    return out;
  }

  static void bind(sqlite3_stmt* stmt, int index, const Value& value) {
    int rc = SQLITE_OK;
    if (auto* n = std::get_if<std::int64_t>(&value)) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (auto* d = std::get_if<double>(&value)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else if (auto* s = std::get_if<std::string>(&value)) {
      // SQLITE_STATIC: `params` outlives the step loop and the guard clears the bindings.
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      rc = sqlite3_bind_null(stmt, index);
    }
    if (rc != SQLITE_OK) raise(sqlite3_db_handle(stmt), rc);
  }

  static Value column(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER: return static_cast<std::int64_t>(sqlite3_column_int64(stmt, c));
      case SQLITE_FLOAT: return sqlite3_column_double(stmt, c);
      case SQLITE_NULL: return nullptr;
      default: {
        // TEXT or BLOB: take the bytes as stored (pointer first, then the length).
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, c));
        const int size = sqlite3_column_bytes(stmt, c);
        return p != nullptr ? std::string(p, static_cast<std::size_t>(size)) : std::string();
      }
    }
  }

  std::string path_;
  int busy_timeout_;
  Deadline deadline_{};
  Deadline busy_since_{};
  // Declared before the cache so it is destroyed last, after the statements that belong to it.
  DbPtr db_;
  std::unordered_map<std::string, StmtPtr> cache_;
};

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(Connection& conn) : conn_(conn) {}

  Result query(std::string_view sql, const Params& params) override {
    // Both remembered even if `fn` swallows the exception: the attempt must not commit.
    try {
      return conn_.run(sql, params);
    } catch (const RetryableConflict&) {
      conflict_ = true;
      throw;
    } catch (const Unavailable& e) {
      if (!failure_) failure_.emplace(e);
      throw;
    }
  }

  bool conflict() const { return conflict_; }
  const std::optional<Unavailable>& failure() const { return failure_; }

 private:
  Connection& conn_;
  bool conflict_ = false;
  std::optional<Unavailable> failure_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(const std::string& path, const Options& options)
      : path_(path), options_(options), slots_(static_cast<std::size_t>(options.pool_size)) {
    connections_.reserve(static_cast<std::size_t>(options.pool_size));
    for (int i = 0; i < options.pool_size; ++i) {
      connections_.push_back(std::make_unique<Connection>(path, options));
    }
  }

  Backend backend() const override { return Backend::Sqlite; }

  std::unique_ptr<ChangeFeed> change_feed(const ChangeFeedSpec& spec) override {
    return open_sqlite_change_feed(path_, options_, spec);
  }

  void transact(TxKind kind, const std::function<void(Tx&)>& fn) override {
    const bool write = kind == TxKind::Write || kind == TxKind::WriteCommitted;
    // The whole wait of this transaction for the write lock: gate, busy waits and retries.
    const Deadline budget = after_ms(options_.lock_timeout_ms);
    std::optional<WriteGate::Pass> pass;
    if (write) pass.emplace(write_gate_.enter(budget));
    run_with_retries(budget, options_.max_attempts, [&] {
      auto lease = slots_.acquire(std::min(budget, after_ms(options_.acquire_timeout_ms)));
      Connection& conn = *connections_[lease.index()];
      conn.set_deadline(budget);
      conn.rollback();  // a failed ROLLBACK earlier may have left a transaction open
      try {
        conn.exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
      } catch (const RetryableConflict&) {
        return false;
      }
      SqliteTx tx(conn);
      try {
        fn(tx);
      } catch (...) {
        conn.rollback();
        if (tx.conflict()) return false;  // whatever `fn` made of the conflict, run it again
        throw;
      }
      if (tx.conflict()) {
        conn.rollback();
        return false;
      }
      try {
        if (tx.failure()) throw *tx.failure();  // `fn` swallowed a storage fault
        if (write) conn.check_not_moved();
        conn.exec("COMMIT");
      } catch (const RetryableConflict&) {
        conn.rollback();
        return false;
      } catch (...) {
        conn.rollback();
        throw;
      }
      return true;
    });
  }

  void migrate(const MigrationSet& migrations) override {
    const auto core = core_schema::migrations();
    const auto core_todo = in_version_order(core.sqlite);
    const auto service_todo = in_version_order(migrations.sqlite);

    auto lease = slots_.acquire(after_ms(options_.acquire_timeout_ms));
    Connection& conn = *connections_[lease.index()];
    conn.rollback();
    // Another instance migrating holds the lock: wait for it as long as start-up allows.
    const Deadline give_up = Clock::now() + kStartUpLockWait;
    conn.set_deadline(give_up);
    for (;;) {
      try {
        conn.exec("BEGIN EXCLUSIVE");
        break;
      } catch (const RetryableConflict& e) {
        if (Clock::now() >= give_up) {
          throw DbError(std::string("migrations: the database stayed locked: ") + e.what());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    try {
      apply(conn, kCoreMigrationsTable, core_todo);
      apply(conn, kServiceMigrationsTable, service_todo);
      // A real write, even when every migration was applied before: a file that cannot be
      // written (disk full, I/O errors) stops start-up here instead of failing every request.
      conn.run(kHealthUpsert, {iso8601(now_ms())});
      conn.exec("COMMIT");
    } catch (...) {
      conn.rollback();
      throw;
    }
  }

  bool ping() override {
    try {
      auto lease = slots_.try_acquire_until(after_ms(options_.acquire_timeout_ms));
      if (!lease) return false;
      Connection& conn = *connections_[lease->index()];
      conn.set_deadline(after_ms(options_.lock_timeout_ms));
      Result r = conn.run("SELECT 1", {});
      return !r.empty() && r.one().integer(0) == 1;
    } catch (...) {
      return false;
    }
  }

 private:
  // Applies the migrations of one namespace not yet recorded in `table`, inside the caller's
  // exclusive transaction.
  static void apply(Connection& conn, const char* table,
                    const std::vector<const Migration*>& todo) {
    const std::string name(table);
    conn.exec(("CREATE TABLE IF NOT EXISTS " + name +
               " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                  .c_str());
    std::set<std::int64_t> applied;
    for (const Row& row : conn.run("SELECT version FROM " + name, {}).rows) {
      applied.insert(row.integer(0));
    }
    for (const Migration* m : todo) {
      if (applied.count(m->version) != 0) continue;
      char* err = nullptr;
      int rc = sqlite3_exec(conn.handle(), m->sql.c_str(), nullptr, nullptr, &err);
      std::unique_ptr<char, SqliteFree> free_err(err);
      if (rc != SQLITE_OK) {
        throw DbError(name + " migration " + std::to_string(m->version) + " (" + m->name +
                      ") failed: " + (err != nullptr ? err : sqlite3_errstr(rc)));
      }
      conn.run("INSERT INTO " + name + " (version, name, applied_at) VALUES ($1, $2, $3)",
               {std::int64_t{m->version}, m->name, iso8601(now_ms())});
    }
  }

  std::string path_;
  Options options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  ConnectionSlots slots_;
  WriteGate write_gate_;
};

bool is_identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

}  // namespace

std::string rewrite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  const std::size_t n = sql.size();
  std::size_t i = 0;
  // Copies sql[i, end) verbatim; used for literals, quoted identifiers and comments.
  auto copy_until = [&](std::size_t end) {
    end = std::min(end, n);
    out.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < n) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      // A doubled quote ('it''s') closes and immediately reopens, which this loop handles.
      std::size_t close = sql.find(c, i + 1);
      copy_until(close == std::string_view::npos ? n : close + 1);
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      std::size_t eol = sql.find('\n', i);
      copy_until(eol == std::string_view::npos ? n : eol + 1);
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      std::size_t close = sql.find("*/", i + 2);
      copy_until(close == std::string_view::npos ? n : close + 2);
    } else if (c == '$' && i + 1 < n && std::isdigit(static_cast<unsigned char>(sql[i + 1])) &&
               (i == 0 || !is_identifier_char(sql[i - 1]))) {
      out += '?';  // the digits follow unchanged
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::unique_ptr<Database> open_sqlite(const std::string& path, const Options& options) {
  return std::make_unique<SqliteDatabase>(path, options);
}

}  // namespace emporium::db
