// PostgreSQL backend over libpq: a fixed pool of sessions, made on first use and replaced when
// found broken. Statements go through PQsendQueryParams with text parameters and text results;
// values stay strings and Row converts them. Write transactions run at REPEATABLE READ, so a
// read-then-write on a row another transaction changed fails with 40001 and is run again
// instead of losing an update (DESIGN §4 db).
//
// Every libpq call is bounded (DESIGN §4): sessions are non-blocking, connects and round trips
// wait with poll() on the socket until a deadline, and a server that stays silent past it (frozen,
// partitioned) cannot be asked to cancel, so the session is dropped and the caller gets
// db::Unavailable; the next use connects again, so service resumes by itself. The server bounds
// its side too (statement_timeout, lock_timeout), TCP keepalives and tcp_user_timeout find dead
// peers of idle sessions. A COMMIT whose answer never came has an unknown outcome: it is
// reported as Unavailable and never run again.
#include "db/postgres_database.hpp"

#include "db/pool.hpp"
#include "emporium/util/time.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <set>

namespace emporium::db {

namespace {

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClear {
  void operator()(PGresult* res) const { PQclear(res); }
};
struct ConninfoFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

// pg_advisory_lock key for migrations ("emporium" in ASCII): every instance must use the same.
constexpr std::int64_t kMigrationLockKey = 0x656d706f7269756d;
// The client waits this much longer than the server's statement_timeout before it decides the
// server is not answering at all: an alive server reports its own timeout first.
constexpr int kClientGraceMs = 1000;
// Migrations may run long and wait for another instance's migrations: no client deadline.
constexpr Deadline kNoDeadline = Deadline::max();

// The session is gone (server restart, network, idle timeout). Internal: transact turns it into
// db::Unavailable, migrate lets it through as the DbError it is.
class ConnectionLost : public DbError {
 public:
  using DbError::DbError;
};
// No answer before the deadline; the session was dropped. Unlike a session found dead, this is
// not worth an immediate second try: the server may be frozen.
class NoAnswer : public ConnectionLost {
 public:
  using ConnectionLost::ConnectionLost;
};

// CREATE TABLE IF NOT EXISTS and friends emit NOTICEs that libpq would print on stderr.
void ignore_notice(void*, const char*) {}

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Waits until `fd` is ready for `events`; false when `deadline` passes first.
bool wait_socket(int fd, short events, Deadline deadline) {
  for (;;) {
    const int left = deadline == kNoDeadline ? -1 : ms_until(deadline);
    if (left == 0) return false;
    pollfd pfd{fd, events, 0};
    const int n = ::poll(&pfd, 1, left);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq find and report the error
  }
}

class Connection {
 public:
  Connection(const std::string& url, const Options& options) : url_(url), options_(options) {}

  // The client deadline of one round trip starting now.
  Deadline statement_deadline() const {
    return after_ms(options_.statement_timeout_ms + kClientGraceMs);
  }

  // Makes sure a live session exists: connects on first use or after one was dropped or broke.
  void ensure() {
    if (conn_ && PQstatus(conn_.get()) != CONNECTION_OK) drop();
    if (!conn_) connect(after_ms(options_.connect_timeout_ms));
    // A session handed back mid-transaction (a failed ROLLBACK) must not leak into the next use.
    rollback();
  }

  // One statement with parameters.
  Result run(std::string_view sql, const Params& params) {
    return run(sql, params, statement_deadline());
  }

  Result run(std::string_view sql, const Params& params, Deadline deadline) {
    const std::string text(sql);
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (auto* n = std::get_if<std::int64_t>(&v)) {
        storage[i] = std::to_string(*n);
      } else if (auto* d = std::get_if<double>(&v)) {
        // Same digits as %.17g (round-trips every double) but independent of the C locale.
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d, std::chars_format::general, 17);
        storage[i].assign(buf, ec == std::errc() ? end : buf);
      } else if (auto* s = std::get_if<std::string>(&v)) {
        // libpq takes C strings: a NUL would silently cut the value (PostgreSQL text cannot
        // hold one anyway), so callers must reject it before it gets here.
        if (s->find('\0') != std::string::npos) {
          throw DbError("postgres: parameter $" + std::to_string(i + 1) + " contains a NUL byte");
        }
        values[i] = s->c_str();
        continue;
      } else {
        continue;  // NULL
      }
      values[i] = storage[i].c_str();
    }
    ResultPtr res = exchange(
        [&](PGconn* conn) {
          return PQsendQueryParams(conn, text.c_str(), static_cast<int>(params.size()), nullptr,
                                   values.data(), nullptr, nullptr, 0);
        },
        deadline);
    check(res.get());
    return convert(res.get());
  }

  // Parameterless SQL, possibly several statements; returns the last command tag.
  std::string command(const std::string& sql) { return command(sql, statement_deadline()); }

  std::string command(const std::string& sql, Deadline deadline) {
    ResultPtr res =
        exchange([&](PGconn* conn) { return PQsendQuery(conn, sql.c_str()); }, deadline);
    // A migration file holding only comments is empty, not an error (as for sqlite3_exec).
    if (res && PQresultStatus(res.get()) == PGRES_EMPTY_QUERY) return {};
    check(res.get());
    return PQcmdStatus(res.get());
  }

  // Ends an open transaction; a session that cannot do that is dropped.
  void rollback() noexcept {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK &&
        PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      try {
        command("ROLLBACK");
      } catch (...) {
        drop();
      }
    }
  }

  bool in_failed_transaction() const {
    return conn_ && PQtransactionStatus(conn_.get()) == PQTRANS_INERROR;
  }

  // Server-side bounds of every statement of the session (DESIGN §4).
  void limit_statements(Deadline deadline) {
    command("SET statement_timeout = " + std::to_string(options_.statement_timeout_ms) +
                "; SET lock_timeout = " + std::to_string(options_.lock_timeout_ms),
            deadline);
  }
  // For migrations, which may legitimately run long or wait for another instance's.
  void unlimit_statements() { command("SET statement_timeout = 0; SET lock_timeout = 0"); }

  // SELECT 1 within the statement deadline.
  bool ping() {
    ResultPtr res =
        exchange([](PGconn* conn) { return PQsendQuery(conn, "SELECT 1"); }, statement_deadline());
    return res && PQresultStatus(res.get()) == PGRES_TUPLES_OK && PQntuples(res.get()) == 1;
  }

  void drop() noexcept { conn_.reset(); }

 private:
  // Starts a session without ever blocking past `deadline`; throws NoAnswer or ConnectionLost.
  void connect(Deadline deadline) {
    // Keywords before dbname are defaults the URL may override; expand_dbname=1 parses the URL.
    // connect_timeout only matters to libpq's blocking calls (and is at least 2 s); the deadline
    // below is what bounds this one. Keepalives find a dead peer of an idle session;
    // tcp_user_timeout one that stopped acknowledging what was sent.
    const std::string connect_s =
        std::to_string(std::max(2, (options_.connect_timeout_ms + 999) / 1000));
    const std::string user_timeout_ms =
        std::to_string(options_.statement_timeout_ms + kClientGraceMs);
    const char* const keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                                "client_encoding",     "dbname",           nullptr};
    const char* const values[] = {connect_s.c_str(),       "1",    "10",         "5",    "3",
                                  user_timeout_ms.c_str(), "UTF8", url_.c_str(), nullptr};
    ConnPtr conn(PQconnectStartParams(keys, values, 1));
    if (!conn) throw ConnectionLost("postgres: cannot allocate a connection");
    auto failed = [&] {
      return ConnectionLost("postgres: cannot connect: " + trimmed(PQerrorMessage(conn.get())));
    };
    if (PQstatus(conn.get()) == CONNECTION_BAD) throw failed();
    // As the libpq manual says: start as if PQconnectPoll had answered PGRES_POLLING_WRITING.
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
      if (status == PGRES_POLLING_FAILED) throw failed();
      const short events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      if (!wait_socket(PQsocket(conn.get()), events, deadline)) {
        throw NoAnswer("postgres: cannot connect: no answer within DB_CONNECT_TIMEOUT_MS (" +
                       std::to_string(options_.connect_timeout_ms) + " ms)");
      }
      status = PQconnectPoll(conn.get());
    }
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    if (PQsetnonblocking(conn.get(), 1) != 0) throw failed();
    conn_ = std::move(conn);
    limit_statements(deadline);
  }

  // Sends one query with `send` and collects its results until `deadline`: the first failed
  // result if any, else the last. A server silent past the deadline cannot be asked to cancel
  // (it may be frozen): the session is dropped and NoAnswer thrown.
  ResultPtr exchange(const std::function<int(PGconn*)>& send, Deadline deadline) {
    if (!conn_) throw ConnectionLost("postgres: the session was dropped");
    PGconn* conn = conn_.get();
    if (send(conn) == 0) lost();
    // Non-blocking: push the query out as the socket takes it, reading meanwhile so that the
    // server is never stuck writing to us.
    for (;;) {
      const int pending = PQflush(conn);
      if (pending == 0) break;
      if (pending < 0) lost();
      await(POLLIN | POLLOUT, deadline);
      if (PQconsumeInput(conn) == 0) lost();
    }
    ResultPtr failure;
    ResultPtr last;
    for (;;) {
      while (PQisBusy(conn) != 0) {
        await(POLLIN, deadline);
        if (PQconsumeInput(conn) == 0) lost();
      }
      PGresult* raw = PQgetResult(conn);
      if (raw == nullptr) break;
      ResultPtr res(raw);
      if (PQresultStatus(raw) == PGRES_FATAL_ERROR) {
        if (!failure) failure = std::move(res);
      } else {
        last = std::move(res);
      }
    }
    return failure ? std::move(failure) : std::move(last);
  }

  void await(short events, Deadline deadline) {
    if (!wait_socket(PQsocket(conn_.get()), events, deadline)) {
      drop();
      throw NoAnswer("postgres: no answer within the statement deadline (DB_STATEMENT_TIMEOUT_MS " +
                     std::to_string(options_.statement_timeout_ms) + " ms + " +
                     std::to_string(kClientGraceMs) + " ms); the session was dropped");
    }
  }

  [[noreturn]] void lost() {
    std::string msg = "postgres: " + trimmed(PQerrorMessage(conn_.get()));
    drop();
    throw ConnectionLost(msg);
  }

  // Throws the exception matching a failed result.
  void check(const PGresult* res) {
    const ExecStatusType status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
    PGconn* conn = conn_.get();
    std::string msg = "postgres: ";
    if (res != nullptr && *PQresultErrorMessage(res) != '\0') {
      msg += trimmed(PQresultErrorMessage(res));
    } else if (res != nullptr && status != PGRES_FATAL_ERROR) {
      msg += std::string("unexpected result ") + PQresStatus(status);
    } else {
      msg += trimmed(PQerrorMessage(conn));
    }
    if (PQstatus(conn) != CONNECTION_OK) throw ConnectionLost(msg);
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const std::string_view sqlstate = state != nullptr ? state : "";
    if (sqlstate == "40001" || sqlstate == "40P01") throw RetryableConflict(msg);
    if (sqlstate == "23505") throw UniqueViolation(msg);
    if (sqlstate == "23514") throw CheckViolation(msg);
    // The server is alive but cannot serve this now: a deadline it enforced (statement_timeout
    // 57014, lock_timeout 55P03), a read-only server (25006), insufficient resources such as a
    // full disk (53xxx), an I/O error (58xxx), shutting down (57P0x), a broken link (08xxx).
    if (sqlstate == "57014" || sqlstate == "55P03" || sqlstate == "25006" ||
        sqlstate.starts_with("53") || sqlstate.starts_with("58") || sqlstate.starts_with("57P") ||
        sqlstate.starts_with("08")) {
      throw Unavailable(msg, 1);
    }
    throw DbError(msg);
  }

  static Result convert(const PGresult* res) {
    Result result;
    const int rows = PQntuples(res);
    const int columns = PQnfields(res);
    result.rows.reserve(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      std::vector<Value> cells;
      cells.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(res, r, c) != 0) {
          cells.emplace_back(nullptr);
        } else {
          cells.emplace_back(
              std::string(PQgetvalue(res, r, c), static_cast<std::size_t>(PQgetlength(res, r, c))));
        }
      }
      result.rows.emplace_back(std::move(cells));
    }
    // PQcmdTuples also counts SELECT rows; report only changed rows, as SQLite does.
    const std::string_view tag = PQcmdStatus(const_cast<PGresult*>(res));
    if (tag.starts_with("INSERT ") || tag.starts_with("UPDATE ") || tag.starts_with("DELETE ") ||
        tag.starts_with("MERGE ")) {
      const std::string_view count = PQcmdTuples(const_cast<PGresult*>(res));
      std::from_chars(count.data(), count.data() + count.size(), result.affected);
    }
    return result;
  }

  std::string url_;
  Options options_;
  ConnPtr conn_;
};

class PgTx final : public Tx {
 public:
  explicit PgTx(Connection& conn) : conn_(conn) {}

  Result query(std::string_view sql, const Params& params) override {
    // Remembered even if `fn` swallows the exception, so the attempt cannot commit.
    try {
      return conn_.run(sql, params);
    } catch (const RetryableConflict&) {
      conflict_ = true;
      throw;
    } catch (const ConnectionLost& e) {
      if (!lost_) lost_.emplace(std::string("postgres: database unavailable: ") + e.what(), 1);
      timed_out_ = timed_out_ || dynamic_cast<const NoAnswer*>(&e) != nullptr;
      throw;
    } catch (const Unavailable& e) {
      if (!failure_) failure_.emplace(e);
      throw;
    }
  }

  bool conflict() const { return conflict_; }
  // The session broke or went silent during `fn`.
  const std::optional<Unavailable>& lost() const { return lost_; }
  bool timed_out() const { return timed_out_; }
  // The server refused a statement for a reason that is not the request's (Unavailable).
  const std::optional<Unavailable>& failure() const { return failure_; }

 private:
  Connection& conn_;
  bool conflict_ = false;
  bool timed_out_ = false;
  std::optional<Unavailable> lost_;
  std::optional<Unavailable> failure_;
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(const std::string& url, const Options& options)
      : url_(url), options_(options), slots_(static_cast<std::size_t>(options.pool_size)) {
    connections_.reserve(static_cast<std::size_t>(options.pool_size));
    for (int i = 0; i < options.pool_size; ++i) {
      connections_.push_back(std::make_unique<Connection>(url, options));
    }
  }

  Backend backend() const override { return Backend::Postgres; }

  std::unique_ptr<ChangeFeed> change_feed(const ChangeFeedSpec& spec) override {
    return open_postgres_change_feed(url_, options_, spec);
  }

  void transact(TxKind kind, const std::function<void(Tx&)>& fn) override {
    if (kind == TxKind::Read) {
      read(fn);
      return;
    }
    const char* begin = kind == TxKind::Write ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                        : kind == TxKind::Snapshot
                            ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                            : "BEGIN ISOLATION LEVEL READ COMMITTED";
    run_with_retries(after_ms(options_.lock_timeout_ms), options_.max_attempts, [&] {
      auto lease = slots_.acquire(after_ms(options_.acquire_timeout_ms));
      Connection& conn = *connections_[lease.index()];
      start(conn, begin);
      PgTx tx(conn);
      try {
        fn(tx);
      } catch (...) {
        conn.rollback();
        if (tx.conflict()) return false;  // whatever `fn` made of the conflict, run it again
        if (tx.lost()) throw *tx.lost();
        throw;
      }
      if (tx.conflict()) {
        conn.rollback();
        return false;
      }
      if (tx.lost()) throw *tx.lost();
      if (tx.failure()) {  // `fn` swallowed it
        conn.rollback();
        throw *tx.failure();
      }
      // `fn` swallowed a failed statement: PostgreSQL would answer COMMIT with ROLLBACK.
      if (conn.in_failed_transaction()) {
        conn.rollback();
        throw DbError("postgres: a statement failed, so the transaction was rolled back");
      }
      std::string tag;
      try {
        tag = conn.command("COMMIT");
      } catch (const RetryableConflict&) {
        conn.rollback();
        return false;
      } catch (const ConnectionLost& e) {
        // The COMMIT may or may not have happened: never run the transaction again blindly.
        throw Unavailable(
            std::string("postgres: COMMIT got no answer, its outcome is unknown: ") + e.what(), 1);
      } catch (...) {
        conn.rollback();
        throw;
      }
      if (tag != "COMMIT") throw DbError("postgres: COMMIT answered " + tag);
      return true;
    });
  }

  // A READ COMMITTED transaction takes a new snapshot for every statement, so a read gains nothing
  // from BEGIN/COMMIT but two round trips: reads run in autocommit mode. A session found dead is
  // replaced and the read tried once more (it changed nothing); a silent one is not (the server
  // may be frozen: a second wait would only double the request's).
  void read(const std::function<void(Tx&)>& fn) {
    bool reconnected = false;
    run_with_retries(after_ms(options_.lock_timeout_ms), options_.max_attempts, [&] {
      auto lease = slots_.acquire(after_ms(options_.acquire_timeout_ms));
      Connection& conn = *connections_[lease.index()];
      try {
        conn.ensure();
      } catch (const ConnectionLost& e) {
        throw Unavailable(std::string("postgres: database unavailable: ") + e.what(), 1);
      }
      PgTx tx(conn);
      const auto lost_again = [&] {
        if (reconnected || tx.timed_out()) throw *tx.lost();
        reconnected = true;
        return false;
      };
      try {
        fn(tx);
      } catch (...) {
        if (tx.conflict()) return false;
        if (tx.lost()) return lost_again();
        throw;
      }
      if (tx.conflict()) return false;
      if (tx.lost()) return lost_again();
      if (tx.failure()) throw *tx.failure();
      return true;
    });
  }

  void migrate(const MigrationSet& migrations) override {
    const auto core = core_schema::migrations();
    const auto core_todo = in_version_order(core.postgres);
    const auto service_todo = in_version_order(migrations.postgres);

    auto lease = slots_.acquire(after_ms(options_.acquire_timeout_ms));
    Connection& conn = *connections_[lease.index()];
    conn.ensure();  // at start-up a connection failure is a DbError with libpq's reason
    // Session-level lock: held across the per-migration transactions below, released by the
    // guard (or by the server if the session dies), which also restores the session's bounds
    // lifted here, whatever happens from now on (unlocking a lock not taken only warns).
    const std::string key = std::to_string(kMigrationLockKey);
    conn.unlimit_statements();
    struct Unlock {
      Connection& conn;
      const std::string& key;
      ~Unlock() {
        try {
          conn.rollback();
          conn.command("SELECT pg_advisory_unlock(" + key + ")");
          conn.limit_statements(conn.statement_deadline());
        } catch (...) {  // a dead session has released the lock already
          conn.drop();
        }
      }
    } unlock{conn, key};
    conn.command("SELECT pg_advisory_lock(" + key + ")", kNoDeadline);

    apply(conn, kCoreMigrationsTable, core_todo);
    apply(conn, kServiceMigrationsTable, service_todo);
    // A real write, even when every migration was applied before: a server that cannot take
    // writes (read-only standby, full disk) stops start-up here with its reason.
    conn.run(kHealthUpsert, {iso8601(now_ms())});
  }

  bool ping() override {
    try {
      auto lease = slots_.try_acquire_until(after_ms(options_.acquire_timeout_ms));
      if (!lease) return false;
      Connection& conn = *connections_[lease->index()];
      conn.ensure();
      return conn.ping();
    } catch (...) {
      return false;
    }
  }

 private:
  // Applies the migrations of one namespace not yet recorded in `table`, each in its own
  // transaction, under the caller's advisory lock.
  static void apply(Connection& conn, const char* table,
                    const std::vector<const Migration*>& todo) {
    const std::string name(table);
    conn.command("CREATE TABLE IF NOT EXISTS " + name +
                     " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                 kNoDeadline);
    std::set<std::int64_t> applied;
    for (const Row& row : conn.run("SELECT version FROM " + name, {}).rows) {
      applied.insert(row.integer(0));
    }
    for (const Migration* m : todo) {
      if (applied.count(m->version) != 0) continue;
      conn.command("BEGIN");
      try {
        conn.command(m->sql, kNoDeadline);
      } catch (const DbError& e) {
        conn.rollback();
        throw DbError(name + " migration " + std::to_string(m->version) + " (" + m->name +
                      ") failed: " + e.what());
      }
      conn.run("INSERT INTO " + name + " (version, name, applied_at) VALUES ($1, $2, $3)",
               {std::int64_t{m->version}, m->name, iso8601(now_ms())}, kNoDeadline);
      conn.command("COMMIT", kNoDeadline);
    }
  }

  void start(Connection& conn, const std::string& begin) {
    try {
      conn.ensure();
      try {
        conn.command(begin);
      } catch (const NoAnswer&) {
        throw;
      } catch (const ConnectionLost&) {
        // The session died while idle in the pool (server restart, idle timeout) and nothing of
        // this transaction was sent yet: reconnect once.
        conn.ensure();
        conn.command(begin);
      }
    } catch (const ConnectionLost& e) {
      throw Unavailable(std::string("postgres: database unavailable: ") + e.what(), 1);
    }
  }

  std::string url_;
  Options options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  ConnectionSlots slots_;
};

}  // namespace

std::unique_ptr<Database> open_postgres(const std::string& url, const Options& options) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoFree> parsed(PQconninfoParse(url.c_str(), &err));
  if (!parsed) {
    std::string why = trimmed(err);
    PQfreemem(err);
    throw std::invalid_argument("DATABASE_URL is not a valid PostgreSQL URL: " + why);
  }
  return std::make_unique<PostgresDatabase>(url, options);
}

}  // namespace emporium::db
