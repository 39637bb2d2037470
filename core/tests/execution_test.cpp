// The execution model over real sockets (DESIGN §4): lanes, admission control, body memory,
// connection cap, read deadlines, HEAD, readiness and a drain that ends despite a hung handler.
// Each test bounds a hang generously; none asserts on speed.
#include "emporium/app/app.hpp"
#include "emporium/testing/sockets.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <thread>
#include <vector>

namespace emporium {
namespace {

using http::Lane;
using http::Method;
using http::Request;
using http::Response;
using Clock = std::chrono::steady_clock;
using testing::closed_within;
using testing::connect_to;
using testing::read_response;
using testing::request_on;
using testing::send_all;

std::string get(std::uint16_t port, const std::string& path) {
  return request_on(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
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
    if (c.port == 0) c.port = testing::free_port();
    return c;
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
  // Counted under its route template, not as "unmatched".
  auto metrics = get(s.port(), "/metrics");
  EXPECT_NE(metrics.find("route=\"/things/:id\",status=\"503\""), std::string::npos) << metrics;
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
  auto res = request_on(s.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                      std::to_string(size) + "\r\n\r\n" + std::string(size, ' '));
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_NE(res.find("HTTP/1.1 503"), std::string::npos) << res.substr(0, 300);
  EXPECT_NE(res.find("Retry-After"), std::string::npos) << res.substr(0, 300);
  ::close(stalled);  // its share returns to the budget
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  res = request_on(s.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                 std::to_string(size) + "\r\n\r\n" + std::string(size, ' '));
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res.substr(0, 300);
  // Small bodies never touch the budget.
  EXPECT_NE(request_on(s.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
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
  auto res = request_on(s.port(), "HEAD /things/abc HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res;
  auto cl = get_res.find("Content-Length: ");
  ASSERT_NE(cl, std::string::npos);
  auto line = get_res.substr(cl, get_res.find("\r\n", cl) - cl);
  EXPECT_NE(res.find(line), std::string::npos) << res;  // same Content-Length as GET
  EXPECT_EQ(res.substr(res.find("\r\n\r\n") + 4), "");  // and no body
  auto head_post = request_on(s.port(), "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_NE(head_post.find("HTTP/1.1 405"), std::string::npos) << head_post;
}

TEST(ExecutionModel, OversizedHeadersAre431WithTheirOwnCode) {
  Served s(ServiceConfig{});
  s.start();
  wait_listening(s.port());
  auto res =
      request_on(s.port(), "GET /things/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') +
                               "\r\n\r\n");
  EXPECT_NE(res.find("HTTP/1.1 431"), std::string::npos) << res.substr(0, 200);
  EXPECT_NE(res.find("\"code\":\"request_header_fields_too_large\""), std::string::npos) << res;
}

// /readyz is a registry of checks: one failing check makes it 503 with Retry-After and names it.
// Lane::Memory: the handler runs on the I/O thread once its gate let it (at once, or later from
// another thread) and answers there even with every worker blocked; a handler that would block
// leaves the I/O thread and runs again, whole and once counted, on a worker; a closed gate sends
// the request straight to a worker.
TEST(ExecutionModel, MemoryLaneAnswersOnTheIoThreadOrMovesToAWorker) {
  ServiceConfig c;
  c.worker_threads = 2;
  Served s(c);
  std::atomic<int> attempts{0};
  http::RouteOptions memory{.lane = Lane::Memory};
  memory.memory_gate = [](Request& r, std::function<void(bool)> ready) {
    const std::string id(r.param("id"));
    if (id == "late") {
      std::thread([ready = std::move(ready)] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ready(true);
      }).detach();
    } else {
      ready(id != "closed");
    }
  };
  s.app().route(
      Method::Get, "/mem/:id",
      [&attempts](Request& r) {
        attempts.fetch_add(1);
        if (r.param("id") == "miss" && r.io_attempt) r.leave_io_thread();
        return Response::json(200, Json{{"io", r.io_attempt}});
      },
      memory);
  s.start();
  wait_listening(s.port());
  auto io_of = [&](const std::string& id) {
    const auto res = get(s.port(), "/mem/" + id);
    EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << id << ": " << res;
    return res.find(R"({"io":true})") != std::string::npos;
  };
  EXPECT_TRUE(io_of("hit"));
  EXPECT_TRUE(io_of("late"));
  EXPECT_FALSE(io_of("closed"));
  attempts = 0;
  EXPECT_FALSE(io_of("miss"));
  EXPECT_EQ(attempts.load(), 2) << "tried on the I/O thread, then run again on a worker";
  const auto metrics = get(s.port(), "/metrics");
  std::string counted;
  for (std::size_t at = 0; (at = metrics.find("http_requests_total{", at)) != std::string::npos;) {
    const auto end = metrics.find('\n', at);
    const auto line = metrics.substr(at, end - at);
    if (line.find(R"(route="/mem/:id")") != std::string::npos &&
        line.find(R"(status="200")") != std::string::npos) {
      counted = line.substr(line.rfind(' ') + 1);
    }
    at = end;
  }
  EXPECT_EQ(counted, "4") << "each request counted once\n" << metrics;

  // Every worker blocked: a request memory answers does not wait for them.
  std::vector<std::future<std::string>> blocked;
  for (int i = 0; i < 2; ++i) {
    blocked.push_back(std::async(std::launch::async, [&] { return get(s.port(), "/block"); }));
  }
  s.wait_blocked(2);
  const auto start = Clock::now();
  EXPECT_TRUE(io_of("hit"));
  EXPECT_LT(seconds_since(start), 2.0);
  s.release();
  for (auto& f : blocked) EXPECT_NE(f.get().find("HTTP/1.1 200"), std::string::npos);
}

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

// A check that stops answering (a frozen database) makes /readyz 503 after about a second, not
// only when the check's own deadline ends (a frozen PostgreSQL left an idle instance ready).
TEST(ExecutionModel, ACheckThatStopsAnsweringIsNotReady) {
  ServiceConfig c;
  c.ready_check_interval_ms = 50;
  Served s(c);
  std::atomic<bool> frozen{false};
  s.app().readiness_check("dependency", [&] {
    for (int i = 0; i < 100 && frozen; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  });
  s.start();
  wait_listening(s.port());
  EXPECT_NE(get(s.port(), "/readyz").find("HTTP/1.1 200"), std::string::npos);
  frozen = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  auto res = get(s.port(), "/readyz");
  EXPECT_NE(res.find("HTTP/1.1 503"), std::string::npos) << res;
  EXPECT_NE(res.find("\"dependency\":\"not answering\""), std::string::npos) << res;
  frozen = false;
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
