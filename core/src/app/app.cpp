// The service bootstrap and the request pipeline every service shares. Checks run in one order
// (DESIGN §4): 413/415/malformed JSON -> 401 -> 403 (role) -> handler (ownership, 404, 400, 409).
#include "emporium/app/app.hpp"

#include "emporium/util/crypto.hpp"
#include "emporium/util/ids.hpp"
#include "emporium/util/time.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stop_token>
#include <thread>

namespace emporium {

using http::Access;
using http::Request;
using http::Response;

namespace {

// The threads of App::background: started by run(), asked to stop as soon as the server starts
// draining (the server has no drain callback, so a watcher looks every 50 ms), and waited for
// until a deadline.
class BackgroundThreads {
 public:
  BackgroundThreads(const http::Server& server, obs::Logger& log) : server_(server), log_(log) {}
  BackgroundThreads(const BackgroundThreads&) = delete;
  BackgroundThreads& operator=(const BackgroundThreads&) = delete;
  ~BackgroundThreads() {
    stop_.request_stop();
    watcher_ = {};  // requests its stop and joins it
    for (auto& t : threads_) t.join();
  }

  void start(const std::string& name, const std::function<void(std::stop_token)>& fn) {
    if (!watcher_.joinable()) watcher_ = std::jthread([this](std::stop_token own) { watch(own); });
    {
      std::lock_guard lock(mutex_);
      ++running_;
    }
    threads_.emplace_back([this, name, fn] {
      try {
        fn(stop_.get_token());
      } catch (const std::exception& e) {
        log_.error("background work failed", {{"task", name}, {"error", e.what()}});
      }
      std::lock_guard lock(mutex_);
      --running_;
      ended_.notify_all();
    });
  }

  // Asks every thread to stop and waits until `grace_ms` after the drain began (or from now, if
  // it was not seen); false when one is still running then (it cannot be joined).
  bool finish(int grace_ms) {
    stop_.request_stop();
    const auto drained = drain_began_.load();
    const auto deadline = (drained != Clock::time_point{} ? drained : Clock::now()) +
                          std::chrono::milliseconds(grace_ms);
    std::unique_lock lock(mutex_);
    if (!ended_.wait_until(lock, deadline, [this] { return running_ == 0; })) return false;
    lock.unlock();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return true;
  }

 private:
  using Clock = std::chrono::steady_clock;

  void watch(std::stop_token own) {
    std::mutex mutex;
    std::condition_variable_any tick;
    std::unique_lock lock(mutex);
    while (!own.stop_requested()) {
      if (server_.draining()) {
        drain_began_ = Clock::now();
        stop_.request_stop();
        return;
      }
      tick.wait_for(lock, own, std::chrono::milliseconds(50), [] { return false; });
    }
  }

  const http::Server& server_;
  obs::Logger& log_;
  std::stop_source stop_;
  std::atomic<Clock::time_point> drain_began_{};
  std::mutex mutex_;
  std::condition_variable ended_;
  int running_ = 0;
  std::vector<std::thread> threads_;
  std::jthread watcher_;  // last: stopped first
};

std::string read_file(const std::string& path, const char* variable) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(std::string(variable) + ": cannot read file '" + path + "'");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ^[A-Za-z0-9._:-]{1,128}$ without std::regex on the hot path.
bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_ip_text(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return false;
  for (char c : ip) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool is_json_content_type(std::string_view type) {
  auto semi = type.find(';');
  auto base = type.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  std::string lower(base);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" ||
         (lower.starts_with("application/") && lower.ends_with("+json"));
}

}  // namespace

ServiceConfig ServiceConfig::from_env(const Env& env, std::string service,
                                      std::uint16_t default_port) {
  ServiceConfig c;
  c.service = std::move(service);
  c.port = static_cast<std::uint16_t>(env.integer("PORT", default_port, 0, 65535));
  c.host = env.string("HOST", "0.0.0.0");
  c.database_url = env.string("DATABASE_URL", "sqlite:var/" + c.service + ".db");
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  c.io_threads = static_cast<int>(env.integer("IO_THREADS", cores, 1, 256));
  c.worker_threads = static_cast<int>(env.integer("WORKER_THREADS", 8, 0, 1024));
  c.db_pool_size = static_cast<int>(
      env.integer("DB_POOL_SIZE", std::max(c.worker_threads, c.io_threads), 1, 1024));
  c.db_statement_timeout_ms = static_cast<int>(
      env.integer("DB_STATEMENT_TIMEOUT_MS", c.db_statement_timeout_ms, 1, 600000));
  c.db_lock_timeout_ms =
      static_cast<int>(env.integer("DB_LOCK_TIMEOUT_MS", c.db_lock_timeout_ms, 1, 600000));
  c.db_acquire_timeout_ms =
      static_cast<int>(env.integer("DB_ACQUIRE_TIMEOUT_MS", c.db_acquire_timeout_ms, 1, 600000));
  c.db_connect_timeout_ms =
      static_cast<int>(env.integer("DB_CONNECT_TIMEOUT_MS", c.db_connect_timeout_ms, 1, 600000));
  c.internal_token = env.string("INTERNAL_TOKEN", "");
  if (!c.internal_token.empty() && c.internal_token.size() < 16)
    throw ConfigError("INTERNAL_TOKEN must be at least 16 characters");
  c.caller_tokens = auth::CallerTokens::explicit_from_env(env);
  c.caller_token_hashes = auth::CallerTokens::hashes_from_env(env);
  c.caller = auth::caller_name_of(c.service);
  c.jwt_issuer = env.string("JWT_ISSUER", "emporium");
  c.jwt_public_key_file = env.string("JWT_PUBLIC_KEY_FILE", "");
  c.jwt_kid = env.string("JWT_KID", "");
  c.trusted_proxies = env.list("TRUSTED_PROXIES", "127.0.0.1,::1");
  try {
    c.log_level = obs::parse_level(env.string("LOG_LEVEL", "info"));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("LOG_LEVEL: ") + e.what());
  }
  c.access_log = env.boolean("ACCESS_LOG", true);
  c.drain_idle_ms = static_cast<int>(env.integer("DRAIN_IDLE_MS", 6000, 0, 600000));
  c.shutdown_grace_ms = static_cast<int>(env.integer("SHUTDOWN_GRACE_MS", 20000, 100, 600000));
  c.read_timeout_ms = static_cast<int>(env.integer("READ_TIMEOUT_MS", 30000, 100, 600000));
  c.idle_timeout_ms = static_cast<int>(env.integer("IDLE_TIMEOUT_MS", 60000, 100, 3600000));
  c.worker_queue_limit = static_cast<int>(env.integer("WORKER_QUEUE_LIMIT", 128, 0, 100000));
  c.slow_threads = static_cast<int>(env.integer("SLOW_THREADS", 4, 1, 256));
  c.slow_queue_limit = static_cast<int>(env.integer("SLOW_QUEUE_LIMIT", 64, 0, 100000));
  c.max_connections = static_cast<int>(env.integer("MAX_CONNECTIONS", 4096, 1, 1000000));
  c.body_memory_limit_mb = static_cast<int>(env.integer("BODY_MEMORY_LIMIT_MB", 64, 1, 65536));
  c.ready_check_interval_ms =
      static_cast<int>(env.integer("READY_CHECK_INTERVAL_MS", 1000, 50, 600000));
  return c;
}

auth::CallerTokens ServiceConfig::caller_token_set() const {
  return auth::CallerTokens(internal_token, caller_tokens, caller_token_hashes);
}

std::string ServiceConfig::own_internal_token() const {
  return caller_token_set().require(caller.empty() ? auth::caller_name_of(service) : caller);
}

namespace {
// A readiness check that has not answered within this long counts as failing (a healthy
// database answers SELECT 1 in milliseconds; a frozen one only at the statement deadline).
constexpr auto kReadyCheckTimeout = std::chrono::milliseconds(1000);
}  // namespace

struct App::Readiness {
  struct Check {
    std::string name;
    std::function<bool()> fn;
    bool ok = false;
    bool running = false;  // its function is executing, since `started`
    std::chrono::steady_clock::time_point started{};
  };
  std::mutex mutex;
  std::condition_variable wake;
  std::vector<Check> checks;
  bool ran = false;   // one round has completed
  bool kick = false;  // a request met an unavailable database: check again now
  bool stopping = false;
  std::chrono::steady_clock::time_point last_round{};
};

App::App(ServiceConfig config)
    : config_(std::move(config)),
      log_(std::make_unique<obs::Logger>(config_.service, config_.log_level)),
      metrics_(std::make_unique<obs::Metrics>(config_.service)),
      verifier_(std::make_unique<auth::JwtVerifier>(config_.jwt_issuer)),
      readiness_(std::make_unique<Readiness>()) {
  callers_ = config_.caller_token_set();
  if (!config_.jwt_public_key_file.empty()) {
    auto pem = read_file(config_.jwt_public_key_file, "JWT_PUBLIC_KEY_FILE");
    try {
      verifier_->add_public_key(pem, config_.jwt_kid);
    } catch (const std::exception& e) {
      throw ConfigError(std::string("JWT_PUBLIC_KEY_FILE: ") + e.what());
    }
  }
  // Answered on the I/O thread from memory: a liveness or readiness probe never waits for a
  // worker (a login burst once pushed /healthz to 0.53 s).
  const http::RouteOptions inline_lane{.lane = http::Lane::Inline};
  route(
      http::Method::Get, "/healthz",
      [](Request&) {
        return Response::json(200, Json{{"status", "ok"}});
      },
      inline_lane);
  route(
      http::Method::Get, "/readyz", [this](Request& r) { return readiness(r); }, inline_lane);
  route(
      http::Method::Get, "/metrics",
      [this](Request&) {
        Response res;
        res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        res.body = metrics_->render();
        return res;
      },
      inline_lane);
}

App::~App() = default;

db::Database& App::open_database(const db::MigrationSet& migrations) {
  db::Options options;
  options.pool_size = config_.db_pool_size;
  options.statement_timeout_ms = config_.db_statement_timeout_ms;
  options.lock_timeout_ms = config_.db_lock_timeout_ms;
  options.acquire_timeout_ms = config_.db_acquire_timeout_ms;
  options.connect_timeout_ms = config_.db_connect_timeout_ms;
  try {
    db_ = db::Database::open(config_.database_url, options);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("DATABASE_URL: ") + e.what());
  }
  db_->migrate(migrations);
  readiness_check("database", [this] { return db_->ping(); });
  readiness_check("database-write", [this] { return db_->can_write(); });
  return *db_;
}

db::Database& App::db() {
  if (!db_) throw std::logic_error("App::db() before open_database()");
  return *db_;
}

void App::route(http::Method method, std::string pattern, http::Handler handler,
                http::RouteOptions options) {
  const bool internal = options.access == Access::Internal ||
                        options.access == Access::AdminOrInternal ||
                        options.access == Access::UserOrInternal;
  if (internal == options.callers.empty()) {
    throw std::logic_error(pattern + (internal ? ": an internal route must list its callers"
                                               : ": only internal routes list callers"));
  }
  for (const auto& caller : options.callers) {
    if (!auth::is_known_caller(caller)) {
      throw std::logic_error(pattern + ": unknown caller '" + caller + "'");
    }
    if (!callers_.can_verify(caller)) {
      throw ConfigError(std::string(http::method_name(method)) + " " + pattern +
                        " accepts calls from " + caller + "-service: set " +
                        auth::caller_hash_variable(caller) + " (the SHA-256 of its token) or " +
                        auth::caller_token_variable(caller) + " (or INTERNAL_TOKEN)");
    }
  }
  router_.add(method, std::move(pattern), std::move(handler), std::move(options));
}

void App::use(http::Middleware middleware) {
  middleware_.push_back(std::move(middleware));
}

void App::on_start(std::function<void()> fn) {
  on_start_.push_back(std::move(fn));
}

void App::every(std::string name, int interval_ms, std::function<void()> fn) {
  periodic_.push_back({std::move(name), std::max(1, interval_ms), std::move(fn)});
}

void App::background(std::string name, std::function<void(std::stop_token)> fn) {
  background_.emplace_back(std::move(name), std::move(fn));
}

void App::readiness_check(std::string name, std::function<bool()> check) {
  std::lock_guard lock(readiness_->mutex);
  readiness_->checks.push_back({std::move(name), std::move(check)});
}

void App::run_readiness_checks() {
  auto& r = *readiness_;
  std::size_t count = 0;
  {
    std::lock_guard lock(r.mutex);
    count = r.checks.size();
  }
  // Checks are registered before run(), so indexes are stable. Each result is published as soon
  // as its check returns, and a check still running past kReadyCheckTimeout counts as failing
  // (readiness()), so a database that stops answering shows within about a second, not after
  // the check's own deadline.
  for (std::size_t i = 0; i < count; ++i) {
    std::function<bool()> fn;
    std::string name;
    {
      std::lock_guard lock(r.mutex);
      fn = r.checks[i].fn;
      name = r.checks[i].name;
      r.checks[i].running = true;
      r.checks[i].started = std::chrono::steady_clock::now();
    }
    bool ok = false;
    try {
      ok = fn();
    } catch (const std::exception& e) {
      log_->warn("readiness check threw", {{"check", name}, {"error", e.what()}});
    }
    std::lock_guard lock(r.mutex);
    auto& check = r.checks[i];
    if (check.ok != ok) {
      log_->log(ok ? obs::Level::Info : obs::Level::Warn, "readiness check changed",
                {{"check", name}, {"ok", ok}});
    }
    check.ok = ok;
    check.running = false;
  }
  std::lock_guard lock(r.mutex);
  r.ran = true;
  r.last_round = std::chrono::steady_clock::now();
}

Response App::readiness(Request&) {
  auto& r = *readiness_;
  Json checks = Json::object();
  bool ready = true;
  std::string why;
  {
    std::lock_guard lock(r.mutex);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& c : r.checks) {
      const bool hung = c.running && now - c.started > kReadyCheckTimeout;
      const bool ok = c.ok && !hung;
      checks[c.name] = hung ? "not answering" : ok ? "ok" : "failing";
      if (!ok && why.empty()) why = c.name + " check " + (hung ? "not answering" : "failing");
      ready = ready && ok;
    }
    // A round that never ends (a check without a deadline) must not leave an old "ok" standing.
    const auto stale_after =
        std::chrono::milliseconds(std::max(3 * config_.ready_check_interval_ms, 10000));
    if (!r.checks.empty() &&
        (!r.ran || std::chrono::steady_clock::now() - r.last_round > stale_after)) {
      ready = false;
      why = "readiness checks have not completed recently";
    }
  }
  const http::Server* server = server_.load();
  if (server != nullptr && server->draining()) {
    ready = false;
    why = "draining";
  }
  if (!ready) {
    auto e = service_unavailable("Not ready: " + why, 1);
    e.with_extra("checks", checks);
    throw e;
  }
  return Response::json(200, Json{{"status", "ready"}, {"checks", checks}});
}

http::Lane App::lane_of(Request& request) const {
  auto match = router_.match(request.method, request.path);
  if (!match.route) return http::Lane::Worker;  // 404/405, answered by dispatch
  request.matched = match.route;
  request.path_params = std::move(match.params);
  return match.route->options.lane;
}

namespace {
// A service may only call the internal routes that list it (DESIGN §12 "Service identity").
void accept_caller(const http::Route& route, const Principal& principal) {
  const auto& callers = route.options.callers;
  if (std::find(callers.begin(), callers.end(), principal.caller) == callers.end()) {
    throw forbidden("This endpoint does not accept calls from " + principal.caller + "-service");
  }
}
}  // namespace

void App::authenticate(Request& request, const http::Route& route) {
  std::optional<std::string> caller;
  if (auto token = request.header("X-Internal-Token")) caller = callers_.identify(*token);
  bool bad_token = false;
  if (caller) {
    request.principal = Principal{"", "internal", true, *caller};
  } else if (auto authz = request.header("Authorization")) {
    std::string_view value = *authz;
    if (value.size() > 7 && (value.substr(0, 7) == "Bearer " || value.substr(0, 7) == "bearer ")) {
      if (auto claims = verifier_->verify(value.substr(7))) {
        request.principal = Principal{claims->user_id, claims->role, false, {}};
      } else {
        bad_token = true;
      }
    } else {
      bad_token = true;
    }
  }
  auto denied_401 = [&]() {
    auto e = unauthorized(bad_token ? "Invalid or expired token" : "Authentication required");
    e.with_header("WWW-Authenticate", "Bearer");
    return e;
  };
  const auto& p = request.principal;
  switch (route.options.access) {
    case Access::Public: return;
    case Access::User:
      if (!p || p->internal) throw denied_401();
      return;
    case Access::UserOrInternal:
      if (!p) throw denied_401();
      if (p->internal) accept_caller(route, *p);
      return;
    case Access::Admin:
      if (!p || p->internal) throw denied_401();
      if (!p->is_admin()) throw forbidden("Admin role required");
      return;
    case Access::Internal:
      if (!p) throw denied_401();
      if (!p->internal) throw forbidden("Internal endpoint");
      accept_caller(route, *p);
      return;
    case Access::AdminOrInternal:
      if (!p) throw denied_401();
      if (!p->internal && !p->is_admin()) throw forbidden("Admin role required");
      if (p->internal) accept_caller(route, *p);
      return;
  }
}

Response App::dispatch(Request& request) {
  if (!request.matched) {
    auto match = router_.match(request.method, request.path);
    if (!match.route) {
      if (!match.allow.empty()) throw method_not_allowed(match.allow);
      throw not_found("No route for " + std::string(http::method_name(request.method)) + " " +
                      request.path);
    }
    request.matched = match.route;
    request.path_params = std::move(match.params);
  }
  const auto& route = *request.matched;
  request.route = route.pattern;

  if (route.options.json_body) {
    auto type = request.header("Content-Type");
    bool empty = request.body.find_first_not_of(" \t\r\n") == std::string::npos;
    if (empty && !type) {
      request.set_json(Json::object());
    } else {
      if (!type || !is_json_content_type(*type)) throw unsupported_media_type();
      if (empty) throw bad_request("Request body is empty; send a JSON object");
      auto body = parse_json(request.body);
      if (!body.is_object()) throw bad_request("Request body must be a JSON object");
      request.set_json(std::move(body));
    }
  }
  authenticate(request, route);
  // Every route refuses a malformed query (bad %-escape, invalid UTF-8, NUL) with a 400 naming the
  // parameter, whether or not its handler reads one: a filter must never fail open.
  if (!request.query_string.empty()) (void)request.query({});

  if (middleware_.empty()) return route.handler(request);
  // Build the chain from the innermost (the handler) outwards.
  http::Handler next = route.handler;
  for (auto it = middleware_.rbegin(); it != middleware_.rend(); ++it) {
    next = [mw = *it, inner = std::move(next)](Request& r) { return mw(r, inner); };
  }
  return next(request);
}

Response App::problem(const Request& request, const HttpError& error) const {
  Json body = {
      {"type", "urn:emporium:problem:" + error.code()},
      {"title", status_title(error.status())},
      {"status", error.status()},
      {"detail", error.detail()},
      {"code", error.code()},
      {"requestId", request.request_id},
      {"msg", error.detail()},
  };
  Json errors = Json::array();
  for (const auto& f : error.errors())
    errors.push_back({{"field", f.field}, {"message", f.message}});
  body["errors"] = std::move(errors);
  if (config_.problem_error_member) body["error"] = error.detail();
  // Extra members add to the document; they never replace a standard one (`status` stays the
  // HTTP status a client reads).
  for (auto it = error.extra().begin(); it != error.extra().end(); ++it) {
    if (!body.contains(it.key())) body[it.key()] = it.value();
  }
  Response res = Response::json(error.status(), body);
  res.content_type = "application/problem+json; charset=utf-8";
  for (const auto& [name, value] : error.headers()) res.set_header(name, value);
  return res;
}

void App::finish(Request& request, Response& response, double seconds) {
  response.set_header("X-Request-ID", request.request_id);
  metrics_->record_request(http::method_name(request.method),
                           request.route.empty() ? "unmatched" : request.route, response.status,
                           seconds);
  bool server_error = response.status >= 500;
  if (config_.access_log || server_error) {
    Json fields = {{"requestId", request.request_id},
                   {"method", request.method_text},
                   {"path", request.path},
                   {"route", request.route.empty() ? "unmatched" : request.route},
                   {"status", response.status},
                   {"durationMs", static_cast<double>(static_cast<long>(seconds * 1e5)) / 100.0},
                   {"client", request.client_address}};
    if (request.principal && !request.principal->internal)
      fields["userId"] = request.principal->user_id;
    log_->log(server_error ? obs::Level::Warn : obs::Level::Info, "request", fields);
  }
}

static void prepare(Request& request, const ServiceConfig& config) {
  // A Lane::Memory request that left the I/O thread comes through again: it keeps its id.
  if (!request.request_id.empty()) return;
  auto incoming = request.header("X-Request-ID");
  request.request_id =
      incoming && valid_request_id(*incoming) ? std::string(*incoming) : new_object_id();
  request.client_address = request.peer_address;
  for (const auto& proxy : config.trusted_proxies) {
    if (proxy == request.peer_address) {
      if (auto real = request.header("X-Real-IP"); real && valid_ip_text(*real)) {
        request.client_address = std::string(*real);
      }
      break;
    }
  }
}

Response App::handle(Request& request) {
  auto start = std::chrono::steady_clock::now();
  prepare(request, config_);
  Response response;
  try {
    response = dispatch(request);
  } catch (const HttpError& e) {
    response = problem(request, e);
  } catch (const db::Unavailable& e) {
    // The one place a database failure becomes HTTP: the client learns when to retry, the log
    // keeps the backend's reason.
    log_->warn("database unavailable",
               {{"requestId", request.request_id}, {"error", e.what()}, {"route", request.route}});
    response = problem(request, service_unavailable("The database is unavailable, retry shortly",
                                                    e.retry_after_seconds()));
    {
      std::lock_guard lock(readiness_->mutex);
      readiness_->kick = true;
    }
    readiness_->wake.notify_one();
  } catch (const std::exception& e) {
    log_->error("unhandled exception",
                {{"requestId", request.request_id}, {"error", e.what()}, {"route", request.route}});
    response = problem(request, HttpError(500, "internal", "Internal error"));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  finish(request, response, seconds);
  return response;
}

Response App::reject(Request& request, int status, const std::string& detail) {
  prepare(request, config_);
  // A request refused by admission control was matched already: count it under its route.
  if (request.matched != nullptr) request.route = request.matched->pattern;
  HttpError error = status == 413   ? payload_too_large(detail)
                    : status == 431 ? HttpError(431, "request_header_fields_too_large", detail)
                    : status == 503 ? service_unavailable(detail, 1)
                    : status == 500 ? HttpError(500, "internal", detail)
                                    : bad_request(detail);
  Response response = problem(request, error);
  finish(request, response, 0);
  return response;
}

int App::run() {
  for (auto& fn : on_start_) fn();
  http::ServerOptions options;
  options.host = config_.host;
  options.port = config_.port;
  options.io_threads = config_.io_threads;
  options.worker_threads = config_.worker_threads;
  options.drain_idle_ms = config_.drain_idle_ms;
  options.shutdown_grace_ms = config_.shutdown_grace_ms;
  options.read_timeout_ms = config_.read_timeout_ms;
  options.idle_timeout_ms = config_.idle_timeout_ms;
  options.worker_queue_limit = config_.worker_queue_limit;
  options.slow_threads = config_.slow_threads;
  options.slow_queue_limit = config_.slow_queue_limit;
  options.max_connections = config_.max_connections;
  options.body_memory_limit = static_cast<std::size_t>(config_.body_memory_limit_mb) << 20;
  options.lane_of = [this](Request& r) { return lane_of(r); };
  http::Server server(
      options, [this](Request& r) { return handle(r); },
      [this](Request& r, int status, const std::string& detail) {
        return reject(r, status, detail);
      });
  server.listen();
  server_ = &server;
  struct ClearServer {
    std::atomic<const http::Server*>& p;
    ~ClearServer() { p = nullptr; }
  } clear_server{server_};

  // Readiness is known before the first probe: one round now, then the background checker.
  run_readiness_checks();
  std::thread checker([this] {
    auto& r = *readiness_;
    std::unique_lock lock(r.mutex);
    while (!r.stopping) {
      r.wake.wait_for(lock, std::chrono::milliseconds(config_.ready_check_interval_ms),
                      [&] { return r.stopping || r.kick; });
      if (r.stopping) break;
      r.kick = false;
      lock.unlock();
      run_readiness_checks();
      lock.lock();
    }
  });
  struct StopChecker {
    Readiness& r;
    std::thread& t;
    ~StopChecker() {
      {
        std::lock_guard lock(r.mutex);
        r.stopping = true;
      }
      r.wake.notify_all();
      t.join();
    }
  } stop_checker{*readiness_, checker};

  // Background tasks stop when run() returns (after the drain), waking early through the cv.
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::vector<std::thread> tasks;
  for (const auto& task : periodic_) {
    tasks.emplace_back([&, task] {
      std::unique_lock lock(stop_mutex);
      while (!stop_cv.wait_for(lock, std::chrono::milliseconds(task.interval_ms),
                               [&] { return stopping; })) {
        lock.unlock();
        try {
          task.fn();
        } catch (const std::exception& e) {
          log_->warn("background task failed", {{"task", task.name}, {"error", e.what()}});
        }
        lock.lock();
      }
    });
  }
  struct StopTasks {
    std::mutex& m;
    std::condition_variable& cv;
    bool& flag;
    std::vector<std::thread>& threads;
    ~StopTasks() {
      {
        std::lock_guard lock(m);
        flag = true;
      }
      cv.notify_all();
      for (auto& t : threads) t.join();
    }
  } stop_tasks{stop_mutex, stop_cv, stopping, tasks};

  BackgroundThreads background(server, *log_);
  for (const auto& [name, fn] : background_) background.start(name, fn);

  int code = server.run([&] {
    log_->info("listening",
               {{"port", server.port()},
                {"host", config_.host},
                {"database", db_ ? (db_->backend() == db::Backend::Sqlite ? "sqlite" : "postgresql")
                                 : "none"}});
  });
  if (server.abandoned()) {
    // The grace period ended with a handler still running (a call that ignored its deadline):
    // it cannot be joined, so the process ends here. Its transaction dies with the connection.
    log_->error("drain grace expired with handlers still running; exiting",
                {{"shutdownGraceMs", config_.shutdown_grace_ms}});
    std::_Exit(0);
  }
  if (!background.finish(config_.shutdown_grace_ms)) {
    // Background work that ignores its stop past the grace (a call without a deadline): the
    // same way out. A queue item in hand is taken over by another instance after its lease.
    log_->error("drain grace expired with background work still running; exiting",
                {{"shutdownGraceMs", config_.shutdown_grace_ms}});
    std::_Exit(0);
  }
  log_->info("stopped", {{"exitCode", code}});
  return code;
}

int run_main(const std::function<int()>& fn) {
  try {
    return fn();
  } catch (const ConfigError& e) {
    std::cerr << "configuration error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace emporium
