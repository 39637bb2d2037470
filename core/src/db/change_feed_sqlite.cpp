// The SQLite change feed (emporium/db/change_feed.hpp): `PRAGMA data_version` on a connection of
// its own tells whether anyone committed since the last sync; only then are the change log's new
// rows read. Syncs are serialised by a mutex: each is a few microseconds when nothing changed.
#include "db/sqlite_database.hpp"

#include <sqlite3.h>

#include <mutex>
#include <optional>
#include <vector>

namespace emporium::db {
namespace {

// A lock wait on the feed's connection (a checkpoint, another process's recovery): short, since
// a sync may run on an I/O thread; past it the sync answers false and the read goes to the
// database.
constexpr int kBusyTimeoutMs = 20;

class SqliteChangeFeed final : public ChangeFeed {
 public:
  SqliteChangeFeed(const std::string& path, const ChangeFeedSpec& spec) : path_(path), spec_(spec) {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) {
      throw DbError("sqlite: change feed cannot open " + path + ": " +
                    (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
    version_ = prepare("PRAGMA data_version");
    after_ = prepare("SELECT seq, key FROM " + spec_.log_table +
                     " WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    last_ = prepare("SELECT COALESCE(MAX(seq), 0) FROM " + spec_.log_table);
  }

  ~SqliteChangeFeed() override { stop(); }

  void start(ChangeHandlers handlers) override {
    std::lock_guard lock(mutex_);
    handlers_ = std::move(handlers);
    started_ = true;
    coherent_ = false;  // the first sync starts from the log's end and resets
  }

  bool sync() override {
    std::lock_guard lock(mutex_);
    return sync_with_lock();
  }

  // Called on an I/O thread: never waits for another sync; answers false then (the read goes to
  // a worker, which syncs there).
  void sync_async(std::function<void(bool)> done) override {
    bool ok = false;
    {
      std::unique_lock lock(mutex_, std::try_to_lock);
      if (lock.owns_lock()) ok = sync_with_lock();
    }
    done(ok);
  }

  // On a connection of its own, opened for the purpose, so that a sync never waits for a write.
  void prune(std::int64_t keep) override {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    const DbPtr db(raw);
    if (rc != SQLITE_OK) return;
    sqlite3_busy_timeout(raw, 1000);
    const std::string sql = "DELETE FROM " + spec_.log_table +
                            " WHERE seq <= (SELECT MAX(seq) FROM " + spec_.log_table + ") - " +
                            std::to_string(keep);
    sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr);
  }

  void stop() override {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }

  Stats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  StmtPtr prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      const std::string why = sqlite3_errmsg(db_.get());
      sqlite3_finalize(raw);
      throw DbError("sqlite: change feed: " + why + " in: " + sql);
    }
    return StmtPtr(raw);
  }

  // One integer from a one-row statement, or nullopt on any error.
  static std::optional<std::int64_t> one_integer(sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    std::optional<std::int64_t> out;
    if (sqlite3_step(stmt) == SQLITE_ROW) out = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return out;
  }

  // A failed sync (a lock wait past kBusyTimeoutMs, an I/O error) loses nothing: the log keeps
  // the changes, and the next sync reads them from the last row seen.
  bool sync_with_lock() {
    if (!started_ || stopped_) return false;
    const bool ok = sync_locked();
    if (!ok) ++stats_.failures;
    return ok;
  }

  void reset_cache() {
    ++stats_.resets;
    if (handlers_.reset) handlers_.reset();
  }

  bool sync_locked() {
    const auto version = one_integer(version_.get());
    if (!version) return false;
    if (coherent_ && *version == data_version_) return true;
    ++stats_.syncs;
    if (!coherent_) {
      // Start (or start again) from the log's end: whatever came before may be in the cache.
      const auto last = one_integer(last_.get());
      if (!last) return false;
      reset_cache();
      last_seq_ = *last;
      data_version_ = *version;
      coherent_ = true;
      return true;
    }
    // The log rows after the last one seen; one statement, so one snapshot.
    sqlite3_stmt* stmt = after_.get();
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, last_seq_);
    sqlite3_bind_int64(stmt, 2, spec_.max_backlog + 1);
    std::int64_t expected = last_seq_ + 1;
    std::int64_t seen = 0;
    bool gap = false;
    std::vector<std::string> keys;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const std::int64_t seq = sqlite3_column_int64(stmt, 0);
      // AUTOINCREMENT numbers rows without reuse, and a rolled-back insert gives its number
      // back: a hole can only be a pruned row this instance never read.
      if (seq != expected) gap = true;
      expected = seq + 1;
      ++seen;
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      if (text != nullptr)
        keys.emplace_back(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, 1)));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return false;
    if (gap || seen > spec_.max_backlog) {
      coherent_ = false;
      return sync_locked();  // from the end, with a reset
    }
    if (seen > 0) last_seq_ = expected - 1;
    data_version_ = *version;
    for (const auto& key : keys) {
      ++stats_.changes;
      if (key == "*") {
        reset_cache();
      } else if (handlers_.changed) {
        handlers_.changed(key);
      }
    }
    return true;
  }

  std::string path_;
  ChangeFeedSpec spec_;
  mutable std::mutex mutex_;
  DbPtr db_;
  StmtPtr version_;
  StmtPtr after_;
  StmtPtr last_;
  ChangeHandlers handlers_;
  bool started_ = false;
  bool stopped_ = false;
  bool coherent_ = false;
  std::int64_t data_version_ = 0;
  std::int64_t last_seq_ = 0;
  Stats stats_;
};

}  // namespace

std::unique_ptr<ChangeFeed> open_sqlite_change_feed(const std::string& path,
                                                    const Options& /*options*/,
                                                    const ChangeFeedSpec& spec) {
  return std::make_unique<SqliteChangeFeed>(path, spec);
}

}  // namespace emporium::db
