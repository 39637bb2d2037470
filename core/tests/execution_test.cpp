// The execution model over real sockets (DESIGN §4): lanes, admission control, body memory,
// connection cap, read deadlines, HEAD, readiness and a drain that ends despite a hung handler.
// Each test bounds a hang generously; none asserts on speed.
#include "emporium/app/app.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <thread>

namespace emporium {
namespace {

using http::Lane;
using http::Method;
using http::Request;
using http::Response;
using Clock = std::chrono::steady_clock;

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// Reads one response (headers, then Content-Length bytes unless `head`), or what came before
// the peer closed or 10 s passed.
std::string read_response(int fd, bool head = false) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = out.find("Content-Length: ");
      std::size_t len = cl == std::string::npos || head ? 0 : std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + len) return out;
    }
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::string roundtrip(std::uint16_t port, const std::string& request, bool head = false) {
  int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  send_all(fd, request);
  auto res = read_response(fd, head);
  ::close(fd);
  return res;
}

std::string get(std::uint16_t port, const std::string& path) {
  return roundtrip(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

// True when the peer closed `fd` within `timeout` (recv returns 0 or an error).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One App serving on a free port from a background thread. Routes: /block (worker lane, waits
// for release()), /slow-block (slow lane, same), /things/:id (worker), /echo (POST, worker).
class Served {
 public:
  explicit Served(ServiceConfig config) : app_(with_defaults(std::move(config))) {
    app_.route(Method::Get, "/block", [this](Request&) {
      blocked_.fetch_add(1);
      release_.wait();
      return Response::json(200, Json{{"blocked", true}});
    });
    app_.route(Method::Get, "/slow-block",
               [this](Request&) {
                 blocked_.fetch_add(1);
                 release_.wait();
                 return Response::json(200, Json{{"slow", true}});
               },
               {.lane = Lane::Slow});
    app_.route(Method::Get, "/things/:id", [](Request& r) {
      return Response::json(200, Json{{"id", std::string(r.param("id"))}});
    });
    app_.route(Method::Post, "/echo", [](Request& r) {
      return Response::json(200, Json{{"bytes", r.body.size()}});
    });
  }
  ~Served() { stop(); }

  App& app() { return app_; }

  void start() {
    // App::run listens on the configured port; find a free one first.
    thread_ = std::thread([this] { exit_code_ = app_.run(); });
    for (int i = 0; i < 500 && port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::uint16_t port() const { return app_.config().port; }

  void wait_blocked(int n) {
    auto start = Clock::now();
    while (blocked_.load() < n && seconds_since(start) < 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(blocked_.load(), n);
  }
  void release() { release_.count_down(); }
  void stop() {
    if (!thread_.joinable()) return;
    release();
    ::kill(::getpid(), SIGTERM);
    thread_.join();
  }

 private:
  static ServiceConfig with_defaults(ServiceConfig c) {
    c.service = "exec-test";
    c.internal_token = "internal-token-0123456789";
    c.access_log = false;
    c.host = "127.0.0.1";
    c.drain_idle_ms = 100;
    c.shutdown_grace_ms = 2000;
    if (c.port == 0) c.port = free_port();
    return c;
  }
  static std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  App app_;
  std::latch release_{1};
  std::atomic<int> blocked_{0};
  std::thread thread_;
  std::atomic<int> exit_code_{-1};
};

void wait_listening(std::uint16_t port) {
  auto start = Clock::now();
  while (seconds_since(start) < 10) {
    int fd = connect_to(port);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "server did not listen";
}

// /healthz, /readyz and /metrics answer on the I/O thread: every worker blocked does not delay
// them (before: they queued behind the handlers, a liveness probe timed out).
TEST(ExecutionModel, ProbesNeverQueueBehindBlockedWorkers) {
  ServiceConfig c;
  c.worker_threads = 2;
  Served s(c);
  s.start();
  wait_listening(s.port());
  std::vector<std::future<std::string>> blocked;
  for (int i = 0; i < 2; ++i) {
    blocked.push_back(std::async(std::launch::async, [&] { return get(s.port(), "/block"); }));
  }
  s.wait_blocked(2);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto start = Clock::now();
    auto res = get(s.port(), path);
    EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << path << ": " << res;
    EXPECT_LT(seconds_since(start), 2.0) << path;
  }
  s.release();
  for (auto& f : blocked) EXPECT_NE(f.get().find("HTTP/1.1 200"), std::string::npos);
}

// A full worker lane answers 503 with Retry-After at once instead of queueing without bound.
TEST(ExecutionModel, FullWorkerQueueIs503WithRetryAfterAtOnce) {
  ServiceConfig c;
  c.worker_threads = 1;
  c.worker_queue_limit = 1;
  Served s(c);
  s.start();
  wait_listening(s.port());
  auto first = std::async(std::launch::async, [&] { return get(s.port(), "/block"); });
  s.wait_blocked(1);
  auto queued = std::async(std::launch::async, [&] { return get(s.port(), "/things/q"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it take the queue slot
  auto start = Clock::now();
  auto res = get(s.port(), "/things/x");
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_NE(res.find("HTTP/1.1 503"), std::string::npos) << res;
  EXPECT_NE(res.find("Retry-After: 1"), std::string::npos) << res;
  EXPECT_NE(res.find("application/problem+json"), std::string::npos) << res;
  s.release();
  EXPECT_NE(first.get().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(queued.get().find("HTTP/1.1 200"), std::string::npos);
}

// Expensive work (argon2 routes) runs in the slow lane: with that lane saturated, worker-lane
// reads still answer, and the slow lane's own excess gets 503.
TEST(ExecutionModel, SlowLaneCannotOccupyTheWorkers) {
  ServiceConfig c;
  c.worker_threads = 1;
  c.slow_threads = 1;
  c.slow_queue_limit = 0;
  Served s(c);
  s.start();
  wait_listening(s.port());
  auto slow = std::async(std::launch::async, [&] { return get(s.port(), "/slow-block"); });
  s.wait_blocked(1);
  auto start = Clock::now();
  EXPECT_NE(get(s.port(), "/things/a").find("HTTP/1.1 200"), std::string::npos);
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_NE(get(s.port(), "/slow-block").find("HTTP/1.1 503"), std::string::npos);
  s.release();
  EXPECT_NE(slow.get().find("HTTP/1.1 200"), std::string::npos);
}

// Large bodies draw on a memory budget when their header announces them: past it, 503 at once
// (300 stalled 1 MiB bodies once took RSS from 60 to 355 MiB).
TEST(ExecutionModel, LargeBodiesBeyondTheMemoryBudgetAre503) {
  ServiceConfig c;
  c.body_memory_limit_mb = 1;
  Served s(c);
  s.start();
  wait_listening(s.port());
  const std::size_t size = 700 * 1024;  // two of these do not fit in 1 MiB
  int stalled = connect_to(s.port());
  send_all(stalled,
           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
               std::to_string(size) + "\r\n\r\n" + std::string(1000, ' '));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = Clock::now();
  auto res = roundtrip(s.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                     std::to_string(size) + "\r\n\r\n" + std::string(size, ' '));
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_NE(res.find("HTTP/1.1 503"), std::string::npos) << res.substr(0, 300);
  EXPECT_NE(res.find("Retry-After"), std::string::npos) << res.substr(0, 300);
  ::close(stalled);  // its share returns to the budget
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  res = roundtrip(s.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                std::to_string(size) + "\r\n\r\n" + std::string(size, ' '));
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res.substr(0, 300);
  // Small bodies never touch the budget.
  EXPECT_NE(roundtrip(s.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                .find("HTTP/1.1 200"),
            std::string::npos);
}

TEST(ExecutionModel, ConnectionsBeyondTheCapAreClosed) {
  ServiceConfig c;
  c.max_connections = 2;
  Served s(c);
  s.start();
  wait_listening(s.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the probe connection is gone
  int a = connect_to(s.port());
  int b = connect_to(s.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int extra = connect_to(s.port());
  EXPECT_TRUE(closed_within(extra, std::chrono::milliseconds(3000)));
  send_all(a, "GET /things/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(read_response(a).find("HTTP/1.1 200"), std::string::npos);
  ::close(a);
  ::close(b);
  ::close(extra);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(get(s.port(), "/things/2").find("HTTP/1.1 200"), std::string::npos);
}

// A request that started arriving must be complete within the read timeout; the idle timeout
// only applies before its first byte (the first byte used to buy the whole 60 s idle timeout).
TEST(ExecutionModel, ReadTimeoutCountsFromTheFirstByte) {
  http::ServerOptions o;
  o.host = "127.0.0.1";
  o.read_timeout_ms = 300;
  o.idle_timeout_ms = 60000;
  http::Server server(
      o, [](Request&) { return Response::json(200, Json::object()); },
      [](Request&, int status, const std::string&) { return Response::json(status, Json{}); });
  server.listen();
  std::thread t([&] { server.run(); });
  int fd = connect_to(server.port());
  send_all(fd, "G");
  auto start = Clock::now();
  EXPECT_TRUE(closed_within(fd, std::chrono::milliseconds(5000)));
  EXPECT_LT(seconds_since(start), 5.0);
  ::close(fd);
  server.stop();
  t.join();
}

TEST(ExecutionModel, HeadAnswersLikeGetWithoutABody) {
  Served s(ServiceConfig{});
  s.start();
  wait_listening(s.port());
  auto get_res = get(s.port(), "/things/abc");
  auto res = roundtrip(s.port(), "HEAD /things/abc HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res;
  auto cl = get_res.find("Content-Length: ");
  ASSERT_NE(cl, std::string::npos);
  auto line = get_res.substr(cl, get_res.find("\r\n", cl) - cl);
  EXPECT_NE(res.find(line), std::string::npos) << res;  // same Content-Length as GET
  EXPECT_EQ(res.substr(res.find("\r\n\r\n") + 4), "");  // and no body
  auto head_post = roundtrip(s.port(), "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_NE(head_post.find("HTTP/1.1 405"), std::string::npos) << head_post;
}

TEST(ExecutionModel, OversizedHeadersAre431WithTheirOwnCode) {
  Served s(ServiceConfig{});
  s.start();
  wait_listening(s.port());
  auto res =
      roundtrip(s.port(), "GET /things/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') +
                              "\r\n\r\n");
  EXPECT_NE(res.find("HTTP/1.1 431"), std::string::npos) << res.substr(0, 200);
  EXPECT_NE(res.find("\"code\":\"request_header_fields_too_large\""), std::string::npos) << res;
}

// /readyz is a registry of checks: one failing check makes it 503 with Retry-After and names it.
TEST(ExecutionModel, ReadinessFollowsItsChecks) {
  ServiceConfig c;
  c.ready_check_interval_ms = 50;
  Served s(c);
  std::atomic<bool> healthy{true};
  s.app().readiness_check("dependency", [&] { return healthy.load(); });
  s.start();
  wait_listening(s.port());
  auto res = get(s.port(), "/readyz");
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res;
  EXPECT_NE(res.find("\"dependency\":\"ok\""), std::string::npos) << res;
  healthy = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  res = get(s.port(), "/readyz");
  EXPECT_NE(res.find("HTTP/1.1 503"), std::string::npos) << res;
  EXPECT_NE(res.find("Retry-After"), std::string::npos) << res;
  EXPECT_NE(res.find("\"dependency\":\"failing\""), std::string::npos) << res;
  healthy = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_NE(get(s.port(), "/readyz").find("HTTP/1.1 200"), std::string::npos);
}

// A handler that ignores every deadline cannot hold the drain past SHUTDOWN_GRACE_MS.
TEST(ExecutionModel, DrainEndsWithinTheGraceEvenWithAHungHandler) {
  http::ServerOptions o;
  o.host = "127.0.0.1";
  o.drain_idle_ms = 50;
  o.shutdown_grace_ms = 300;
  std::latch release{1};
  std::atomic<bool> entered{false};
  auto server = std::make_unique<http::Server>(
      o,
      [&](Request&) {
        entered = true;
        release.wait();
        return Response::json(200, Json::object());
      },
      [](Request&, int status, const std::string&) { return Response::json(status, Json{}); });
  server->listen();
  auto port = server->port();
  std::promise<void> returned;
  std::thread t([&] {
    server->run();
    returned.set_value();
  });
  int fd = connect_to(port);
  send_all(fd, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto start = Clock::now();
  server->stop();
  EXPECT_EQ(returned.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_LT(seconds_since(start), 10.0);
  EXPECT_TRUE(server->abandoned());
  release.count_down();  // let the pool join so the test can destroy the server
  t.join();
  ::close(fd);
}

}  // namespace
}  // namespace emporium
