// The bootstrap every service's main.cpp calls: typed common config, logger, metrics, database
// with migrations, token verifier, routes, the middleware chain and the server.
//
//   auto config = ServiceConfig::from_env(env, "user-service", 5000);
//   App app(config);
//   app.open_database(user::migrations());
//   user::register_routes(app, ...);
//   return app.run();
#pragma once

#include "emporium/auth/callers.hpp"
#include "emporium/auth/jwt.hpp"
#include "emporium/config/env.hpp"
#include "emporium/db/database.hpp"
#include "emporium/http/router.hpp"
#include "emporium/http/server.hpp"
#include "emporium/obs/log.hpp"
#include "emporium/obs/metrics.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace emporium {

struct ServiceConfig {
  std::string service;  // e.g. "user-service"
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;
  std::string database_url;
  int io_threads = 1;
  int worker_threads = 8;
  int db_pool_size = 8;
  // Database deadlines (db::Options; DESIGN §4): a frozen server, a held lock or a saturated pool
  // ends a request with 503 after these, never a hang.
  int db_statement_timeout_ms = 5000;
  int db_lock_timeout_ms = 5000;
  int db_acquire_timeout_ms = 2000;
  int db_connect_timeout_ms = 3000;
  // Service identity (auth/callers.hpp): the shared INTERNAL_TOKEN (optional) and the explicit
  // INTERNAL_TOKEN_<CALLER> tokens; `caller` is this service's own name ("cart").
  std::string internal_token;
  std::map<std::string, std::string> caller_tokens;
  std::map<std::string, std::string> caller_token_hashes;  // INTERNAL_TOKEN_SHA256_<CALLER>
  std::string caller;
  std::string jwt_issuer = "emporium";
  std::string jwt_public_key_file;           // optional where the service signs its own tokens
  std::string jwt_kid;                       // empty: the key's thumbprint
  std::vector<std::string> trusted_proxies;  // IPs whose X-Real-IP is believed
  obs::Level log_level = obs::Level::Info;
  bool access_log = true;
  bool problem_error_member =
      false;  // also repeat `detail` as `error` (user-service, as the seed did)
  int drain_idle_ms = 6000;
  int shutdown_grace_ms = 20000;
  int read_timeout_ms = 30000;  // a whole request, from its first byte
  int idle_timeout_ms = 60000;  // a keep-alive connection waiting for its next request
  // Execution model (DESIGN §4): lanes, admission and memory bounds of the server.
  int worker_queue_limit = 128;
  int slow_threads = 4;
  int slow_queue_limit = 64;
  int max_connections = 4096;
  int body_memory_limit_mb = 64;
  int ready_check_interval_ms = 1000;

  // Reads PORT, HOST, DATABASE_URL (default sqlite:var/<service>.db), IO_THREADS,
  // WORKER_THREADS, DB_POOL_SIZE, INTERNAL_TOKEN and INTERNAL_TOKEN_<CALLER> (≥ 16 chars),
  // JWT_ISSUER, JWT_PUBLIC_KEY_FILE, JWT_KID, TRUSTED_PROXIES (default 127.0.0.1,::1), LOG_LEVEL,
  // ACCESS_LOG, DRAIN_IDLE_MS, SHUTDOWN_GRACE_MS, READ_TIMEOUT_MS, IDLE_TIMEOUT_MS,
  // WORKER_QUEUE_LIMIT, SLOW_THREADS, SLOW_QUEUE_LIMIT, MAX_CONNECTIONS, BODY_MEMORY_LIMIT_MB,
  // READY_CHECK_INTERVAL_MS, DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS, DB_ACQUIRE_TIMEOUT_MS,
  // DB_CONNECT_TIMEOUT_MS. Throws ConfigError naming the variable.
  static ServiceConfig from_env(const Env& env, std::string service, std::uint16_t default_port);

  auth::CallerTokens caller_token_set() const;
  // The token this service presents when it calls another; ConfigError naming the variables
  // when it has none.
  std::string own_internal_token() const;
};

class App {
 public:
  explicit App(ServiceConfig config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  const ServiceConfig& config() const { return config_; }
  obs::Logger& log() { return *log_; }
  obs::Metrics& metrics() { return *metrics_; }
  auth::JwtVerifier& verifier() { return *verifier_; }

  // Opens DATABASE_URL and applies the service's migrations. Call once, before run().
  db::Database& open_database(const db::MigrationSet& migrations);
  db::Database& db();

  void route(http::Method method, std::string pattern, http::Handler handler,
             http::RouteOptions options = {});
  // Extra middleware, run after authentication, before the handler.
  void use(http::Middleware middleware);
  // Runs once before the server starts listening (e.g. seeding the first admin).
  void on_start(std::function<void()> fn);
  // Runs `fn` every `interval_ms` on its own background thread from run()
  // (e.g. a reservation sweeper) until the server has drained. Exceptions are logged, never fatal.
  void every(std::string name, int interval_ms, std::function<void()> fn);
  // Runs `fn` on its own thread from run(), for work that loops until told to stop (a database
  // queue's worker, queue/worker.hpp). `stop` is requested as soon as the server starts
  // draining, so no new work is taken while in-flight requests finish; run() then waits for
  // `fn` to return until SHUTDOWN_GRACE_MS after the drain began, and past that ends the process
  // as it does for a handler stuck past the grace. Exceptions are logged, never fatal.
  void background(std::string name, std::function<void(std::stop_token)> fn);
  // Adds a readiness check. Checks run together on a background thread every
  // READY_CHECK_INTERVAL_MS (and at once after a request met an unavailable database); /readyz
  // answers from their last results on the I/O thread, so it never queues behind handlers: 503
  // with Retry-After while any check fails, while the results are stale (a check hangs) and
  // while draining. open_database() adds "database" (ping) and "database-write" (can_write).
  // A check must bound its own time and return false rather than throw.
  void readiness_check(std::string name, std::function<bool()> check);

  // The full request pipeline (request id, access log, metrics, errors, JSON, auth, handler),
  // exposed for tests that drive it without sockets.
  http::Response handle(http::Request& request);

  // Listens, serves until SIGTERM/SIGINT, drains; returns the process exit code.
  int run();

 private:
  http::Response dispatch(http::Request& request);
  http::Response reject(http::Request& request, int status, const std::string& detail);
  http::Response problem(const http::Request& request, const HttpError& error) const;
  void finish(http::Request& request, http::Response& response, double seconds);
  void authenticate(http::Request& request, const http::Route& route);
  http::Lane lane_of(http::Request& request) const;
  http::Response readiness(http::Request& request);
  void run_readiness_checks();

  ServiceConfig config_;
  std::unique_ptr<obs::Logger> log_;
  std::unique_ptr<obs::Metrics> metrics_;
  std::unique_ptr<auth::JwtVerifier> verifier_;
  auth::CallerTokens callers_;
  std::unique_ptr<db::Database> db_;
  http::Router router_;
  std::vector<http::Middleware> middleware_;
  std::vector<std::function<void()>> on_start_;
  struct Periodic {
    std::string name;
    int interval_ms;
    std::function<void()> fn;
  };
  std::vector<Periodic> periodic_;
  std::vector<std::pair<std::string, std::function<void(std::stop_token)>>> background_;

  struct Readiness;  // checks, their last results, the checker's wake-up
  std::unique_ptr<Readiness> readiness_;
  std::atomic<const http::Server*> server_{nullptr};  // set while run() serves (drain state)
};

// Runs `fn` (a main body) and turns ConfigError and start-up failures into a one-line message on
// stderr and exit code 2.
int run_main(const std::function<int()>& fn);

}  // namespace emporium
