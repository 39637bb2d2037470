// The HTTP/1.1 server (Boost.Beast coroutines, hidden in core/src/http): keep-alive, limits
// (8 KiB headers, 1 MiB body, idle and read timeouts) and graceful drain on SIGTERM/SIGINT
// (DESIGN §8). Execution model (DESIGN §4): each request runs `handler` in the lane `lane_of`
// picks — the I/O thread for answers from memory, the bounded worker pool, or the bounded slow
// pool (argon2, large bodies); a full lane answers 503 with Retry-After at once, never queues
// without bound.
#pragma once

#include "emporium/http/message.hpp"
#include "emporium/http/router.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace emporium::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;  // 0: any free port (see Server::port())
  int io_threads = 1;
  int worker_threads = 8;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 1024 * 1024;
  int read_timeout_ms = 30000;    // whole request once its first byte arrived
  int idle_timeout_ms = 60000;    // keep-alive connection with no request
  int drain_idle_ms = 6000;       // after SIGTERM, how long idle keep-alive connections stay open
  int shutdown_grace_ms = 20000;  // hard limit for the drain
  int worker_queue_limit = 128;   // requests waiting for a worker (beyond those running): then 503
  int slow_threads = 4;           // the slow lane's own pool
  int slow_queue_limit = 64;      // requests waiting for a slow-lane thread: then 503
  int max_connections = 4096;     // open connections; the next one is closed at once
  // Bytes of large request bodies (over kLargeBody) held at once, from the moment their header
  // announces them until their handler returns; a body that does not fit is refused with 503.
  std::size_t body_memory_limit = 64 * 1024 * 1024;
  // The lane of a request whose header has been read (null: every request on the worker pool).
  // Requests with a body over kLargeBody never run on the worker lane: they take the slow one.
  std::function<Lane(Request&)> lane_of;
};

inline constexpr std::size_t kLargeBody = 64 * 1024;

// Answers the server's own errors (request too large, malformed HTTP) in the service's format.
using ErrorResponder = std::function<Response(Request&, int status, const std::string& detail)>;

class Server {
 public:
  Server(ServerOptions options, Handler handler, ErrorResponder on_error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket (throws std::runtime_error naming the address when it cannot).
  void listen();
  std::uint16_t port() const;
  // Serves until SIGTERM/SIGINT (or stop()) and the drain finish. Returns 0 on a clean drain.
  int run(const std::function<void()>& on_ready = {});
  // Starts the drain from any thread.
  void stop();
  // True once the drain started (readiness turns false).
  bool draining() const;
  // True when run() returned because the grace period ended while handlers were still running
  // (a hung call): they cannot be joined, so the caller must end the process (std::_Exit)
  // instead of destroying the server.
  bool abandoned() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emporium::http
