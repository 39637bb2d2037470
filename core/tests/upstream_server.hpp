// A test upstream for the outbound clients' tests: the core's own http::Server on 127.0.0.1, on
// its own thread, that counts and records the requests its handler saw.
#pragma once

#include "emporium/http/server.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace emporium {

// One upstream instance: an http::Server on its own thread that counts the requests its handler
// saw. kill() stops it like a dead process (its port refuses); restart() binds the same port.
// requests() returns every request it received, headers and body included.
class Upstream {
 public:
  explicit Upstream(std::string id, http::Handler handler = {})
      : id_(std::move(id)), handler_(std::move(handler)) {
    start(0);
  }
  ~Upstream() { kill(); }

  void kill() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  void restart() { start(port_); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int hits() const { return hits_.load(); }
  std::vector<http::Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void start(std::uint16_t port) {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.drain_idle_ms = 0;  // a killed instance closes its keep-alive connections at once
    o.shutdown_grace_ms = 5000;
    server_ = std::make_unique<http::Server>(
        o,
        [this](http::Request& r) {
          ++hits_;
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(r);
          }
          if (handler_) return handler_(r);
          return http::Response::json(200, Json{{"id", id_}, {"path", r.path}});
        },
        [](http::Request&, int status, const std::string& detail) {
          return http::Response::json(status, Json{{"detail", detail}});
        });
    server_->listen();
    port_ = server_->port();
    thread_ = std::thread([this] { server_->run(); });
  }

  std::string id_;
  http::Handler handler_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<int> hits_{0};
  mutable std::mutex mutex_;
  std::vector<http::Request> requests_;
};

}  // namespace emporium
