// PostgreSQL backend over libpq: a fixed pool of sessions, made on first use and replaced when
// found broken. Statements go through the extended protocol with text parameters and text
// results; values stay strings and Row converts them. Tx::query's statements are prepared once
// per session (Connection::run_prepared), so the server parses and plans a text once rather than
// on every call; everything else (migrations, BEGIN/COMMIT, session settings) is sent as it
// comes. Write transactions run at REPEATABLE READ, so a read-then-write on a row another
// transaction changed fails with 40001 and is run again instead of losing an update (DESIGN §4
// db).
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
#include <unordered_map>

namespace emporium::db {

namespace {

struct ResultClear {
  void operator()(PGresult* res) const { PQclear(res); }
};
struct ConninfoFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

// pg_advisory_lock key for migrations ("emporium" in ASCII): every instance must use the same.
constexpr std::int64_t kMigrationLockKey = 0x656d706f7269756d;
// The client waits this much longer than the server's statement_timeout before it decides the
// server is not answering at all: an alive server reports its own timeout first.
constexpr int kClientGraceMs = 1000;
// Migrations may run long and wait for another instance's migrations: no client deadline.
constexpr Deadline kNoDeadline = Deadline::max();
// Prepared statements one session keeps at most. The services' SQL is named constants, but some
// texts are assembled (product listings: one text per filter combination and `ids` count; order
// lines: one per line count), so a client could make many. Past the bound the least recently
// used statement is forgotten and DEALLOCATEd when the session is next taken from the pool
// (Connection::release_retired): a hot text that arrives late still gets prepared, which
// "stop preparing when full" would not give, and the server keeps at most this many (plus the
// few retired since the last use) per session.
constexpr std::size_t kMaxPreparedStatements = 256;

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

// PostgreSQL's error code of a failed result ("" when there is none).
std::string_view sqlstate_of(const PGresult* res) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? state : "";
}

// Parameters as libpq takes them: text, NULL as a null pointer.
struct TextParams {
  std::vector<std::string> storage;
  std::vector<const char*> values;

  explicit TextParams(const Params& params) : storage(params.size()), values(params.size()) {
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
  }
  TextParams(const TextParams&) = delete;  // `values` points into `storage`
  TextParams& operator=(const TextParams&) = delete;

  int count() const { return static_cast<int>(values.size()); }
};

// Heterogeneous lookup: a string_view finds a std::string key without a copy.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

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
    release_retired();
  }

  // One statement with parameters.
  Result run(std::string_view sql, const Params& params) {
    return run(sql, params, statement_deadline());
  }

  Result run(std::string_view sql, const Params& params, Deadline deadline) {
    const TextParams text(params);
    return run_unprepared(std::string(sql), text, deadline);
  }

  // Tx::query's statements: each text is prepared once per session under a name of its own
  // (e1, e2, …) and then executed by name, so the server parses, analyses and plans it once. The
  // Parse message is the one PQsendQueryParams sends (no parameter types: the server infers
  // them), so parameters, results and errors are those of run(). The first use costs a second
  // round trip; both share the one statement deadline, so a silent server still ends the call
  // within it. Names are session state: drop() forgets them all.
  //
  // Plans: under plan_cache_mode = auto (set on connect) the server plans each execution for its
  // values (custom plans) and after five of them switches to one generic plan only when that is
  // estimated no dearer. Point reads go generic (planning 0.005 ms instead of ~0.1 ms); product
  // listings stay custom, since their `LIMIT $n` makes a generic plan assume 10% of the rows
  // (checked on 20,000 products with a 99%/1% category and search-word skew: 9 custom of 9).
  Result run_prepared(std::string_view sql, const Params& params) {
    const Deadline deadline = statement_deadline();
    const TextParams text(params);
    // In a failed transaction the server refuses PREPARE as it refuses the statement: send it
    // as before, so the error is the one it always was and no name is taken for nothing.
    if (!conn_ || PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
      return run_unprepared(std::string(sql), text, deadline);
    }
    auto found = statements_.find(sql);
    const bool prepared_before = found != statements_.end();
    std::string name;
    if (prepared_before) {
      name = found->second.name;
      found->second.last_use = ++uses_;
    } else {
      name = "e" + std::to_string(++serial_);
      const std::string key(sql);
      ResultPtr res = exchange(
          [&](PGconn* conn) {
            return PQsendPrepare(conn, name.c_str(), key.c_str(), text.count(), nullptr);
          },
          deadline);
      check(res.get());  // refused (invalid SQL, several statements, …): nothing to remember
      if (statements_.size() >= kMaxPreparedStatements) retire_least_recently_used();
      statements_.emplace(key, Prepared{name, ++uses_});
    }
    ResultPtr res = exchange(
        [&](PGconn* conn) {
          return PQsendQueryPrepared(conn, name.c_str(), text.count(), text.values.data(), nullptr,
                                     nullptr, 0);
        },
        deadline);
    // "cached plan must not change result type": DDL (another instance's migration) changed
    // the columns of a text prepared earlier, and its name would fail so for the session's
    // whole life. Retire it and run the transaction again, which prepares the text anew; a
    // text prepared just now failing so is reported as it is.
    if (prepared_before && PQresultStatus(res.get()) == PGRES_FATAL_ERROR &&
        sqlstate_of(res.get()) == "0A000" && PQstatus(conn_.get()) == CONNECTION_OK) {
      retire(sql);
      throw RetryableConflict("postgres: " + trimmed(PQresultErrorMessage(res.get())) +
                              " (prepared statement " + name + ", prepared again on retry)");
    }
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

  // Server-side bounds of every statement of the session (DESIGN §4), and the plan choice of
  // its prepared statements (run_prepared), stated so that a server or role configured
  // otherwise does not change our plans.
  void limit_statements(Deadline deadline) {
    command("SET statement_timeout = " + std::to_string(options_.statement_timeout_ms) +
                "; SET lock_timeout = " + std::to_string(options_.lock_timeout_ms) +
                "; SET plan_cache_mode = auto",
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

  // A new session has no prepared statements: the names die with this one.
  void drop() noexcept {
    conn_.reset();
    statements_.clear();
    retired_.clear();
    serial_ = 0;
  }

 private:
  struct Prepared {
    std::string name;
    std::uint64_t last_use;
  };

  Result run_unprepared(const std::string& sql, const TextParams& text, Deadline deadline) {
    ResultPtr res = exchange(
        [&](PGconn* conn) {
          return PQsendQueryParams(conn, sql.c_str(), text.count(), nullptr, text.values.data(),
                                   nullptr, nullptr, 0);
        },
        deadline);
    check(res.get());
    return convert(res.get());
  }

  // Forgets a prepared text; its name is DEALLOCATEd when the session is next taken (a failed
  // transaction could not run DEALLOCATE now, and a live one need not wait for it).
  void retire(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) return;
    retired_.push_back(std::move(it->second.name));
    statements_.erase(it);
  }

  void retire_least_recently_used() {
    auto oldest = std::min_element(
        statements_.begin(), statements_.end(),
        [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
    if (oldest != statements_.end()) retire(oldest->first);
  }

  // One round trip for all retired names, between transactions; a session that cannot do that
  // is dropped (and with it every name).
  void release_retired() noexcept {
    if (retired_.empty() || !conn_) return;
    try {
      std::string sql;
      for (const std::string& name : retired_) sql += "DEALLOCATE " + name + ";";
      command(sql);
      retired_.clear();
    } catch (...) {
      drop();
    }
  }

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
    const std::string_view sqlstate = sqlstate_of(res);
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
  // The session's prepared statements by SQL text (run_prepared), at most
  // kMaxPreparedStatements; retired_: names forgotten but not yet DEALLOCATEd.
  std::unordered_map<std::string, Prepared, TextHash, std::equal_to<>> statements_;
  std::vector<std::string> retired_;
  std::uint64_t serial_ = 0;  // the last name given in this session
  std::uint64_t uses_ = 0;    // a clock for least-recently-used
};

class PgTx final : public Tx {
 public:
  explicit PgTx(Connection& conn) : conn_(conn) {}

  Result query(std::string_view sql, const Params& params) override {
    // Remembered even if `fn` swallows the exception, so the attempt cannot commit.
    try {
      return conn_.run_prepared(sql, params);
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
