// The PostgreSQL change feed (emporium/db/change_feed.hpp): one session of its own, on a thread
// of its own, LISTENs to the table's channel and to a private barrier channel. A sync asks for a
// barrier: `NOTIFY <barrier>, 'n'` sent after the sync was asked for; PostgreSQL delivers
// notifications in commit order, so once 'n' comes back every change committed before it has
// been handed to the cache. Syncs asked for while a barrier is out wait for the next one, so at
// most one barrier is in flight whatever the number of readers.
#include "db/postgres_database.hpp"

#include "emporium/util/ids.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace emporium::db {
namespace {

using Clock = std::chrono::steady_clock;

struct Lost {
  std::string why;
};

// A quoted identifier for LISTEN/NOTIFY (channel names are identifiers).
std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class PostgresChangeFeed final : public ChangeFeed {
 public:
  PostgresChangeFeed(std::string url, const Options& options, ChangeFeedSpec spec)
      : url_(std::move(url)),
        options_(options),
        spec_(std::move(spec)),
        barrier_channel_(spec_.channel + "_sync_" + new_object_id()),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd_ < 0) throw DbError("postgres: change feed: eventfd failed");
  }

  ~PostgresChangeFeed() override {
    stop();
    ::close(wake_fd_);
  }

  void start(ChangeHandlers handlers) override {
    handlers_ = std::move(handlers);
    thread_ = std::thread([this] { run(); });
  }

  bool sync() override {
    struct Waiter {
      std::mutex m;
      std::condition_variable cv;
      std::optional<bool> result;
    };
    auto w = std::make_shared<Waiter>();
    sync_async([w](bool ok) {
      std::lock_guard lock(w->m);
      w->result = ok;
      w->cv.notify_one();
    });
    std::unique_lock lock(w->m);
    // The feed's thread answers every waiter within the barrier timeout (or drops the session
    // and answers false); the margin only guards against a bug leaving one unanswered.
    if (!w->cv.wait_for(lock, std::chrono::milliseconds(spec_.barrier_timeout_ms * 2 + 1000),
                        [&] { return w->result.has_value(); })) {
      return false;
    }
    return *w->result;
  }

  void sync_async(std::function<void(bool)> done) override {
    {
      std::lock_guard lock(mutex_);
      if (connected_ && !stopping_) {
        waiters_.push_back({sent_ + 1, std::move(done)});
        wake();
        return;
      }
      ++stats_.failures;
    }
    done(false);
  }

  void prune(std::int64_t) override {}

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake();
    stop_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    fail_waiters();
  }

  Stats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  struct PendingSync {
    std::uint64_t barrier;  // answered once this barrier has come back
    std::function<void(bool)> done;
  };

  void wake() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

  bool stopping() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  void run() {
    while (!stopping()) {
      try {
        session();
      } catch (const Lost& lost) {
        last_error_ = lost.why;
      } catch (const std::exception& e) {
        last_error_ = e.what();  // a handler that threw, memory: start over with a reset
      }
      conn_.reset();
      {
        std::lock_guard lock(mutex_);
        connected_ = false;
        in_flight_ = false;
      }
      // Whatever was missed while the session was down may be in the cache.
      reset_cache();
      fail_waiters();
      std::unique_lock lock(mutex_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(spec_.reconnect_delay_ms),
                        [&] { return stopping_; });
    }
  }

  void session() {
    connect();
    command("SET synchronous_commit = off");  // a barrier's commit need not wait for the disk
    command("LISTEN " + quoted(spec_.channel));
    command("LISTEN " + quoted(barrier_channel_));
    // Listening now: a row read from here on is either current or will be announced. Anything
    // before may have been missed.
    reset_cache();
    {
      std::lock_guard lock(mutex_);
      connected_ = true;
    }
    const int sock = PQsocket(conn_.get());
    Clock::time_point barrier_deadline{};
    while (true) {
      std::uint64_t send_barrier = 0;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        if (!in_flight_ && !waiters_.empty()) {
          in_flight_ = true;
          send_barrier = ++sent_;
        }
      }
      if (send_barrier != 0) {
        const std::string sql =
            "NOTIFY " + quoted(barrier_channel_) + ", '" + std::to_string(send_barrier) + "'";
        if (PQsendQuery(conn_.get(), sql.c_str()) == 0) throw lost_session();
        barrier_deadline = Clock::now() + std::chrono::milliseconds(spec_.barrier_timeout_ms);
        flush(barrier_deadline);
        std::lock_guard lock(mutex_);
        ++stats_.syncs;
      }
      int timeout_ms = 1000;
      bool waiting_barrier = false;
      {
        std::lock_guard lock(mutex_);
        waiting_barrier = in_flight_;
      }
      if (waiting_barrier) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(barrier_deadline - Clock::now())
                .count();
        if (left <= 0) throw Lost{"postgres: change feed: a barrier did not come back in time"};
        timeout_ms = static_cast<int>(left);
      }
      pollfd fds[2] = {{sock, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, 2, timeout_ms);
      if (n < 0 && errno != EINTR) throw Lost{"postgres: change feed: poll failed"};
      if (fds[1].revents != 0) {
        std::uint64_t drained = 0;
        [[maybe_unused]] auto r = ::read(wake_fd_, &drained, sizeof drained);
      }
      if (fds[0].revents != 0) receive();
    }
  }

  Lost lost_session() const {
    return Lost{"postgres: change feed: " + std::string(PQerrorMessage(conn_.get()))};
  }

  void connect() {
    const std::string connect_s =
        std::to_string(std::max(2, (options_.connect_timeout_ms + 999) / 1000));
    const char* const keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                                "client_encoding",     "dbname",           nullptr};
    const std::string user_timeout = std::to_string(spec_.barrier_timeout_ms + 1000);
    const char* const values[] = {connect_s.c_str(),    "1",    "10",         "5",    "3",
                                  user_timeout.c_str(), "UTF8", url_.c_str(), nullptr};
    conn_.reset(PQconnectdbParams(keys, values, 1));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) throw lost_session();
    if (PQsetnonblocking(conn_.get(), 1) != 0) throw lost_session();
  }

  void flush(Clock::time_point deadline) {
    while (true) {
      const int pending = PQflush(conn_.get());
      if (pending == 0) return;
      if (pending < 0) throw lost_session();
      wait_socket(POLLOUT | POLLIN, deadline);
      if (PQconsumeInput(conn_.get()) == 0) throw lost_session();
    }
  }

  void wait_socket(short events, Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw Lost{"postgres: change feed: no answer in time"};
    pollfd fd{PQsocket(conn_.get()), events, 0};
    if (::poll(&fd, 1, static_cast<int>(left)) <= 0) {
      throw Lost{"postgres: change feed: no answer in time"};
    }
  }

  // A command on the session, with the barrier timeout as its deadline.
  void command(const std::string& sql) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(spec_.barrier_timeout_ms);
    if (PQsendQuery(conn_.get(), sql.c_str()) == 0) throw lost_session();
    flush(deadline);
    while (true) {
      while (PQisBusy(conn_.get()) != 0) {
        wait_socket(POLLIN, deadline);
        if (PQconsumeInput(conn_.get()) == 0) throw lost_session();
      }
      PGresult* res = PQgetResult(conn_.get());
      if (res == nullptr) return;
      const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
      const std::string why = PQresultErrorMessage(res);
      PQclear(res);
      if (!ok) throw Lost{"postgres: change feed: " + sql + ": " + why};
    }
  }

  void receive() {
    if (PQconsumeInput(conn_.get()) == 0) throw lost_session();
    while (PQisBusy(conn_.get()) == 0) {
      PGresult* res = PQgetResult(conn_.get());
      if (res == nullptr) break;
      const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
      PQclear(res);
      if (!ok) throw lost_session();
    }
    std::uint64_t came_back = 0;
    while (PGnotify* note = PQnotifies(conn_.get())) {
      const std::string channel = note->relname;
      const std::string payload = note->extra != nullptr ? note->extra : "";
      const int be_pid = note->be_pid;
      PQfreemem(note);
      if (channel == barrier_channel_) {
        // Only our own session's barriers, never past the last one sent: a NOTIFY on this
        // channel from elsewhere must not answer a sync.
        if (be_pid == PQbackendPID(conn_.get())) {
          came_back =
              std::max<std::uint64_t>(came_back, std::strtoull(payload.c_str(), nullptr, 10));
        }
      } else if (payload == "*" || payload.empty()) {
        reset_cache();
      } else {
        {
          std::lock_guard lock(mutex_);
          ++stats_.changes;
        }
        if (handlers_.changed) handlers_.changed(payload);
      }
    }
    if (came_back != 0) answer(came_back);
  }

  // Answers the syncs barrier `n` covers.
  void answer(std::uint64_t n) {
    std::vector<std::function<void(bool)>> done;
    {
      std::lock_guard lock(mutex_);
      n = std::min(n, sent_);
      if (n >= sent_) in_flight_ = false;
      auto keep = std::partition(waiters_.begin(), waiters_.end(),
                                 [&](const PendingSync& w) { return w.barrier > n; });
      for (auto it = keep; it != waiters_.end(); ++it) done.push_back(std::move(it->done));
      waiters_.erase(keep, waiters_.end());
    }
    for (auto& fn : done) fn(true);
  }

  void fail_waiters() {
    std::vector<PendingSync> failed;
    {
      std::lock_guard lock(mutex_);
      failed.swap(waiters_);
      stats_.failures += failed.size();
    }
    for (auto& w : failed) w.done(false);
  }

  void reset_cache() {
    {
      std::lock_guard lock(mutex_);
      ++stats_.resets;
    }
    if (handlers_.reset) handlers_.reset();
  }

  const std::string url_;
  const Options options_;
  const ChangeFeedSpec spec_;
  const std::string barrier_channel_;
  const int wake_fd_;
  ChangeHandlers handlers_;
  ConnPtr conn_;  // the feed thread's only
  std::string last_error_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool connected_ = false;
  bool in_flight_ = false;
  std::uint64_t sent_ = 0;  // barriers sent
  std::vector<PendingSync> waiters_;
  Stats stats_;
};

}  // namespace

std::unique_ptr<ChangeFeed> open_postgres_change_feed(const std::string& url,
                                                      const Options& options,
                                                      const ChangeFeedSpec& spec) {
  return std::make_unique<PostgresChangeFeed>(url, options, spec);
}

}  // namespace emporium::db
