// The HTTP/1.1 server (Boost.Beast coroutines, hidden in core/src/http): keep-alive, limits
// (8 KiB headers, 1 MiB body, idle and read timeouts) and graceful drain on SIGTERM/SIGINT
// (DESIGN §8). Each request runs `handler` on a bounded worker pool.
#pragma once

#include "emporium/http/message.hpp"

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
};

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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emporium::http
