// The external HTTP client (Stripe, Twilio) against a recording test provider on 127.0.0.1: what
// goes on the wire (headers, auth, form bodies), what a 4xx/5xx/timeout/refusal becomes, when a
// request is sent again, the breaker, and the counters on /metrics.
#include "emporium/http/external_client.hpp"

#include "emporium/app/app.hpp"
#include "upstream_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace emporium {
namespace {

using http::ExternalClient;
using http::ExternalOptions;
using http::ExternalRequest;
using http::Method;
using http::ProviderError;
using http::Request;
using http::Response;
using namespace std::chrono_literals;

// Quick retries and a breaker that stays closed unless a test wants it.
ExternalOptions fast_options() {
  ExternalOptions o;
  o.auth = http::BearerAuth{"sk_test_123"};
  o.default_headers = {{"Stripe-Version", "2024-06-20"}};
  o.timeout_ms = 2000;
  o.retry_backoff_ms = 1;
  o.max_retry_backoff_ms = 5;
  o.max_attempts = 3;
  o.failures_to_open = 100;
  return o;
}

ExternalRequest payment_intent(std::string idempotency_key = {}) {
  auto r = ExternalRequest::form(Method::Post, "/v1/payment_intents",
                                 Json{{"amount", 2000}, {"currency", "usd"}});
  r.idempotency_key = std::move(idempotency_key);
  return r;
}

// The ProviderError `call` throws; fails the test when it returns instead.
ProviderError provider_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const ProviderError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ProviderError";
  return ProviderError(bad_gateway("none"), "none", false, 0);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string header_of(const Request& r, std::string_view name) {
  auto v = r.header(name);
  return v ? std::string(*v) : std::string("<absent>");
}

TEST(FormEncodeTest, NestedObjectsAndIndexedArraysAsStripeReadsThem) {
  const Json fields = {
      {"amount", 2000},
      {"currency", "usd"},
      {"capture", true},
      {"metadata", {{"orderId", "abc"}, {"note", "a b&c=d"}}},
      {"payment_method_types", {"card"}},
      {"items", {{{"price", "price_1"}, {"quantity", 2}}, {{"price", "price_2"}, {"quantity", 1}}}},
      {"a", {{"b", {{"c", "x"}}}}},
  };
  EXPECT_EQ(http::form_encode(fields),
            "a[b][c]=x&amount=2000&capture=true&currency=usd"
            "&items[0][price]=price_1&items[0][quantity]=2"
            "&items[1][price]=price_2&items[1][quantity]=1"
            "&metadata[note]=a%20b%26c%3Dd&metadata[orderId]=abc&payment_method_types[0]=card");
}

TEST(FormEncodeTest, ScalarsNullsEmptyContainersAndEscapes) {
  const Json fields = {
      {"f", 12.5},
      {"g", 2.0},
      {"n", nullptr},
      {"e", Json::object()},
      {"arr", Json::array()},
      {"neg", -3},
      {"off", false},
      {"u", "\xC3\xA9/+[x]~-._"},
      {"metadata", {{"my key[1]", "v"}}},
  };
  EXPECT_EQ(http::form_encode(fields),
            "f=12.5&g=2&metadata[my%20key%5B1%5D]=v&n=&neg=-3&off=false"
            "&u=%C3%A9%2F%2B%5Bx%5D~-._");
  EXPECT_EQ(http::form_encode(Json::object()), "");
  EXPECT_THROW(http::form_encode(Json::array({1, 2})), std::invalid_argument);
  EXPECT_THROW(http::form_encode(Json("x")), std::invalid_argument);
}

TEST(ExternalClientTest, SendsProviderHeadersAndNeverOurInternalOnes) {
  Upstream stripe("stripe");
  ExternalClient client("stripe", stripe.url() + "/", fast_options());
  auto request = payment_intent("order-1:attempt-1");
  request.headers = {{"X-Internal-Token", "internal-token-0123456789"},
                     {"x-request-id", "req-42"},
                     {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                     {"tracestate", "a=b"},
                     {"X-Internal-Caller", "payment"},
                     {"X-Forwarded-For", "10.0.0.1"},
                     {"X-Real-IP", "10.0.0.1"},
                     {"Cookie", "session=abc"},
                     {"Stripe-Account", "acct_1"}};
  ASSERT_EQ(client.call(request).status, 200);

  const auto seen = stripe.requests();
  ASSERT_EQ(seen.size(), 1u);
  const Request& r = seen[0];
  for (std::string_view banned : {"X-Internal-Token", "X-Request-ID", "traceparent", "tracestate",
                                  "X-Internal-Caller", "X-Forwarded-For", "X-Real-IP", "Cookie"}) {
    EXPECT_FALSE(r.header(banned).has_value()) << banned;  // case-insensitive
  }
  EXPECT_EQ(r.method_text, "POST");
  EXPECT_EQ(r.target, "/v1/payment_intents");
  EXPECT_EQ(header_of(r, "Authorization"), "Bearer sk_test_123");
  EXPECT_EQ(header_of(r, "Idempotency-Key"), "order-1:attempt-1");
  EXPECT_EQ(header_of(r, "Stripe-Version"), "2024-06-20");
  EXPECT_EQ(header_of(r, "Stripe-Account"), "acct_1");
  EXPECT_EQ(header_of(r, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header_of(r, "Accept"), "application/json");
  EXPECT_EQ(header_of(r, "User-Agent"), "emporium");
  EXPECT_EQ(r.body, "amount=2000&currency=usd");
}

TEST(ExternalClientTest, BasicAuthJsonBodiesAndPlainGets) {
  Upstream twilio("twilio");
  ExternalOptions o = fast_options();
  o.auth = http::BasicAuth{"AC123", "s3cr=t"};
  o.default_headers.clear();
  ExternalClient client("twilio", twilio.url(), o);

  ASSERT_EQ(client.call(ExternalRequest::json(Method::Post, "/v1/x", Json{{"k", "v"}})).status,
            200);
  ASSERT_EQ(client.call(ExternalRequest::get("/v1/x?limit=3")).status, 200);

  const auto seen = twilio.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(header_of(seen[0], "Authorization"), "Basic QUMxMjM6czNjcj10");
  EXPECT_EQ(header_of(seen[0], "Content-Type"), "application/json");
  EXPECT_EQ(seen[0].body, R"({"k":"v"})");
  EXPECT_EQ(header_of(seen[0], "Idempotency-Key"), "<absent>");
  EXPECT_EQ(seen[1].method_text, "GET");
  EXPECT_EQ(seen[1].target, "/v1/x?limit=3");
  EXPECT_EQ(header_of(seen[1], "Content-Type"), "<absent>");
  EXPECT_EQ(header_of(seen[1], "Authorization"), "Basic QUMxMjM6czNjcj10");
}

TEST(ExternalClientTest, CardDeclined402ReachesTheCallerWithItsBody) {
  const Json decline = {{"error",
                         {{"type", "card_error"},
                          {"code", "card_declined"},
                          {"decline_code", "insufficient_funds"},
                          {"payment_intent", {{"id", "pi_1"}}}}}};
  Upstream stripe("stripe", [&](Request&) { return Response::json(402, decline); });
  ExternalClient client("stripe", stripe.url(), fast_options());
  auto res = client.call(payment_intent("k1"));
  EXPECT_EQ(res.status, 402);
  EXPECT_EQ(res.json(), decline);
  EXPECT_EQ(res.upstream, "stripe");
  EXPECT_EQ(stripe.hits(), 1);  // a 4xx is an answer: never retried
  EXPECT_EQ(client.stats().failures, 0u);
}

TEST(ExternalClientTest, ServerErrorIs502AndAPostWithoutKeyIsSentOnce) {
  Upstream stripe("stripe", [](Request&) { return Response::json(500, Json::object()); });
  ExternalClient client("stripe", stripe.url(), fast_options());
  auto e = provider_error([&] { client.call(payment_intent()); });
  EXPECT_EQ(e.status(), 502);
  EXPECT_EQ(e.code(), "bad_gateway");
  EXPECT_EQ(e.provider(), "stripe");
  EXPECT_TRUE(e.outcome_unknown());  // Stripe may have acted on it
  EXPECT_EQ(e.provider_status(), 500);
  std::this_thread::sleep_for(100ms);  // time for a (wrong) second attempt to arrive
  EXPECT_EQ(stripe.hits(), 1);
  EXPECT_EQ(client.stats().retries, 0u);
  EXPECT_EQ(client.stats().unavailable, 1u);
}

TEST(ExternalClientTest, ServerErrorWithAnIdempotencyKeyIsRetriedWithTheSameKey) {
  std::atomic<int> calls{0};
  Upstream stripe("stripe", [&](Request&) {
    return ++calls <= 2 ? Response::json(503, Json::object())
                        : Response::json(200, Json{{"id", "pi_1"}});
  });
  ExternalClient client("stripe", stripe.url(), fast_options());  // max_attempts 3
  auto res = client.call(payment_intent("order-7"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.json()["id"], "pi_1");
  const auto seen = stripe.requests();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& r : seen) EXPECT_EQ(header_of(r, "Idempotency-Key"), "order-7");
  EXPECT_EQ(client.stats().retries, 2u);

  // Failing every time: bounded by max_attempts.
  calls = -100;
  auto e = provider_error([&] { client.call(payment_intent("order-8")); });
  EXPECT_EQ(e.status(), 502);
  EXPECT_EQ(stripe.hits(), 3 + 3);
}

TEST(ExternalClientTest, GetIsRetriedButAPostWithoutKeyIsNot) {
  std::atomic<bool> failing{true};
  Upstream stripe("stripe", [&](Request&) {
    return failing.exchange(false) ? Response::json(500, Json::object())
                                   : Response::json(200, Json::object());
  });
  ExternalClient client("stripe", stripe.url(), fast_options());
  EXPECT_EQ(client.call(ExternalRequest::get("/v1/payment_intents/pi_1")).status, 200);
  EXPECT_EQ(stripe.hits(), 2);
  failing = true;
  EXPECT_EQ(provider_error([&] { client.call(payment_intent()); }).status(), 502);
  EXPECT_EQ(stripe.hits(), 3);
}

TEST(ExternalClientTest, TimeoutIs504AndThePostIsNotSentAgain) {
  Upstream stripe("stripe", [](Request&) {
    std::this_thread::sleep_for(1500ms);
    return Response::json(200, Json::object());
  });
  ExternalClient client("stripe", stripe.url(), fast_options());
  auto request = payment_intent();
  request.timeout_ms = 200;
  const auto t0 = std::chrono::steady_clock::now();
  auto e = provider_error([&] { client.call(request); });
  EXPECT_LT(seconds_since(t0), 1.2);  // the deadline ended the call, not the provider
  EXPECT_EQ(e.status(), 504);
  EXPECT_EQ(e.code(), "gateway_timeout");
  EXPECT_TRUE(e.outcome_unknown());
  EXPECT_EQ(e.provider_status(), 0);
  EXPECT_EQ(client.stats().timeouts, 1u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(stripe.hits(), 1);
}

TEST(ExternalClientTest, RefusedConnectionIs502AndNeverReachedTheProvider) {
  Upstream stripe("stripe");
  ExternalClient client("stripe", stripe.url(), fast_options());
  stripe.kill();
  auto e = provider_error([&] { client.call(payment_intent()); });
  EXPECT_EQ(e.status(), 502);
  EXPECT_FALSE(e.outcome_unknown());  // safe to record as failed and to try again
  // A refused connection proves the request never left, so even a POST without key is retried.
  EXPECT_EQ(client.stats().attempts, 3u);
}

TEST(ExternalClientTest, BreakerOpensAfterFailuresThenAProbeClosesIt) {
  std::atomic<bool> failing{true};
  Upstream stripe("stripe", [&](Request&) {
    return failing ? Response::json(502, Json::object()) : Response::json(200, Json::object());
  });
  ExternalOptions o = fast_options();
  o.failures_to_open = 2;
  o.max_attempts = 1;
  o.circuit_open_ms = 300;
  ExternalClient client("stripe", stripe.url(), o);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(provider_error([&] { client.call(payment_intent("k")); }).status(), 502);
  }
  EXPECT_TRUE(client.breaker_open());
  EXPECT_EQ(client.stats().breaker_opens, 1u);

  // While open the provider is not contacted: 503 with Retry-After, nothing sent.
  auto e = provider_error([&] { client.call(payment_intent("k")); });
  EXPECT_EQ(e.status(), 503);
  EXPECT_FALSE(e.outcome_unknown());
  ASSERT_EQ(e.headers().size(), 1u);
  EXPECT_EQ(e.headers()[0].first, "Retry-After");
  EXPECT_EQ(stripe.hits(), 2);

  failing = false;
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(client.call(payment_intent("k")).status, 200);  // the probe
  EXPECT_FALSE(client.breaker_open());
  EXPECT_EQ(stripe.hits(), 3);
}

TEST(ExternalClientTest, BothPoliciesStatsAreOnMetrics) {
  Upstream stripe("stripe", [](Request&) { return Response::json(500, Json::object()); });
  Upstream product("product");
  ServiceConfig config;
  config.service = "payment-service";
  config.access_log = false;
  App app(config);
  http::ClientOptions internal_options;
  internal_options.internal_token = "internal-token-0123456789";
  http::HttpClient products("product-service", {product.url()}, internal_options);
  app.metrics().add_counter_source(products.counter_source());
  {
    // The counters outlive the client: a client replaced at run time keeps its totals.
    ExternalClient client("stripe", stripe.url(), fast_options());
    app.metrics().add_counter_source(client.counter_source());
    EXPECT_THROW(client.call(payment_intent()), ProviderError);
  }
  http::ClientRequest catalog_read;
  catalog_read.path = "/x";
  ASSERT_EQ(products.call(catalog_read).status, 200);

  Request scrape;
  scrape.method = Method::Get;
  scrape.method_text = "GET";
  scrape.target = scrape.path = "/metrics";
  scrape.peer_address = "127.0.0.1";
  const auto res = app.handle(scrape);
  ASSERT_EQ(res.status, 200);
  const std::string& text = res.body;
  for (const char* line : {
           R"(http_client_calls_total{policy="external",upstream="stripe"} 1)",
           R"(http_client_failures_total{policy="external",upstream="stripe"} 1)",
           R"(http_client_unavailable_total{policy="external",upstream="stripe"} 1)",
           R"(http_client_retries_total{policy="external",upstream="stripe"} 0)",
           R"(http_client_calls_total{policy="internal",upstream="product-service"} 1)",
           R"(http_client_attempts_total{policy="internal",upstream="product-service"} 1)",
           R"(http_client_breaker_opens_total{policy="internal",upstream="product-service"} 0)",
           R"(http_client_timeouts_total{policy="internal",upstream="product-service"} 0)",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // One family per metric, however many clients report it.
  const std::string type_line = "# TYPE http_client_calls_total counter";
  const auto first = text.find(type_line);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find(type_line, first + 1), std::string::npos);
}

TEST(ExternalClientTest, CallerBugsAreRejectedBeforeSending) {
  Upstream stripe("stripe");
  ExternalClient client("stripe", stripe.url(), fast_options());
  auto with_auth = payment_intent();
  with_auth.headers = {{"Authorization", "Bearer someone-else"}};
  EXPECT_THROW(client.call(with_auth), std::invalid_argument);
  auto untyped = ExternalRequest::get("/v1/x");
  untyped.method = Method::Post;
  untyped.body = "a=1";
  EXPECT_THROW(client.call(untyped), std::invalid_argument);
  EXPECT_THROW(client.call(ExternalRequest::get("v1/no-slash")), std::invalid_argument);
  auto forged = ExternalRequest::get("/v1/x");
  forged.idempotency_key = "k\r\nX-Internal-Token: forged";
  EXPECT_THROW(client.call(forged), std::invalid_argument);
  EXPECT_EQ(stripe.hits(), 0);

  ExternalOptions leaky = fast_options();
  leaky.default_headers = {{"X-Internal-Token", "secret"}};
  EXPECT_THROW(ExternalClient("stripe", stripe.url(), leaky), std::invalid_argument);
  EXPECT_THROW(ExternalClient("stripe", "ftp://127.0.0.1:1", fast_options()),
               std::invalid_argument);
}

TEST(ProviderFromEnvTest, ReadsTheBaseUrlAndTimeout) {
  auto c = http::provider_from_env(
      Env::from_map({{"STRIPE_API_BASE", "http://127.0.0.1:12111/"}, {"STRIPE_TIMEOUT_MS", "900"}}),
      "STRIPE", "https://api.stripe.com");
  EXPECT_EQ(c.base_url, "http://127.0.0.1:12111");
  EXPECT_EQ(c.options.timeout_ms, 900);
  c = http::provider_from_env(Env::from_map({}), "STRIPE", "https://api.stripe.com");
  EXPECT_EQ(c.base_url, "https://api.stripe.com");
  EXPECT_EQ(c.options.timeout_ms, 10000);
  try {
    http::provider_from_env(Env::from_map({{"TWILIO_API_BASE", "api.twilio.com"}}), "TWILIO",
                            "https://api.twilio.com");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("TWILIO_API_BASE"), std::string::npos);
  }
}

}  // namespace
}  // namespace emporium
