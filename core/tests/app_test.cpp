// The shared request pipeline (App::handle) and the server over real sockets.
#include "emporium/app/app.hpp"

#include "emporium/testing/http.hpp"
#include "emporium/testing/sockets.hpp"
#include "emporium/util/crypto.hpp"
#include "emporium/util/ids.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <thread>

namespace emporium {
namespace {

using http::Access;
using http::Method;
using http::Request;
using http::Response;

std::string make_private_pem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

ServiceConfig test_config() {
  ServiceConfig c;
  c.service = "test-service";
  c.internal_token = "internal-token-0123456789";
  c.access_log = false;
  c.port = 0;
  c.host = "127.0.0.1";
  return c;
}

class AppTest : public ::testing::Test {
 protected:
  AppTest() : signer_(make_private_pem(), "", "emporium", 900), app_(test_config()) {
    app_.verifier().add_public_key(signer_.public_pem());
    app_.route(Method::Get, "/api/things/:id", [](Request& r) {
      return Response::json(200, Json{{"id", std::string(r.param("id"))}});
    });
    app_.route(Method::Post, "/api/things",
               [](Request& r) { return Response::json(201, r.json()); }, {Access::User, true});
    app_.route(Method::Get, "/api/admin",
               [](Request&) { return Response::json(200, Json::object()); },
               {Access::Admin, false});
    app_.route(Method::Get, "/api/internal",
               [](Request& r) {
                 return Response::json(200, Json{{"internal", r.user().internal}});
               },
               {Access::Internal, false, http::Lane::Worker, {"order"}});
    app_.route(Method::Get, "/api/boom",
               [](Request&) -> Response { throw std::runtime_error("secret SQL text"); });
  }

  Response call(Method m, std::string path, std::string body = {},
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request r;
    r.method = m;
    r.method_text = std::string(http::method_name(m));
    r.path = path;
    r.target = path;
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.peer_address = "127.0.0.1";
    return app_.handle(r);
  }

  std::string bearer(const std::string& role) {
    return "Bearer " + signer_.sign(new_object_id(), role);
  }

  auth::JwtSigner signer_;
  App app_;
};

TEST_F(AppTest, UnknownRouteIsProblemJsonWithRequestId) {
  auto res = call(Method::Get, "/nope");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/problem+json; charset=utf-8");
  auto body = parse_json(res.body);
  EXPECT_EQ(body["status"], 404);
  EXPECT_EQ(body["msg"], body["detail"]);
  EXPECT_EQ(body["requestId"], std::string(*res.header("X-Request-ID")));
  EXPECT_TRUE(body["errors"].is_array());
}

TEST_F(AppTest, RequestIdIsEchoedOnlyWhenWellFormed) {
  auto res = call(Method::Get, "/api/things/1", {}, {{"X-Request-ID", "abc-123:x.y_z"}});
  EXPECT_EQ(*res.header("X-Request-ID"), "abc-123:x.y_z");
  res = call(Method::Get, "/api/things/1", {}, {{"X-Request-ID", "bad id\"<script>"}});
  EXPECT_NE(*res.header("X-Request-ID"), "bad id\"<script>");
  EXPECT_TRUE(is_object_id(*res.header("X-Request-ID")));
}

TEST_F(AppTest, WrongMethodIs405WithAllow) {
  auto res = call(Method::Delete, "/api/things/1");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(*res.header("Allow"), "GET, HEAD");
}

TEST_F(AppTest, JsonChecksComeBeforeAuth) {
  // No token and a broken body: the body problem is reported first (DESIGN §4 check order).
  EXPECT_EQ(call(Method::Post, "/api/things", "{", {{"Content-Type", "application/json"}}).status,
            400);
  EXPECT_EQ(call(Method::Post, "/api/things", "a=b", {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(call(Method::Post, "/api/things", "[1]", {{"Content-Type", "application/json"}}).status,
            400);
  auto res = call(Method::Post, "/api/things", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(*res.header("WWW-Authenticate"), "Bearer");
}

// A route whose handler reads no parameter still refuses a malformed query (it was ignored).
TEST_F(AppTest, MalformedQueryIs400OnEveryRoute) {
  auto bad = testing::make_request(Method::Get, "/api/things/1?a=1&%zz");
  auto res = app_.handle(bad);
  EXPECT_EQ(res.status, 400) << res.body;
  auto ok = testing::make_request(Method::Get, "/api/things/1?a=1&b=%C3%A9");
  EXPECT_EQ(app_.handle(ok).status, 200);
}

TEST_F(AppTest, AuthDistinguishes401From403) {
  auto json =
      std::pair<std::string, std::string>{"Content-Type", "application/json; charset=utf-8"};
  EXPECT_EQ(
      call(Method::Post, "/api/things", R"({"a":1})", {json, {"Authorization", bearer("customer")}})
          .status,
      201);
  EXPECT_EQ(
      call(Method::Post, "/api/things", R"({"a":1})", {json, {"Authorization", "Bearer x.y.z"}})
          .status,
      401);
  EXPECT_EQ(call(Method::Get, "/api/admin", {}, {{"Authorization", bearer("customer")}}).status,
            403);
  EXPECT_EQ(call(Method::Get, "/api/admin", {}, {{"Authorization", bearer("admin")}}).status, 200);
  EXPECT_EQ(call(Method::Get, "/api/admin").status, 401);
  EXPECT_EQ(call(Method::Get, "/api/internal", {}, {{"Authorization", bearer("admin")}}).status,
            403);
  EXPECT_EQ(call(Method::Get, "/api/internal", {}, {{"X-Internal-Token", "wrong-token-0123456789"}})
                .status,
            401);
  EXPECT_EQ(call(Method::Get, "/api/internal").status, 401);
  // The shared INTERNAL_TOKEN itself names no caller: it is not a credential.
  EXPECT_EQ(
      call(Method::Get, "/api/internal", {}, {{"X-Internal-Token", "internal-token-0123456789"}})
          .status,
      401);
  auto res = call(Method::Get, "/api/internal", {},
                  testing::internal_call("internal-token-0123456789", "order"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(parse_json(res.body)["internal"], true);
}

TEST_F(AppTest, InternalRoutesAcceptOnlyTheCallersTheyList) {
  // A valid token of another service is 403, naming the caller; its own is 200.
  for (std::string other : {"payment", "notification", "cart", "user", "product"}) {
    auto res = call(Method::Get, "/api/internal", {},
                    testing::internal_call("internal-token-0123456789", other));
    EXPECT_EQ(res.status, 403) << other;
    EXPECT_NE(res.body.find(other + "-service"), std::string::npos) << res.body;
  }
  EXPECT_EQ(call(Method::Get, "/api/internal", {},
                 testing::internal_call("internal-token-0123456789", "order"))
                .status,
            200);
}

TEST(AppCallers, ExplicitCallerTokensWinAndRoutesNeedTheirCallersTokens) {
  ServiceConfig c = test_config();
  c.internal_token.clear();
  c.caller_tokens = {{"order", "order-token-0123456789"}};
  c.caller = "order";
  App app(c);
  app.route(Method::Get, "/api/reserve",
            [](Request& r) {
              return Response::json(200, Json{{"caller", r.user().caller}});
            },
            {Access::Internal, false, http::Lane::Worker, {"order"}});
  // payment has no token in this service: a route that lists it cannot start.
  EXPECT_THROW(app.route(Method::Get, "/api/pay", [](Request&) { return Response::no_content(); },
                         {Access::Internal, false, http::Lane::Worker, {"payment"}}),
               ConfigError);
  // An internal route must list callers; a public one must not.
  EXPECT_THROW(app.route(Method::Get, "/api/x", [](Request&) { return Response::no_content(); },
                         {Access::Internal, false}),
               std::logic_error);
  EXPECT_THROW(app.route(Method::Get, "/api/y", [](Request&) { return Response::no_content(); },
                         {Access::Public, false, http::Lane::Worker, {"order"}}),
               std::logic_error);
  auto ok =
      testing::send(app, testing::make_request(Method::Get, "/api/reserve",
                                               {{"X-Internal-Token", "order-token-0123456789"}}));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body["caller"], "order");
  // The token a shared INTERNAL_TOKEN would derive is not accepted when none is set.
  auto derived = testing::send(
      app, testing::make_request(Method::Get, "/api/reserve",
                                 testing::internal_call("internal-token-0123456789", "order")));
  EXPECT_EQ(derived.status, 401);
  EXPECT_EQ(c.own_internal_token(), "order-token-0123456789");
  c.caller = "payment";
  EXPECT_THROW(c.own_internal_token(), ConfigError);
}

TEST(AppCallers, AReceiverWithOnlyItsCallersHashesCannotPresentTheirTokens) {
  // Production: product-service knows the SHA-256 of order's token, not the token. It accepts
  // order's calls but holds nothing it could send as order (the review's impersonation finding).
  const std::string order_token = "order-token-0123456789abcdef";
  auto config = ServiceConfig::from_env(
      Env::from_map({{"INTERNAL_TOKEN_PRODUCT", "product-token-0123456789abcdef"},
                     {"INTERNAL_TOKEN_SHA256_ORDER", sha256_hex(order_token)}}),
      "product-service", 5001);
  const auto tokens = config.caller_token_set();
  EXPECT_TRUE(tokens.can_verify("order"));
  EXPECT_FALSE(tokens.token_of("order")) << "the receiver must not hold order's token";
  EXPECT_EQ(tokens.identify(order_token), "order");
  EXPECT_FALSE(tokens.identify(sha256_hex(order_token))) << "the hash itself is no credential";
  EXPECT_EQ(config.own_internal_token(), "product-token-0123456789abcdef");
  config.access_log = false;
  App app(config);
  app.route(Method::Get, "/api/reserve",
            [](Request& r) {
              return Response::json(200, Json{{"caller", r.user().caller}});
            },
            {Access::Internal, false, http::Lane::Worker, {"order"}});
  auto ok = testing::send(
      app, testing::make_request(Method::Get, "/api/reserve", {{"X-Internal-Token", order_token}}));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body["caller"], "order");
  // product's own token is not order's.
  auto own = testing::send(
      app, testing::make_request(Method::Get, "/api/reserve",
                                 {{"X-Internal-Token", config.own_internal_token()}}));
  EXPECT_EQ(own.status, 403);
  EXPECT_THROW(ServiceConfig::from_env(Env::from_map({{"INTERNAL_TOKEN_SHA256_ORDER", "abc"}}),
                                       "product-service", 5001),
               ConfigError);
}

TEST(AppCallers, CallerTokensFromTheEnvironment) {
  EXPECT_EQ(auth::caller_name_of("shopping-cart-service"), "cart");
  EXPECT_EQ(auth::caller_name_of("order-service"), "order");
  auto config = ServiceConfig::from_env(
      Env::from_map({{"INTERNAL_TOKEN", "shared-token-0123456789"},
                     {"INTERNAL_TOKEN_PAYMENT", "payment-token-0123456789"}}),
      "order-service", 5003);
  EXPECT_EQ(config.caller, "order");
  const auto tokens = config.caller_token_set();
  EXPECT_EQ(tokens.token_of("payment"), "payment-token-0123456789");
  EXPECT_EQ(tokens.token_of("order"),
            auth::derive_caller_token("shared-token-0123456789", "order"));
  EXPECT_EQ(tokens.identify(auth::derive_caller_token("shared-token-0123456789", "cart")), "cart");
  EXPECT_EQ(tokens.identify("payment-token-0123456789"), "payment");
  EXPECT_FALSE(tokens.identify("shared-token-0123456789"));
  EXPECT_FALSE(tokens.identify(""));
  EXPECT_FALSE(tokens.token_of("stranger"));
  EXPECT_THROW(ServiceConfig::from_env(Env::from_map({{"INTERNAL_TOKEN_ORDER", "short"}}),
                                       "order-service", 5003),
               ConfigError);
  EXPECT_THROW(
      ServiceConfig::from_env(Env::from_map({{"INTERNAL_TOKEN_ORDER", "same-token-0123456789"},
                                             {"INTERNAL_TOKEN_CART", "same-token-0123456789"}}),
                              "order-service", 5003),
      ConfigError);
  // Without any token, a service cannot present one.
  auto none = ServiceConfig::from_env(Env::from_map({}), "shopping-cart-service", 5002);
  EXPECT_THROW(none.own_internal_token(), ConfigError);
}

TEST_F(AppTest, UnexpectedExceptionIs500WithoutLeakingItsText) {
  auto res = call(Method::Get, "/api/boom");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("secret"), std::string::npos);
}

TEST_F(AppTest, ExtraProblemMembersNeverReplaceStandardOnes) {
  app_.route(Method::Get, "/api/conflict", [](Request&) -> Response {
    HttpError error = conflict("Order is already paid", "already_paid");
    error.with_extra("status", "Delivered");  // an order's status, not the HTTP one
    error.with_extra("code", "other");
    error.with_extra("shortLines", Json::array());
    throw error;
  });
  const auto res = call(Method::Get, "/api/conflict");
  ASSERT_EQ(res.status, 409);
  const Json doc = parse_json(res.body);
  EXPECT_EQ(doc["status"], 409);
  EXPECT_EQ(doc["code"], "already_paid");
  EXPECT_EQ(doc["shortLines"], Json::array());
}

TEST_F(AppTest, MetricsCountByRouteTemplate) {
  call(Method::Get, "/api/things/abc");
  call(Method::Get, "/api/things/def");
  auto res = call(Method::Get, "/metrics");
  EXPECT_NE(
      res.body.find(R"(http_requests_total{method="GET",route="/api/things/:id",status="200"} 2)"),
      std::string::npos)
      << res.body;
  EXPECT_EQ(res.body.find("/api/things/abc"), std::string::npos);
}

// --- the server over sockets ---

using testing::connect_to;
using testing::roundtrip;

class ServerTest : public ::testing::Test {
 protected:
  void start(http::ServerOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<http::Server>(
        options,
        [this](Request& r) {
          if (r.path == "/slow") {
            in_flight_ = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
          }
          Response res = Response::json(200, Json{{"path", r.path}, {"bytes", r.body.size()}});
          return res;
        },
        [](Request&, int status, const std::string& detail) {
          return Response::json(status, Json{{"detail", detail}});
        });
    server_->listen();
    port_ = server_->port();
    thread_ = std::thread([this] { exit_code_ = server_->run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }

  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<bool> in_flight_{false};
  std::atomic<int> exit_code_{-1};
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start({});
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    auto res = roundtrip(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res;
    EXPECT_NE(res.find("\"path\":\"/a\""), std::string::npos);
  }
  ::close(fd);
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  http::ServerOptions o;
  o.body_limit = 1024;
  start(o);
  int fd = connect_to(port_);
  std::string body(2048, 'x');
  auto res = roundtrip(fd, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + body);
  EXPECT_NE(res.find("HTTP/1.1 413"), std::string::npos) << res;
  ::close(fd);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  start({});
  int fd = connect_to(port_);
  auto res = roundtrip(fd, "GARBAGE\r\n\r\n");
  EXPECT_NE(res.find(" 400 "), std::string::npos) << res;
  ::close(fd);
}

TEST_F(ServerTest, DrainCompletesInFlightRequestWithConnectionClose) {
  http::ServerOptions o;
  o.drain_idle_ms = 200;
  start(o);
  int fd = connect_to(port_);
  auto fut = std::async(std::launch::async,
                        [&] { return roundtrip(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); });
  while (!in_flight_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_->stop();
  auto res = fut.get();
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res;
  EXPECT_NE(res.find("Connection: close"), std::string::npos) << res;
  thread_.join();
  EXPECT_EQ(exit_code_, 0);
  EXPECT_LT(connect_to(port_), 0);  // no longer accepting
  ::close(fd);
}

TEST_F(ServerTest, SignalsDuringAndAfterTheDrainDoNotKillTheProcess) {
  http::ServerOptions o;
  o.drain_idle_ms = 100;
  start(o);
  int fd = connect_to(port_);
  auto fut = std::async(std::launch::async,
                        [&] { return roundtrip(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); });
  while (!in_flight_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(::getpid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(::getpid(), SIGTERM);
  auto res = fut.get();
  EXPECT_NE(res.find("HTTP/1.1 200"), std::string::npos) << res;
  thread_.join();
  EXPECT_EQ(exit_code_, 0);
  // After run() returned the process is on its way out; a late SIGTERM must not end it (the
  // default action would end this test binary here).
  ::kill(::getpid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::close(fd);
}

TEST_F(ServerTest, DrainKeepsIdleConnectionsForAWhileThenCloses) {
  http::ServerOptions o;
  o.drain_idle_ms = 300;
  start(o);
  int fd = connect_to(port_);
  EXPECT_NE(roundtrip(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n").find(" 200 "), std::string::npos);
  server_->stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // A request arriving on the idle connection during the drain is still served, then closed.
  auto res = roundtrip(fd, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(res.find(" 200 "), std::string::npos) << res;
  EXPECT_NE(res.find("Connection: close"), std::string::npos) << res;
  thread_.join();
  EXPECT_EQ(exit_code_, 0);
  ::close(fd);
}

}  // namespace
}  // namespace emporium
