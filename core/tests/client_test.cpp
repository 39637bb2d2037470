// The internal HTTP client against real upstreams: the core's own http::Server instances on
// 127.0.0.1, killed, restarted, slowed down or made to fail by the tests.
#include "emporium/http/client.hpp"

#include "upstream_server.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

namespace emporium {
namespace {

using http::ClientOptions;
using http::ClientRequest;
using http::HttpClient;
using http::Method;
using http::Request;
using http::Response;
using namespace std::chrono_literals;

constexpr const char* kToken = "internal-token-0123456789";

ClientOptions options(int timeout_ms = 2000, int circuit_open_ms = 5000) {
  ClientOptions o;
  o.timeout_ms = timeout_ms;
  o.circuit_open_ms = circuit_open_ms;
  o.internal_token = kToken;
  return o;
}

ClientRequest get(std::string path) {
  ClientRequest r;
  r.method = Method::Get;
  r.path = std::move(path);
  return r;
}

ClientRequest post(std::string path, std::string body = "{}") {
  ClientRequest r;
  r.method = Method::Post;
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

// The status a call ends with: the upstream's, or that of the HttpError it threw.
int status_of(const HttpClient& client, const ClientRequest& request) {
  try {
    return client.call(request).status;
  } catch (const HttpError& e) {
    return e.status();
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Response sleep_then_answer(std::chrono::milliseconds delay) {
  std::this_thread::sleep_for(delay);
  return Response::json(200, Json{{"slow", true}});
}

TEST(HttpClientTest, RoundRobinReachesBothInstances) {
  Upstream a("a"), b("b");
  HttpClient client("product-service", {a.url(), b.url()}, options());
  std::map<std::string, int> seen;
  for (int i = 0; i < 6; ++i) {
    auto res = client.call(get("/api/products/x"));
    ASSERT_EQ(res.status, 200);
    seen[res.json()["id"].get<std::string>()]++;
  }
  EXPECT_EQ(seen["a"], 3);
  EXPECT_EQ(seen["b"], 3);
  EXPECT_EQ(client.stats().calls, 6u);
  EXPECT_EQ(client.stats().failures, 0u);
}

TEST(HttpClientTest, KilledInstanceIsRoutedAroundForAnyMethod) {
  Upstream a("a"), b("b");
  HttpClient client("product-service", {a.url(), b.url()}, options());
  ASSERT_EQ(client.call(get("/warm")).status, 200);  // a keep-alive connection to a now exists
  ASSERT_EQ(client.call(get("/warm")).status, 200);
  a.kill();
  for (int i = 0; i < 6; ++i) {
    auto res = client.call(i % 2 ? get("/x") : post("/x"));
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.json()["id"], "b");
  }
  // A refused connection proves the POST never left, so it may go to the other instance.
  EXPECT_EQ(b.hits(), 1 + 6);
}

TEST(HttpClientTest, BothInstancesDownIs503WithRetryAfter) {
  Upstream a("a"), b("b");
  HttpClient client("product-service", {a.url(), b.url()}, options());
  a.kill();
  b.kill();
  try {
    client.call(get("/api/products/x"));
    FAIL() << "expected service_unavailable";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.detail(), "product-service is unavailable");
    ASSERT_EQ(e.headers().size(), 1u);
    EXPECT_EQ(e.headers()[0].first, "Retry-After");
  }
  EXPECT_EQ(client.stats().unavailable, 1u);
}

TEST(HttpClientTest, SlowInstanceIs503AfterAboutTheTimeout) {
  Upstream a("a", [](Request&) { return sleep_then_answer(1500ms); });
  HttpClient client("product-service", {a.url()}, options(200));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of(client, get("/slow")), 503);
  auto elapsed = seconds_since(t0);
  EXPECT_GE(elapsed, 0.15);
  // Well before the handler answers: the timeout ended the call, not the upstream.
  EXPECT_LT(elapsed, 1.2);
}

TEST(HttpClientTest, GetThatTimedOutIsRetriedOnceOnTheOtherInstance) {
  Upstream a("a", [](Request&) { return sleep_then_answer(800ms); });
  Upstream b("b");
  HttpClient client("product-service", {a.url(), b.url()}, options(200));
  auto res = client.call(get("/x"));  // the first call starts at the first instance
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.json()["id"], "b");
  EXPECT_EQ(a.hits(), 1);
  EXPECT_EQ(b.hits(), 1);
  EXPECT_EQ(client.stats().retries, 1u);
}

TEST(HttpClientTest, GetIsTriedAtMostMaxAttemptsTimes) {
  auto slow = [](Request&) { return sleep_then_answer(600ms); };
  Upstream a("a", slow), b("b", slow), c("c", slow);
  HttpClient client("product-service", {a.url(), b.url(), c.url()}, options(150));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of(client, get("/x")), 503);
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_EQ(a.hits() + b.hits() + c.hits(), 2);
}

TEST(HttpClientTest, PostThatTimedOutAfterBeingSentIsNotRetried) {
  auto slow = [](Request&) { return sleep_then_answer(600ms); };
  Upstream a("a", slow), b("b", slow);
  HttpClient client("order-service", {a.url(), b.url()}, options(200));
  ASSERT_EQ(status_of(client, post("/api/orders", R"({"n":1})")), 503);
  std::this_thread::sleep_for(300ms);  // time for a (wrong) second attempt to reach a handler
  EXPECT_EQ(a.hits() + b.hits(), 1);
  EXPECT_EQ(client.stats().retries, 0u);
}

// A raw HTTP/1.1 upstream that answers GETs with keep-alive and drops the connection on a POST
// without answering, as an instance crashing mid-request would. Counts the POSTs it read.
class DroppingUpstream {
 public:
  DroppingUpstream() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] {
      for (;;) {
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;  // shutdown() in the destructor
        std::lock_guard lock(mutex_);
        connections_.emplace_back([this, fd] { serve(fd); });
      }
    });
  }
  ~DroppingUpstream() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    for (auto& t : connections_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int posts() const { return posts_.load(); }
  std::size_t connections() {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }

 private:
  void serve(int fd) {
    timeval tv{5, 0};  // bounds a test that went wrong
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string in;
    char buf[4096];
    for (;;) {
      auto end = in.find("\r\n\r\n");
      if (end == std::string::npos) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (in.starts_with("POST ")) {
        ++posts_;
        break;  // close without a byte of answer
      }
      in.erase(0, end + 4);  // the test's GETs have no body
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
      if (::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0) break;
    }
    ::close(fd);
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::atomic<int> posts_{0};
};

TEST(HttpClientTest, PostWhoseConnectionDiesBeforeAnAnswerIsNotSentAgain) {
  DroppingUpstream upstream;
  HttpClient client("order-service", {upstream.url()}, options());
  // A keep-alive connection exists; libcurl would re-send a request that dies on a reused
  // connection before any answer, so a POST must not travel on it.
  ASSERT_EQ(client.call(get("/warm")).status, 200);
  ASSERT_EQ(client.call(get("/warm")).status, 200);
  EXPECT_EQ(status_of(client, post("/api/orders")), 503);
  EXPECT_EQ(upstream.posts(), 1);
  EXPECT_EQ(client.stats().retries, 0u);
}

TEST(HttpClientTest, KeepAliveReusesTheConnection) {
  DroppingUpstream upstream;
  HttpClient client("product-service", {upstream.url()}, options());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client.call(get("/x")).status, 200);
  EXPECT_EQ(upstream.connections(), 1u);
}

TEST(HttpClientTest, PostMarkedIdempotentIsRetried) {
  Upstream a("a", [](Request&) { return sleep_then_answer(600ms); });
  Upstream b("b");
  HttpClient client("product-service", {a.url(), b.url()}, options(200));
  auto request = post("/reservations", R"({"reservationId":"r1"})");
  request.idempotent = true;
  EXPECT_EQ(client.call(request).json()["id"], "b");
}

TEST(HttpClientTest, NotFoundIsReturnedAsIsWithoutRetryOrBreakerCount) {
  Upstream a("a", [](Request&) {
    return Response::json(404, Json{{"detail", "no such product"}});
  });
  Upstream b("b");
  ClientOptions o = options();
  o.failures_to_open = 1;
  HttpClient client("product-service", {a.url(), b.url()}, o);
  auto res = client.call(get("/api/products/abc"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.json()["detail"], "no such product");
  EXPECT_EQ(a.hits(), 1);
  EXPECT_EQ(b.hits(), 0);
  EXPECT_EQ(client.stats().failures, 0u);
  EXPECT_FALSE(client.breaker_open(0));
}

TEST(HttpClientTest, ServerErrorIsAnAnswerButUnavailableIsRetried) {
  std::atomic<int> status{500};
  Upstream a("a", [&](Request&) { return Response::json(status.load(), Json::object()); });
  Upstream b("b");
  HttpClient client("product-service", {a.url(), b.url()}, options());
  EXPECT_EQ(client.call(get("/x")).status, 500);  // a real answer: the caller decides
  client.call(get("/x"));                         // b: the next call starts at a again
  status = 503;
  auto res = client.call(get("/x"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.json()["id"], "b");
  // A non-idempotent request answered 503 is not sent elsewhere: the caller gets a 503.
  client.call(get("/x"));
  EXPECT_EQ(status_of(client, post("/x")), 503);
  EXPECT_EQ(b.hits(), 3);
}

TEST(HttpClientTest, BreakerSkipsAFailingInstanceThenProbesItAfterTheInterval) {
  std::atomic<bool> failing{true};
  Upstream a("a", [&](Request&) {
    return failing ? Response::json(503, Json::object()) : Response::json(200, Json{{"id", "a"}});
  });
  Upstream b("b");
  ClientOptions o = options(2000, 300);
  o.failures_to_open = 3;
  HttpClient client("product-service", {a.url(), b.url()}, o);

  // Every call succeeds (through b) while a collects the failures that open its breaker.
  for (int i = 0; i < 6; ++i) ASSERT_EQ(client.call(get("/x")).status, 200);
  EXPECT_EQ(a.hits(), 3);
  EXPECT_EQ(client.stats().breaker_opens, 1u);
  EXPECT_TRUE(client.breaker_open(0));

  // While open, a gets no request at all.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(client.call(get("/x")).json()["id"], "b");
  EXPECT_EQ(a.hits(), 3);

  // After the interval one probe reaches a; it succeeds, and a is back in the rotation.
  failing = false;
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(client.breaker_open(0));
  std::map<std::string, int> seen;
  for (int i = 0; i < 4; ++i) seen[client.call(get("/x")).json()["id"].get<std::string>()]++;
  EXPECT_EQ(seen["a"], 2);
  EXPECT_EQ(seen["b"], 2);
  EXPECT_EQ(client.stats().breaker_opens, 1u);
}

TEST(HttpClientTest, BreakerOnAKilledInstanceMakesNoConnectionUntilTheProbe) {
  Upstream a("a"), b("b");
  ClientOptions o = options(2000, 300);
  o.failures_to_open = 2;
  HttpClient client("product-service", {a.url(), b.url()}, o);
  a.kill();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(client.call(get("/x")).json()["id"], "b");
  ASSERT_EQ(client.stats().breaker_opens, 1u);
  const auto failures = client.stats().failures;
  EXPECT_EQ(failures, 2u);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(client.call(get("/x")).json()["id"], "b");
  EXPECT_EQ(client.stats().failures, failures);  // no connection attempt while open

  // A failed probe opens the breaker again for another interval.
  std::this_thread::sleep_for(400ms);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(client.call(get("/x")).json()["id"], "b");
  EXPECT_EQ(client.stats().failures, failures + 1);
  EXPECT_EQ(client.stats().breaker_opens, 2u);

  // Back on the same port: used again after the interval.
  a.restart();
  std::this_thread::sleep_for(400ms);
  std::map<std::string, int> seen;
  for (int i = 0; i < 4; ++i) seen[client.call(get("/x")).json()["id"].get<std::string>()]++;
  EXPECT_EQ(seen["a"], 2);
  EXPECT_EQ(seen["b"], 2);
}

TEST(HttpClientTest, AllBreakersOpenIs503WithoutAnyAttempt) {
  Upstream a("a");
  ClientOptions o = options(2000, 60000);
  o.failures_to_open = 1;
  HttpClient client("product-service", {a.url()}, o);
  a.kill();
  EXPECT_EQ(status_of(client, get("/x")), 503);
  const auto attempts = client.stats().attempts;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of(client, get("/x")), 503);
  EXPECT_LT(seconds_since(t0), 0.5);
  EXPECT_EQ(client.stats().attempts, attempts);
}

TEST(HttpClientTest, InternalHeadersArriveAtTheUpstream) {
  Upstream a("a", [](Request& r) {
    Json seen = Json::object();
    for (const char* name :
         {"X-Internal-Token", "X-Request-ID", "traceparent", "Content-Type", "Accept", "X-Extra"}) {
      if (auto v = r.header(name)) seen[name] = std::string(*v);
    }
    seen["method"] = r.method_text;
    seen["body"] = r.body;
    return Response::json(200, seen);
  });
  HttpClient client("product-service", {a.url()}, options());
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string incoming = "00-" + trace_id + "-00f067aa0ba902b7-01";

  Request from_gateway;
  from_gateway.request_id = "req-42";
  from_gateway.headers = {{"traceparent", incoming}};
  auto request =
      ClientRequest::on_behalf_of(from_gateway, Method::Put, "/api/products/1", R"({"name":"x"})");
  request.headers = {{"X-Extra", "1"}};
  auto seen = client.call(request).json();

  EXPECT_EQ(seen["X-Internal-Token"], kToken);
  EXPECT_EQ(seen["X-Request-ID"], "req-42");
  EXPECT_EQ(seen["Content-Type"], "application/json");
  EXPECT_EQ(seen["Accept"], "application/json");
  EXPECT_EQ(seen["X-Extra"], "1");
  EXPECT_EQ(seen["method"], "PUT");
  EXPECT_EQ(seen["body"], R"({"name":"x"})");
  const std::string traceparent = seen["traceparent"];
  EXPECT_TRUE(std::regex_match(traceparent, std::regex("00-[0-9a-f]{32}-[0-9a-f]{16}-01")));
  EXPECT_EQ(traceparent.substr(3, 32), trace_id);             // same trace
  EXPECT_NE(traceparent.substr(36, 16), "00f067aa0ba902b7");  // our own span

  // No body: no Content-Type; no incoming trace: a new one.
  seen = client.call(get("/x")).json();
  EXPECT_FALSE(seen.contains("Content-Type"));
  EXPECT_FALSE(seen.contains("X-Request-ID"));
  EXPECT_TRUE(http::is_valid_traceparent(seen["traceparent"].get<std::string>()));
  EXPECT_NE(seen["traceparent"].get<std::string>().substr(3, 32), trace_id);
}

TEST(HttpClientTest, MethodsAndBodiesGoThrough) {
  Upstream a("a", [](Request& r) {
    return Response::json(200, Json{{"method", r.method_text}, {"body", r.body}});
  });
  HttpClient client("product-service", {a.url()}, options());
  for (auto method : {Method::Post, Method::Put, Method::Patch, Method::Delete}) {
    ClientRequest r;
    r.method = method;
    r.path = "/x?a=1&b=2";
    r.body = R"({"k":")" + std::string(5000, 'v') + R"("})";  // above libcurl's Expect threshold
    auto res = client.call(r).json();
    EXPECT_EQ(res["method"], std::string(http::method_name(method)));
    EXPECT_EQ(res["body"], r.body);
  }
  ClientRequest del;
  del.method = Method::Delete;
  del.path = "/x";
  EXPECT_EQ(client.call(del).json()["body"], "");
  ClientRequest head;
  head.method = Method::Head;
  head.path = "/x";
  auto res = client.call(head);
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.body.empty());
}

TEST(HttpClientTest, ResponseHeadersAndInvalidJsonIs502) {
  Upstream a("a", [](Request&) {
    Response r;
    r.body = "not json";
    r.set_header("ETag", "\"abc-1\"");
    return r;
  });
  HttpClient client("product-service", {a.url()}, options());
  auto res = client.call(get("/x"));
  EXPECT_EQ(res.header("etag"), "\"abc-1\"");
  EXPECT_EQ(res.instance, a.url());
  try {
    res.json();
    FAIL() << "expected bad_gateway";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 502);
  }
}

TEST(HttpClientTest, CallerBugsAreRejectedBeforeSending) {
  Upstream a("a");
  HttpClient client("product-service", {a.url()}, options());
  EXPECT_THROW(client.call(get("no-slash")), std::invalid_argument);
  EXPECT_THROW(client.call(get("/a b")), std::invalid_argument);
  auto r = get("/x");
  r.headers = {{"X-Evil", "a\r\nX-Internal-Token: forged"}};
  EXPECT_THROW(client.call(r), std::invalid_argument);
  EXPECT_EQ(a.hits(), 0);
  EXPECT_THROW(HttpClient("x", {}, options()), std::invalid_argument);
  EXPECT_THROW(HttpClient("x", {"ftp://127.0.0.1:1"}, options()), std::invalid_argument);
}

TEST(HttpClientTest, ConcurrentCallersShareThePools) {
  Upstream a("a"), b("b");
  ClientOptions o = options();
  o.pool_size_per_instance = 4;
  HttpClient client("product-service", {a.url(), b.url()}, o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (client.call(get("/x")).status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(a.hits() + b.hits(), 200);
  EXPECT_EQ(a.hits(), 100);
}

TEST(TraceparentTest, KeepsAValidTraceIdAndMakesANewSpan) {
  const std::string in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto out = http::make_traceparent(in);
  EXPECT_TRUE(http::is_valid_traceparent(out));
  EXPECT_EQ(out.substr(0, 36), in.substr(0, 36));
  EXPECT_NE(out.substr(36, 16), in.substr(36, 16));
  EXPECT_TRUE(out.ends_with("-01"));
  // A later version with extra fields still carries its trace id.
  EXPECT_TRUE(
      http::is_valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"));
}

TEST(TraceparentTest, InvalidIncomingStartsANewTrace) {
  for (std::string bad : {"", "garbage", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                          "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(http::is_valid_traceparent(bad)) << bad;
    auto out = http::make_traceparent(bad);
    EXPECT_TRUE(http::is_valid_traceparent(out)) << out;
    EXPECT_EQ(bad.find(out.substr(3, 32)), std::string::npos);
  }
  EXPECT_NE(http::make_traceparent(std::nullopt).substr(3, 32),
            http::make_traceparent(std::nullopt).substr(3, 32));
}

TEST(UpstreamFromEnvTest, ReadsTheInstanceListTimeoutAndBreakerInterval) {
  auto env =
      Env::from_map({{"PRODUCT_SERVICE_URLS", " http://127.0.0.1:5001/ , http://127.0.0.1:5101"},
                     {"PRODUCT_SERVICE_TIMEOUT_MS", "750"},
                     {"CIRCUIT_OPEN_MS", "1200"}});
  auto c = http::upstream_from_env(env, "PRODUCT_SERVICE", kToken);
  EXPECT_EQ(c.base_urls,
            (std::vector<std::string>{"http://127.0.0.1:5001", "http://127.0.0.1:5101"}));
  EXPECT_EQ(c.options.timeout_ms, 750);
  EXPECT_EQ(c.options.circuit_open_ms, 1200);
  EXPECT_EQ(c.options.internal_token, kToken);
}

TEST(UpstreamFromEnvTest, AcceptsTheSeedsSingleUriAndDefaults) {
  auto c = http::upstream_from_env(
      Env::from_map({{"PRODUCT_SERVICE_URI", "http://product-service:5001"}}), "PRODUCT_SERVICE",
      kToken);
  EXPECT_EQ(c.base_urls, std::vector<std::string>{"http://product-service:5001"});
  EXPECT_EQ(c.options.timeout_ms, 2000);
  EXPECT_EQ(c.options.circuit_open_ms, 5000);
  c = http::upstream_from_env(Env::from_map({}), "PRODUCT_SERVICE", kToken,
                              "http://127.0.0.1:5001");
  EXPECT_EQ(c.base_urls, std::vector<std::string>{"http://127.0.0.1:5001"});
}

TEST(UpstreamFromEnvTest, InvalidValuesNameTheVariable) {
  auto message = [](std::map<std::string, std::string> vars) -> std::string {
    try {
      http::upstream_from_env(Env::from_map(std::move(vars)), "PRODUCT_SERVICE", kToken);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(
      message({{"PRODUCT_SERVICE_URLS", "http://a:1,ftp://b:2"}}).find("PRODUCT_SERVICE_URLS"),
      std::string::npos);
  EXPECT_NE(message({{"PRODUCT_SERVICE_URLS", "127.0.0.1:5001"}}).find("PRODUCT_SERVICE_URLS"),
            std::string::npos);
  EXPECT_NE(message({{"PRODUCT_SERVICE_URI", "http://a:1,http://b:2"}}).find("PRODUCT_SERVICE_URI"),
            std::string::npos);
  EXPECT_NE(message({{"PRODUCT_SERVICE_URI", "http://a:1/?x=1"}}).find("PRODUCT_SERVICE_URI"),
            std::string::npos);
  EXPECT_NE(message({}).find("PRODUCT_SERVICE_URLS"), std::string::npos);
  EXPECT_NE(message({{"PRODUCT_SERVICE_URLS", "http://a:1"}, {"PRODUCT_SERVICE_TIMEOUT_MS", "0"}})
                .find("PRODUCT_SERVICE_TIMEOUT_MS"),
            std::string::npos);
  EXPECT_NE(message({{"PRODUCT_SERVICE_URLS", "http://a:1"}, {"CIRCUIT_OPEN_MS", "soon"}})
                .find("CIRCUIT_OPEN_MS"),
            std::string::npos);
}

}  // namespace
}  // namespace emporium
