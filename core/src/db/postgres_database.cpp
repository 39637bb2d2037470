// PostgreSQL backend over libpq: a fixed pool of sessions, made on first use and reset when found
// broken. Statements go through PQexecParams with text parameters and text results; values
// stay strings and Row converts them. Write transactions run at REPEATABLE READ, so a
// read-then-write on a row another transaction changed fails with 40001 and is run again
// instead of losing an update (DESIGN §4 db).
#include "db/postgres_database.hpp"

#include "db/pool.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/util/time.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
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
constexpr auto kPingTimeout = std::chrono::seconds(2);

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

// The session is gone (server restart, network, idle timeout). Internal: transact turns it into
// db::Unavailable, migrate lets it through as the DbError it is.
class ConnectionLost : public DbError {
 public:
  using DbError::DbError;
};

// CREATE TABLE IF NOT EXISTS and friends emit NOTICEs that libpq would print on stderr.
void ignore_notice(void*, const char*) {}

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class Connection {
 public:
  Connection(const std::string& url, const Options& options)
      : url_(url),
        connect_timeout_(std::to_string(std::max(1, (options.busy_timeout_ms + 999) / 1000))) {}

  // Makes sure a live session exists: connects on first use, resets one found broken.
  void ensure() {
    if (!conn_) {
      // Keywords before dbname are defaults the URL may override; expand_dbname=1 parses the URL.
      const char* const keys[] = {"connect_timeout", "client_encoding", "dbname", nullptr};
      const char* const values[] = {connect_timeout_.c_str(), "UTF8", url_.c_str(), nullptr};
      conn_.reset(PQconnectdbParams(keys, values, 1));
      if (!conn_) throw ConnectionLost("postgres: cannot allocate a connection");
      PQsetNoticeProcessor(conn_.get(), ignore_notice, nullptr);
    } else if (PQstatus(conn_.get()) != CONNECTION_OK) {
      PQreset(conn_.get());
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      std::string msg = "postgres: cannot connect: " + trimmed(PQerrorMessage(conn_.get()));
      conn_.reset();
      throw ConnectionLost(msg);
    }
    // A session handed back mid-transaction (a failed ROLLBACK) must not leak into the next use.
    rollback();
  }

  // One statement with parameters.
  Result run(std::string_view sql, const Params& params) {
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
    ResultPtr res(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
    check(res.get());
    return convert(res.get());
  }

  // Parameterless SQL, possibly several statements; returns the last command tag.
  std::string command(const std::string& sql) {
    ResultPtr res(PQexec(conn_.get(), sql.c_str()));
    // A migration file holding only comments is empty, not an error (as for sqlite3_exec).
    if (res && PQresultStatus(res.get()) == PGRES_EMPTY_QUERY) return {};
    check(res.get());
    return PQcmdStatus(res.get());
  }

  void rollback() noexcept {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK &&
        PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      ResultPtr res(PQexec(conn_.get(), "ROLLBACK"));
    }
  }

  bool in_failed_transaction() const { return PQtransactionStatus(conn_.get()) == PQTRANS_INERROR; }

  // SELECT 1 that gives up after `timeout`; a session that did not answer is dropped, since its
  // state is unknown.
  bool ping(std::chrono::milliseconds timeout) {
    PGconn* conn = conn_.get();
    if (PQsendQuery(conn, "SELECT 1") == 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (PQisBusy(conn) != 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0 ||
          PQconsumeInput(conn) == 0) {
        conn_.reset();
        return false;
      }
    }
    bool ok = false;
    while (PGresult* raw = PQgetResult(conn)) {
      ResultPtr res(raw);
      ok = PQresultStatus(raw) == PGRES_TUPLES_OK && PQntuples(raw) == 1;
    }
    return ok;
  }

 private:
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
  std::string connect_timeout_;
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
    } catch (const ConnectionLost&) {
      lost_ = true;
      throw;
    }
  }

  bool conflict() const { return conflict_; }
  bool lost() const { return lost_; }

 private:
  Connection& conn_;
  bool conflict_ = false;
  bool lost_ = false;
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(const std::string& url, const Options& options)
      : options_(options), slots_(static_cast<std::size_t>(options.pool_size)) {
    connections_.reserve(static_cast<std::size_t>(options.pool_size));
    for (int i = 0; i < options.pool_size; ++i) {
      connections_.push_back(std::make_unique<Connection>(url, options));
    }
  }

  Backend backend() const override { return Backend::Postgres; }

  void transact(TxKind kind, const std::function<void(Tx&)>& fn) override {
    if (kind == TxKind::Read) {
      read(fn);
      return;
    }
    const std::string begin = kind == TxKind::Write ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                              : kind == TxKind::WriteCommitted
                                  ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                  : "BEGIN";
    run_with_retries(options_.max_attempts, [&] {
      auto lease = slots_.acquire();
      Connection& conn = *connections_[lease.index()];
      start(conn, begin);
      PgTx tx(conn);
      try {
        fn(tx);
      } catch (...) {
        conn.rollback();
        if (tx.conflict()) return false;  // whatever `fn` made of the conflict, run it again
        if (tx.lost()) throw Unavailable("postgres: database unavailable", 1);
        throw;
      }
      if (tx.conflict()) {
        conn.rollback();
        return false;
      }
      if (tx.lost()) throw Unavailable("postgres: database unavailable", 1);
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
      } catch (const ConnectionLost&) {
        throw Unavailable("postgres: database unavailable", 1);
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
  // replaced and the read tried once more (it changed nothing).
  void read(const std::function<void(Tx&)>& fn) {
    bool reconnected = false;
    run_with_retries(options_.max_attempts, [&] {
      auto lease = slots_.acquire();
      Connection& conn = *connections_[lease.index()];
      try {
        conn.ensure();
      } catch (const ConnectionLost&) {
        throw Unavailable("postgres: database unavailable", 1);
      }
      PgTx tx(conn);
      const auto lost_again = [&] {
        if (reconnected) throw Unavailable("postgres: database unavailable", 1);
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
      return true;
    });
  }

  void migrate(const MigrationSet& migrations) override {
    std::vector<const Migration*> todo;
    for (const Migration& m : migrations.postgres) todo.push_back(&m);
    std::sort(todo.begin(), todo.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });
    for (std::size_t i = 1; i < todo.size(); ++i) {
      if (todo[i]->version == todo[i - 1]->version) {
        throw DbError("migrations: version " + std::to_string(todo[i]->version) + " appears twice");
      }
    }

    auto lease = slots_.acquire();
    Connection& conn = *connections_[lease.index()];
    conn.ensure();  // at start-up a connection failure is a DbError with libpq's reason
    // Session-level lock: held across the per-migration transactions below, released by the
    // guard (or by the server if the session dies).
    const std::string key = std::to_string(kMigrationLockKey);
    conn.command("SELECT pg_advisory_lock(" + key + ")");
    struct Unlock {
      Connection& conn;
      const std::string& key;
      ~Unlock() {
        try {
          conn.rollback();
          conn.command("SELECT pg_advisory_unlock(" + key + ")");
        } catch (...) {  // a dead session has released the lock already
        }
      }
    } unlock{conn, key};

    conn.command(kCreateMigrationsTable);
    conn.command(kCreateHealthTable);
    std::set<std::int64_t> applied;
    for (const Row& row : conn.run("SELECT version FROM schema_migrations", {}).rows) {
      applied.insert(row.integer(0));
    }
    for (const Migration* m : todo) {
      if (applied.count(m->version) != 0) continue;
      conn.command("BEGIN");
      try {
        conn.command(m->sql);
      } catch (const DbError& e) {
        conn.rollback();
        throw DbError("migration " + std::to_string(m->version) + " (" + m->name +
                      ") failed: " + e.what());
      }
      conn.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
               {std::int64_t{m->version}, m->name, iso8601(now_ms())});
      conn.command("COMMIT");
    }
  }

  bool can_write() override {
    try {
      transact(TxKind::Write, [](Tx& tx) { tx.exec(kHealthUpsert, {iso8601(now_ms())}); });
      return true;
    } catch (...) {
      return false;
    }
  }

  bool ping() override {
    try {
      auto lease = slots_.try_acquire_for(std::chrono::seconds(1));
      if (!lease) return false;
      Connection& conn = *connections_[lease->index()];
      conn.ensure();
      return conn.ping(kPingTimeout);
    } catch (...) {
      return false;
    }
  }

 private:
  void start(Connection& conn, const std::string& begin) {
    try {
      conn.ensure();
      try {
        conn.command(begin);
      } catch (const ConnectionLost&) {
        // The session died while idle in the pool (server restart, idle timeout) and nothing of
        // this transaction was sent yet: reconnect once.
        conn.ensure();
        conn.command(begin);
      }
    } catch (const ConnectionLost&) {
      throw Unavailable("postgres: database unavailable", 1);
    }
  }

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
