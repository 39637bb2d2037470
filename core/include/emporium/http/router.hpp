// Routes: case-sensitive, a trailing slash tolerated, static segments win over parameters
// (`/categories` before `/:id`), a known path with the wrong method -> 405 with `Allow`.
#pragma once

#include "emporium/http/message.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::http {

// Who may call a route; checked before the handler runs (401, then 403).
enum class Access {
  Public,           // anyone; a valid token is still decoded if present
  User,             // any valid token
  Admin,            // token with role admin
  Internal,         // a listed caller's X-Internal-Token only
  AdminOrInternal,  // admin token or a listed caller's X-Internal-Token
  UserOrInternal,   // any valid token or a listed caller's X-Internal-Token (ownership is the
                    // handler's job)
};

// Where a route's handler runs (DESIGN §4, execution model).
enum class Lane {
  Worker,  // the bounded worker pool (default): database work, anything that may block
  Slow,    // a separate bounded pool for expensive work (argon2: login, register, password
           // change), so a burst of it cannot occupy the workers that serve reads
  Inline,  // on the I/O thread, never queued: only handlers that answer from memory at once
           // (/healthz, /readyz, /metrics)
  Memory,  // first on the I/O thread, after RouteOptions::memory_gate if set, for handlers that
           // usually answer from memory (a cache hit); one that would block calls
           // Request::leave_io_thread() and the request runs again on the worker lane, under its
           // admission rules
};

// Lets a Lane::Memory request wait, without holding any thread, until memory may answer it
// (e.g. a cache's coherence barrier): `ready(true)` runs the handler on the I/O thread,
// `ready(false)` sends the request to the worker lane. `ready` is called exactly once, from any
// thread.
using MemoryGate = std::function<void(Request&, std::function<void(bool ready)> ready)>;

struct RouteOptions {
  Access access = Access::Public;
  bool json_body = false;  // require application/json, parse (400/413/415) before auth
  Lane lane = Lane::Worker;
  // The services whose internal calls the route accepts (auth/callers.hpp: "order", "payment",
  // …): required for Internal, AdminOrInternal and UserOrInternal routes, empty for the others.
  // Another service's valid token is 403.
  std::vector<std::string> callers = {};
  MemoryGate memory_gate = {};  // Lane::Memory only
};

struct Route {
  Method method;
  std::string pattern;  // e.g. /api/users/:id/role
  Handler handler;
  RouteOptions options;
  std::vector<std::string> segments;  // pattern split on '/'
};

class Router {
 public:
  void add(Method method, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Route* route = nullptr;  // null: no route for this method
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // non-empty when the path exists for other methods (405)
  };
  Match match(Method method, std::string_view path) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace emporium::http
